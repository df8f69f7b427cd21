// Node.js starts its debugger, listening on 127.0.0.1:9229 without a password, when a process
// gets SIGUSR1 and has no listener for it. Users are told to send a master SIGUSR1 (to make a
// deleted socket again); a debugger opened that way would let any local user run code as the
// session's owner, for as long as the session runs. So every dt process takes SIGUSR1 itself
// from its first statement, and closes a debugger that a signal opened during Node's start-up,
// before any of our code could listen: soon after start-up, not during it (looking costs a
// client 0.5-1 ms before it can attach), and again later for a signal handled late.

import fs from 'node:fs';

/** When to look for a debugger: soon after start-up (once a client has attached), and as late as a signal received during it may open one. */
const CHECKS_MS = [20, 100, 1_000];
/** TCP state LISTEN in /proc/net/tcp. */
const TCP_LISTEN = '0A';

export function refuseDebuggerSignal(): void {
  process.on('SIGUSR1', ignoreUntilHandled);
  for (const delay of CHECKS_MS) setTimeout(closeDebuggerIfOpen, delay).unref();
}

/** Whoever handles SIGUSR1 (the master) removes this placeholder. */
export function ignoreUntilHandled(): void {
  // A SIGUSR1 before the master is ready: its socket was just made; nothing to do.
}

function closeDebuggerIfOpen(): void {
  if (!listensOnTcp()) return;
  // Loaded only when needed: node:inspector costs every process 1.6 MiB.
  void import('node:inspector').then((inspector) => inspector.close());
}

/**
 * True when this process has a listening TCP socket. dt opens none of its own, so one that
 * listens is the debugger's. The process's sockets are looked at first: at start-up a client
 * has none, a master only unix ones, and the TCP tables, slow to read, are not read at all.
 */
function listensOnTcp(): boolean {
  const sockets = new Set<string>();
  try {
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1];
        if (inode !== undefined) sockets.add(inode);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return false; // no /proc
  }
  if (sockets.size === 0) return false;
  // A master always holds unix sockets (its own, its clients'). They are told apart in the
  // short unix table; the TCP tables cost about 4 ms each to read even when nearly empty.
  for (const inode of unixSocketInodes()) sockets.delete(inode);
  if (sockets.size === 0) return false;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'latin1');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === TCP_LISTEN && sockets.has(fields[9] ?? '')) return true;
    }
  }
  return false;
}

/** Inodes of the unix sockets in the process's network namespace (/proc/net/unix). */
function unixSocketInodes(): string[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/net/unix', 'latin1');
  } catch {
    return []; // no such table: every socket is looked up in the TCP tables
  }
  // Num RefCount Protocol Flags Type St Inode [Path]
  return text.split('\n').slice(1).map((line) => line.trim().split(/\s+/)[6] ?? '');
}
