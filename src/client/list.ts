// -l: the user's sessions, from the registry, each asked for its current state.

import fs from 'node:fs';
import { displayText, fsPath } from '../common/bytes.js';
import { querySession, type SessionInfo } from './control.js';
import { ExitCode } from '../common/errors.js';
import { isExpired, isMasterAlive, readRegistry, removeRecord, type SessionRecord } from '../common/registry.js';
import { signalName } from '../common/signals.js';

export interface ListedSession {
  socket: string;
  masterPid: number;
  /** attached | detached | exited | failed (the program could not be started) | stale | unreachable */
  state: string;
  command: string[];
  startedAt: string;
  programPid?: number;
  foreground?: string;
  clients?: number;
  cols?: number;
  rows?: number;
  exitCode?: number;
  exitSignal?: string;
  endedAt?: string;
  note?: string;
}

export async function listSessions(json: boolean): Promise<number> {
  const registry = readRegistry();
  const sessions = await Promise.all(registry.records.map(describeRecord));
  const shown = sessions.filter((session): session is ListedSession => session !== null)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  // JSON keeps bytes that are not UTF-8 as \udcXX escapes (see bytes.ts); the table shows them as \xHH.
  process.stdout.write(json ? `${JSON.stringify(shown, null, 2)}\n` : formatTable(shown));
  if (registry.skipped > 0) {
    const files = registry.skipped === 1 ? 'file that is not a session record' : 'files that are not session records';
    process.stderr.write(`dt: ${registry.dir}: skipped ${registry.skipped} ${files}\n`);
  }
  return ExitCode.Ok;
}

async function describeRecord(record: SessionRecord): Promise<ListedSession | null> {
  const base = { socket: record.socket, masterPid: record.masterPid, command: record.command, startedAt: record.startedAt };
  if (record.exit) {
    if (isExpired(record)) {
      removeRecord(record.masterPid);
      return null;
    }
    if (record.startError !== undefined) return { ...base, state: 'failed', endedAt: record.exit.endedAt, note: record.startError };
    return {
      ...base,
      state: 'exited',
      endedAt: record.exit.endedAt,
      ...(record.exit.signal > 0 ? { exitSignal: signalName(record.exit.signal) } : { exitCode: record.exit.code }),
    };
  }
  if (!isMasterAlive(record.masterPid)) {
    // The master died without cleaning up (SIGKILL, reboot). Never shown as live; forgotten now.
    removeRecord(record.masterPid);
    return isSocketFile(record.socket) ? { ...base, state: 'stale', note: 'master gone; dt -A or -c replaces it' } : null;
  }
  let info: SessionInfo;
  try {
    info = await querySession(record.socket);
  } catch {
    const note = isSocketFile(record.socket)
      ? 'not answering'
      : `socket missing; kill -USR1 ${record.masterPid} recreates it`;
    return { ...base, state: 'unreachable', note };
  }
  return {
    ...base,
    state: info.clients > 0 ? 'attached' : 'detached',
    programPid: info.programPid,
    ...(info.foreground === undefined ? {} : { foreground: info.foreground }),
    clients: info.clients,
    cols: info.cols,
    rows: info.rows,
  };
}

function isSocketFile(file: string): boolean {
  try {
    return fs.statSync(fsPath(file)).isSocket();
  } catch {
    return false;
  }
}

function formatTable(sessions: ListedSession[]): string {
  if (sessions.length === 0) return 'No sessions.\n';
  const rows = sessions.map((session) => [
    displayText(session.socket),
    String(session.masterPid),
    displayText(session.command.join(' ')),
    session.foreground ?? '-',
    formatTime(session.startedAt),
    session.clients === undefined ? '-' : String(session.clients),
    session.cols === undefined ? '-' : `${session.cols}x${session.rows}`,
    formatState(session),
  ]);
  const header = ['SOCKET', 'PID', 'COMMAND', 'FOREGROUND', 'STARTED', 'CLIENTS', 'SIZE', 'STATE'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function formatState(session: ListedSession): string {
  if (session.state === 'exited') {
    const how = session.exitSignal ? `killed by ${session.exitSignal}` : `status ${session.exitCode}`;
    return `exited (${how}, ${formatTime(session.endedAt!)})`;
  }
  return session.note ? `${session.state} (${session.note})` : session.state;
}

/** Local time to the minute, as `dt -l` shows times. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
