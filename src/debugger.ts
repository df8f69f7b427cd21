// Node.js starts its debugger, listening on 127.0.0.1:9229 without a password, when a process
// gets SIGUSR1 and has no listener for it. Users are told to send a master SIGUSR1 (to make a
// deleted socket again); a debugger opened that way would let any local user run code as the
// session's owner, for as long as the session runs. So every dt process takes SIGUSR1 itself
// from its first statement, and closes a debugger that a signal opened during Node's start-up,
// before any of our code could listen.

import fs from 'node:fs';

/** How long after start-up a signal received during it may take to open the debugger. */
const LATE_CHECKS_MS = [100, 1_000];
/** TCP state LISTEN in /proc/net/tcp. */
const TCP_LISTEN = '0A';

export function refuseDebuggerSignal(): void {
  process.on('SIGUSR1', ignoreUntilHandled);
  closeDebuggerIfOpen();
  for (const delay of LATE_CHECKS_MS) setTimeout(closeDebuggerIfOpen, delay).unref();
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

/** dt opens no TCP socket of its own: one that listens is the debugger's. */
function listensOnTcp(): boolean {
  const listening = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'latin1');
    } catch {
      continue; // no IPv6, or no /proc
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === TCP_LISTEN && fields[9] !== undefined) listening.add(fields[9]);
    }
  }
  if (listening.size === 0) return false;
  let descriptors: string[];
  try {
    descriptors = fs.readdirSync('/proc/self/fd');
  } catch {
    return false;
  }
  return descriptors.some((fd) => {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      return inode !== undefined && listening.has(inode);
    } catch {
      return false; // closed meanwhile
    }
  });
}
