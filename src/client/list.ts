// -l: the user's sessions, from the registry, each asked for its current state; and the
// choice of `dt -a` without a socket, among the live ones.

import fs from 'node:fs';
import path from 'node:path';
import { displayText, fsPath } from '../common/bytes.js';
import { querySession, type SessionInfo } from './control.js';
import { DtError, ExitCode, describeSystemError } from '../common/errors.js';
import { isStopped } from '../common/process-stat.js';
import type { ExitStatus } from '../common/protocol.js';
import { compareStarts, isExpired, isMasterAlive, isSessionRunning, readRegistry, removeRecord, type SessionRecord } from '../common/registry.js';
import { exactEnvironmentVariable } from './process-bytes.js';
import { SessionRefusal, isRefusedByNobody } from './session-connection.js';
import { nameOfSocket } from './session-names.js';
import { isListenedOn, isSocketFile } from '../common/socket.js';
import { describeSignalDeath, signalName } from '../common/signals.js';
import { formatTable, type Column } from './table.js';

export interface ListedSession {
  /** set when the socket is in the session directory */
  name?: string;
  socket: string;
  masterPid: number;
  /**
   * attached | detached | ending (the program has ended, and the master finishes the log before
   * it tells anyone; or the master was terminated, terminatedBy) | exited | failed (the program
   * could not be started) | stale | stopped (the master) | unreachable
   */
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
  /** killed by exitSignal, the program dumped core; absent otherwise */
  coreDumped?: true;
  endedAt?: string;
  /** the signal that told the master to end: it hung up the program, and removed its socket */
  terminatedBy?: string;
  note?: string;
  /** -L: the log file; `writing` is absent when the master cannot be asked */
  log?: { file: string; writing?: boolean; notLoggedBytes?: number; reason?: string };
}

export async function listSessions(json: boolean): Promise<number> {
  const registry = readRegistry();
  const sessions = await Promise.all(registry.records.map(describeRecord));
  const shown = sessions.filter((session): session is ListedSession => session !== null)
    .sort(compareStarts);
  // JSON keeps bytes that are not UTF-8 as \udcXX escapes (see bytes.ts); the table shows them
  // as \xHH. In a terminal every row fits its width; piped, the values are whole.
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  process.stdout.write(json ? `${JSON.stringify(shown, null, 2)}\n` : formatSessions(shown, width));
  if (registry.skipped > 0) {
    const files = registry.skipped === 1 ? 'file that is not a session record' : 'files that are not session records';
    process.stderr.write(`dt: ${registry.dir}: skipped ${registry.skipped} ${files}\n`);
  }
  return ExitCode.Ok;
}

async function describeRecord(record: SessionRecord): Promise<ListedSession | null> {
  const name = nameOfSocket(record.socket);
  const base = {
    ...(name === undefined ? {} : { name }), socket: record.socket, masterPid: record.masterPid, command: record.command,
    startedAt: utcTime(record.startedAt),
    ...(record.log === undefined ? {} : { log: { file: record.log } }),
  };
  const notWriting = record.log === undefined ? {} : { log: { file: record.log, writing: false } };
  if (record.exit) {
    if (isExpired(record)) {
      removeRecord(record.masterPid);
      return null;
    }
    if (record.startError !== undefined) return { ...base, state: 'failed', endedAt: utcTime(record.exit.endedAt), note: record.startError };
    return {
      ...base,
      ...notWriting,
      state: 'exited',
      endedAt: utcTime(record.exit.endedAt),
      ...exitOf(record.exit),
    };
  }
  if (!isMasterAlive(record)) {
    // The master died without cleaning up (SIGKILL, reboot). Never shown as live; forgotten now.
    removeRecord(record.masterPid);
    return isSocketFile(record.socket) ? { ...base, ...notWriting, state: 'stale', note: describeStaleSocket(record) } : null;
  }
  if (isStopped(record.masterPid)) {
    // It cannot answer until continued: no use waiting the 5 s a client gives a master.
    return { ...base, state: 'stopped', note: `kill -CONT ${record.masterPid} resumes it` };
  }
  if (record.terminatedBy !== undefined) {
    // The master hung up the program, and ends once it has exited, or a few seconds later;
    // its socket file is gone for good (a service manager's stays). Nothing to recreate.
    return { ...base, state: 'ending', terminatedBy: record.terminatedBy, note: `terminated by ${record.terminatedBy}` };
  }
  let info: SessionInfo;
  try {
    info = await querySession(record.socket);
  } catch (error) {
    // The session may have ended since the registry was read: its status kept, or seen by
    // an attached client (nothing kept), before its socket goes; or its master was
    // terminated, and removed its socket. Not a broken session.
    const ended = endedSince(record);
    if (ended !== undefined) return ended === 'told' ? null : describeRecord(ended);
    return { ...base, state: 'unreachable', note: whyUnreachable(record, error) };
  }
  if (info.masterPid !== record.masterPid) {
    // Its socket file was deleted, and a new session made one at the same path. The master
    // will not take a socket another session serves (socket-keeper.ts), so it waits for that
    // one to end; unless it has been terminated since, or it never makes its socket again.
    const ended = endedSince(record);
    if (ended !== undefined) return ended === 'told' ? null : describeRecord(ended);
    return { ...base, state: 'unreachable', note: `socket taken by master ${info.masterPid}'s session; ${howToRecreate(record, ' once that one ends')}` };
  }
  if (info.state === 'ending') {
    // Its program has been reaped: no pid or foreground process to show, only how it ended
    // (unknown when the master, terminated, gave up waiting for it).
    return {
      ...base,
      state: 'ending',
      ...(info.exit === undefined ? {} : exitOf(info.exit)),
      note: 'finishing the log',
      clients: info.clients,
      cols: info.cols,
      rows: info.rows,
      ...(info.log === undefined ? {} : { log: info.log }),
    };
  }
  return {
    ...base,
    state: info.clients > 0 ? 'attached' : 'detached',
    programPid: info.programPid,
    ...(info.foreground === undefined ? {} : { foreground: info.foreground }),
    clients: info.clients,
    cols: info.cols,
    rows: info.rows,
    ...(info.log === undefined ? {} : { log: info.log }),
  };
}

/**
 * What a connection to the socket of a session whose master died would meet, told without
 * making one. Nobody listens there: the next dt -A or -c replaces the file. A service
 * manager's socket (systemd socket activation) is listened on by the service manager for as
 * long as its socket unit runs, whatever became of the master: a connection there starts the
 * service again, a new dt -N and so a new session (which dt -A attaches, and dt -c refuses).
 */
function describeStaleSocket(record: SessionRecord): string {
  if (record.serviceSocket && isListenedOn(record.socket)) return 'master gone; its service manager still listens: a connection starts a new session';
  return 'master gone; dt -A or -c replaces it';
}

/** A program's status as dt -l gives it: its exit code, or the signal that killed it (and whether it dumped core). */
function exitOf(status: ExitStatus): Pick<ListedSession, 'exitCode' | 'exitSignal' | 'coreDumped'> {
  if (status.signal === 0) return { exitCode: status.code };
  return { exitSignal: signalName(status.signal), ...(status.coreDumped === true && { coreDumped: true }) };
}

/**
 * How a session listed as running has ended since, or is ending: its record now, with the
 * status kept for dt -a or dt -w (or of a master that died), or the signal that terminated
 * its master; `told` when its record is gone, a client having seen the end. Undefined while it
 * runs.
 */
function endedSince(record: SessionRecord): SessionRecord | 'told' | undefined {
  const now = readRegistry().records.find((candidate) => candidate.masterPid === record.masterPid && candidate.startedAt === record.startedAt);
  if (now === undefined) return 'told';
  return now.exit || now.terminatedBy !== undefined || !isMasterAlive(now) ? now : undefined;
}

/**
 * Why a running session cannot be asked at its socket path, and how to get it back. Its master
 * listens on its own socket for as long as it runs, and answers as a dt master: a socket
 * nobody listens on, one that answers otherwise, or a file that is no socket, is not its own
 * but was put there after its socket was deleted; the master recreates its socket on SIGUSR1
 * only once that is removed, and only in a directory it can write to (socket-keeper.ts).
 */
function whyUnreachable(record: SessionRecord, error: unknown): string {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(fsPath(record.socket));
  } catch {
    return `socket missing; ${howToRecreate(record, untilDirectoryWritable(record.socket))}`;
  }
  const onceRemoved = ' once that file is removed';
  if (!stats.isSocket()) return `socket replaced by a file that is not a socket; ${howToRecreate(record, onceRemoved)}`;
  if (isRefusedByNobody(error)) {
    return `socket replaced by a stale one nobody listens on; ${howToRecreate(record, onceRemoved)}`;
  }
  if (error instanceof SessionRefusal && error.answerer === 'other') {
    return `socket taken by something that is not a dt session; ${howToRecreate(record, onceRemoved)}`;
  }
  return 'not answering';
}

/**
 * How the master of a running session makes its socket again, once `condition` holds: on
 * SIGUSR1; never when the socket was its service manager's (systemd socket activation), whose
 * file the master leaves alone.
 */
function howToRecreate(record: SessionRecord, condition: string): string {
  if (record.serviceSocket) return 'its service manager made it, and the master cannot make it again';
  return `kill -USR1 ${record.masterPid} recreates it${condition}`;
}

/**
 * What must come first for a master to make its socket again: its directory, removed with it
 * (a /tmp cleaner that took the whole session directory), made again; or one it may no longer
 * write to, writable again. Empty when the master can make it now.
 */
function untilDirectoryWritable(socket: string): string {
  const directory = path.dirname(socket);
  try {
    fs.accessSync(fsPath(directory), fs.constants.W_OK | fs.constants.X_OK);
    return '';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return ` once ${directory} is made again`;
    return ` once ${directory} can be written to (${describeSystemError(error)})`;
  }
}

const COLUMNS: Column[] = [
  { title: 'SESSION', shorten: 'keep-end' },
  { title: 'PID' },
  { title: 'COMMAND', shorten: 'keep-start' },
  { title: 'FOREGROUND', shorten: 'keep-start' },
  { title: 'STARTED' },
  { title: 'CLIENTS' },
  { title: 'SIZE' },
  { title: 'STATE', shorten: 'keep-start' },
];

function formatSessions(sessions: ListedSession[], width: number | undefined): string {
  if (sessions.length === 0) return 'No sessions.\n';
  const rows = sessions.map((session) => [
    displayText(session.name ?? session.socket),
    String(session.masterPid),
    displayText(session.command.join(' ')),
    session.foreground ?? '-',
    formatTime(session.startedAt),
    session.clients === undefined ? '-' : String(session.clients),
    session.cols === undefined ? '-' : `${session.cols}x${session.rows}`,
    displayText(formatState(session)),
  ]);
  // Sessions with a log (-L) get a column: absent when none has one, so the table stays narrow.
  if (!sessions.some((session) => session.log !== undefined)) return formatTable(COLUMNS, rows, width);
  sessions.forEach((session, index) => rows[index]!.push(displayText(formatLog(session))));
  return formatTable([...COLUMNS, { title: 'LOG', shorten: 'keep-end' }], rows, width);
}

/**
 * The socket of the user's only live session (other than the one this runs in), for `dt -a`
 * without a socket. With none, or several (then listed), says so.
 */
export function findOnlySession(): string {
  const own = exactEnvironmentVariable('DT_SESSION');
  const running = readRegistry().records
    .filter((record) => record.socket !== own && isSessionRunning(record) && isSocketFile(record.socket))
    .sort(compareStarts);
  // One socket may have two running sessions (one whose socket file was deleted and taken
  // over): attaching goes to whichever serves it, so it is one choice.
  const live = running.filter((record, index) => running.findIndex((other) => other.socket === record.socket) === index);
  if (live.length === 1) return live[0]!.socket;
  if (live.length === 0) {
    throw new DtError(own === undefined ? 'no session is running (dt -l lists the ended ones)' : 'no other session is running');
  }
  const rows = live.map((record) => [nameOfSocket(record.socket) ?? record.socket, record.command.join(' '), formatTime(record.startedAt)]);
  const width = process.stderr.isTTY ? process.stderr.columns : undefined;
  const table = formatTable([{ title: 'SESSION', shorten: 'keep-end' }, { title: 'COMMAND', shorten: 'keep-start' }, { title: 'STARTED' }], rows, width);
  throw new DtError(`${live.length} sessions are running; say which one to attach to (dt -a <session>):\n${table.trimEnd()}`);
}

function formatState(session: ListedSession): string {
  const how = session.exitSignal ? `killed by ${describeSignalDeath(session.exitSignal, session.coreDumped)}` : `status ${session.exitCode}`;
  if (session.state === 'exited') return `exited (${how}, ${formatTime(session.endedAt!)})`;
  if (session.state === 'ending') {
    const known = session.exitSignal !== undefined || session.exitCode !== undefined;
    return `ending (${known ? `${how}, ` : ''}${session.note})`;
  }
  return session.note ? `${session.state} (${session.note})` : session.state;
}

/** The log file, and why it is not being written while a live session's log is not. */
function formatLog(session: ListedSession): string {
  const log = session.log;
  if (log === undefined) return '-';
  if (log.writing !== false || session.state === 'exited' || session.state === 'stale') {
    return log.notLoggedBytes ? `${log.file} (${log.notLoggedBytes} bytes not logged)` : log.file;
  }
  return `${log.file} (not written: ${log.reason ?? 'unknown'})`;
}

/**
 * A time as `dt -l --json` gives it, ISO 8601 in UTC, as dt writes it: a record may hold
 * another form Date.parse reads (an offset, no milliseconds), which the registry accepts.
 */
function utcTime(time: string): string {
  return new Date(time).toISOString();
}

/** Local time to the minute, as `dt -l` shows times. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
