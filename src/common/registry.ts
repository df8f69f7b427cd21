// A per-user record of sessions, so `dt -l` finds them wherever their sockets are, and the
// exit status of a program that ended while nobody was attached is kept for a while.
// One small JSON file per master in ${XDG_STATE_HOME:-~/.local/state}/dt/sessions: in the
// home directory, so it is the same for every login of the user and for services run with
// a private /tmp.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExitStatus } from './protocol.js';

/** How long the status of a program that ended unwatched is kept. */
export const EXITED_RECORD_KEEP_MS = 7 * 24 * 60 * 60 * 1000;

export interface SessionRecord {
  socket: string;
  masterPid: number;
  command: string[];
  startedAt: string;
  /** set when the program ended while no client was attached */
  exit?: ExitStatus & { endedAt: string };
}

export function registryDir(): string {
  const stateHome = process.env['XDG_STATE_HOME'] || path.join(os.homedir(), '.local', 'state');
  return path.join(stateHome, 'dt', 'sessions');
}

function recordPath(masterPid: number): string {
  return path.join(registryDir(), `${masterPid}.json`);
}

/** Writes (or rewrites) a master's record; silently does nothing where it cannot. */
export function writeRecord(record: SessionRecord): void {
  try {
    fs.mkdirSync(registryDir(), { recursive: true, mode: 0o700 });
    const file = recordPath(record.masterPid);
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(record), { mode: 0o600 });
    fs.renameSync(temporary, file);
  } catch {
    // A read-only or missing home must not stop a session from running; only -l loses it.
  }
}

export function removeRecord(masterPid: number): void {
  try {
    fs.unlinkSync(recordPath(masterPid));
  } catch {
    // ENOENT: already removed (by -l cleaning up, or by an attach that read the status).
  }
}

export function readRecords(): SessionRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(registryDir());
  } catch {
    return []; // no directory yet: no sessions were ever recorded
  }
  const records: SessionRecord[] = [];
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    try {
      records.push(JSON.parse(fs.readFileSync(path.join(registryDir(), name), 'utf8')) as SessionRecord);
    } catch {
      // Half-written or foreign file: not a session we can describe.
    }
  }
  return records;
}

/** The kept exit status of the program that last ran on this socket, if it ended unwatched. */
export function findExitedRecord(socket: string): SessionRecord | undefined {
  return readRecords().find((record) => record.socket === socket && record.exit !== undefined && !isExpired(record));
}

export function isExpired(record: SessionRecord): boolean {
  return record.exit !== undefined && Date.now() - Date.parse(record.exit.endedAt) > EXITED_RECORD_KEEP_MS;
}

/** True when the pid is a running dt master (not a recycled pid after a reboot). */
export function isMasterAlive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('dt master ');
  } catch {
    return false;
  }
}
