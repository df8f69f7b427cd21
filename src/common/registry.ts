// A per-user record of sessions, so `dt -l` finds them wherever their sockets are, and the
// exit status of a program that ended while nobody was attached is kept for a while.
// One small JSON file per master in ${XDG_STATE_HOME:-~/.local/state}/dt/sessions: in the
// home directory, so it is the same for every login of the user and for services run with
// a private /tmp.
//
// Anything can end up in that directory (a crash, a full disk, a careless copy, someone
// else's mischief), so nothing read from it is trusted: only regular files of bounded size
// are opened, never through a symlink and never waiting on a FIFO, and every field is checked.
// A file that is not a valid record is skipped, and counted so that `dt -l` can say so. No
// registry problem may stop a session: writing reports why it failed instead of throwing.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeSystemError } from './errors.js';
import { MASTER_FLAG } from './master-spec.js';
import type { ExitStatus } from './protocol.js';
import { SIGRTMAX, parseSignal } from './signals.js';

/** How long the status of a program that ended unwatched is kept. */
export const EXITED_RECORD_KEEP_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Room for a command line as long as exec(2) takes by default (2 MiB of arguments, JSON
 * quoted); a larger file is not a record dt wrote, and is never read.
 */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;
/** A timestamp dt writes is 24 characters (toISOString); anything much longer is not one. */
const MAX_TIMESTAMP_LENGTH = 64;
/** Exit codes are one byte. */
const MAX_EXIT_CODE = 255;

export interface SessionRecord {
  socket: string;
  masterPid: number;
  command: string[];
  startedAt: string;
  /** -L: the session's log file */
  log?: string;
  /** set when the program ended while no client was attached */
  exit?: ExitStatus & { endedAt: string };
  /** why the program could not be started, when only the master could find out (no pty) */
  startError?: string;
  /**
   * the socket is its service manager's (systemd socket activation): the master leaves its
   * file alone, and never makes it again
   */
  serviceSocket?: true;
  /**
   * the signal (SIGTERM, SIGINT) that told the master to end: it has hung up the program and
   * removed the socket file it made, and ends once the program has exited, or a few seconds later
   */
  terminatedBy?: string;
}

/** A signal name dt writes is SIG and a few letters: anything much longer is not one. */
const MAX_SIGNAL_NAME_LENGTH = 16;

/** Longer than any reason dt writes (a pty failure is one short sentence). */
const MAX_START_ERROR_LENGTH = 4096;

export interface Registry {
  records: SessionRecord[];
  /** files named like records that could not be used (not regular, too large, malformed) */
  skipped: number;
  /** the directory read, when there is one */
  dir?: string;
}

const RECORD_NAME = /^([1-9]\d{0,9})\.json$/;

/**
 * The registry directory, or why there is none. XDG_STATE_HOME counts only when absolute,
 * as the XDG Base Directory specification says; without HOME, the user's home directory
 * from the password database stands in.
 */
export function registryDir(): { dir: string } | { reason: string } {
  const stateHome = process.env['XDG_STATE_HOME'];
  if (stateHome && path.isAbsolute(stateHome)) return { dir: path.join(stateHome, 'dt', 'sessions') };
  const home = homeDirectory();
  if (home === undefined) return { reason: 'no home directory (HOME is not set, and the user has none)' };
  return { dir: path.join(home, '.local', 'state', 'dt', 'sessions') };
}

function homeDirectory(): string | undefined {
  const home = process.env['HOME'];
  if (home && path.isAbsolute(home)) return home;
  try {
    const fromPasswd = os.userInfo().homedir;
    return fromPasswd && path.isAbsolute(fromPasswd) ? fromPasswd : undefined;
  } catch {
    // SystemError: the uid has no entry in the password database.
    return undefined;
  }
}

/** Said once, when a session starts whose record could not be written: it runs, but dt -l will not show it. */
export function unlistedWarning(socket: string, reason: string): string {
  return `dt: ${socket}: the session runs but will not be listed by dt -l: ${reason}`;
}

/**
 * Writes (or rewrites) a master's record, whole or not at all: a temporary file renamed into
 * place, removed again if anything fails. Returns why the record could not be written, so
 * that the user can be told the session will not be listed; undefined when it was written.
 */
export function writeRecord(record: SessionRecord): string | undefined {
  const location = registryDir();
  if (!('dir' in location)) return location.reason;
  const text = JSON.stringify(record);
  if (Buffer.byteLength(text) > MAX_RECORD_BYTES) return 'its command line is too long to record';
  const file = path.join(location.dir, `${record.masterPid}.json`);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(location.dir, { recursive: true, mode: 0o700 });
    writeNewFile(temporary, text);
    fs.renameSync(temporary, file);
    return undefined;
  } catch (error) {
    removeFile(temporary);
    if (isOutOfRoom(error) && rewriteInPlace(file, text)) return undefined;
    return `cannot write ${location.dir}: ${describeSystemError(error)}`;
  }
}

/** ENOSPC (no free block or inode) and EDQUOT: a new file cannot be made, an existing one's blocks can still be written. */
function isOutOfRoom(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * On a full file system (a log or a build filled the disk, and the program ended, perhaps of
 * it) the temporary file cannot be made, but the master's record is there already, and the
 * status it must keep is a few bytes more: it is written over the record, within the blocks
 * the record has, so that nothing needs room. Padded with spaces (JSON allows them) to the
 * record's length and written in one write, it leaves no tail of the old record behind; a
 * reader that reads it in that very instant skips it, as any file that is not a record.
 * False when it does not fit those blocks, or the record is not there.
 */
function rewriteInPlace(file: string, text: string): boolean {
  const { O_WRONLY, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_NOFOLLOW);
  } catch {
    // ENOENT: never written (the registry was full from the start); anything else: unusable.
    return false;
  }
  try {
    const stat = fs.fstatSync(fd);
    const bytes = Buffer.from(text.padEnd(stat.size, ' '), 'utf8');
    if (!stat.isFile() || bytes.length > stat.blocks * 512) return false;
    return fs.writeSync(fd, bytes, 0, bytes.length, 0) === bytes.length;
  } catch {
    // The write failed after all (an I/O error): the record is as it was, or unreadable and skipped.
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

function writeNewFile(file: string, text: string): void {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written);
  } finally {
    fs.closeSync(fd);
  }
}

function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // ENOENT (never created) or the directory itself is unusable: nothing more can be done.
  }
}

export function removeRecord(masterPid: number): void {
  const location = registryDir();
  if (!('dir' in location)) return;
  removeFile(path.join(location.dir, `${masterPid}.json`));
}

/**
 * Every valid record, one per socket (the most recently started) unless an earlier session on
 * the socket still runs (its socket file was deleted, and a new session made one there): a
 * running session is never hidden. And how many files were skipped. Never throws.
 */
export function readRegistry(): Registry {
  const scanned = scanRegistry();
  const bySocket = new Map<string, SessionRecord>();
  for (const record of scanned.records) {
    const other = bySocket.get(record.socket);
    if (other === undefined || isNewer(record, other)) bySocket.set(record.socket, record);
  }
  const newest = new Set(bySocket.values());
  return { ...scanned, records: scanned.records.filter((record) => newest.has(record) || isSessionRunning(record)) };
}

export function readRecords(): SessionRecord[] {
  return readRegistry().records;
}

/** Every valid record, several of one socket included: what `dt -F` looks through. */
export function readAllRecords(): SessionRecord[] {
  return scanRegistry().records;
}

/**
 * A new session on a socket supersedes every earlier record of that socket (a kept status, a
 * dead master), but never that of a session still running: its socket file was deleted, and
 * it must stay listed, so that its user can find its master and give it its socket back.
 */
export function supersedeRecords(socket: string, masterPid: number): void {
  for (const record of scanRegistry().records) {
    if (record.socket === socket && record.masterPid !== masterPid && !isSessionRunning(record)) removeRecord(record.masterPid);
  }
}

/** Every valid record file, duplicates included. */
function scanRegistry(): Registry {
  const location = registryDir();
  if (!('dir' in location)) return { records: [], skipped: 0 };
  let names: string[];
  try {
    names = fs.readdirSync(location.dir);
  } catch {
    // ENOENT: no session was ever recorded; anything else: a directory we cannot read has
    // no sessions we can describe.
    return { records: [], skipped: 0, dir: location.dir };
  }
  const records: SessionRecord[] = [];
  let skipped = 0;
  for (const name of names) {
    const match = RECORD_NAME.exec(name);
    if (!match) continue;
    const text = readRecordFile(path.join(location.dir, name));
    if (text === null) continue; // removed while we read the directory
    const record = text === undefined ? undefined : parseRecord(text, Number(match[1]));
    if (record === undefined) skipped++;
    else records.push(record);
  }
  return { records, skipped, dir: location.dir };
}

/**
 * Which of two records of one socket (an earlier session's socket file was deleted and taken
 * over) is the later session's: the one started later; in the same millisecond, the higher pid.
 */
export function isNewer(record: SessionRecord, than: SessionRecord): boolean {
  return compareStarts(record, than) > 0;
}

type StartOfSession = Pick<SessionRecord, 'startedAt' | 'socket' | 'masterPid'>;

/**
 * The order `dt -l` lists sessions in: by the instant each started (a time with an offset, or
 * without milliseconds, is read as the instant it names; the text alone would put
 * `11:30:00.250Z` before `11:30:00Z`), then, started in the same millisecond, by socket path,
 * compared character by character (not by the locale's collation), then by master pid.
 */
export function compareStarts(a: StartOfSession, b: StartOfSession): number {
  const difference = Date.parse(a.startedAt) - Date.parse(b.startedAt);
  if (difference !== 0) return difference;
  if (a.socket !== b.socket) return a.socket < b.socket ? -1 : 1;
  return a.masterPid - b.masterPid;
}

/**
 * A record file's text; undefined when it is not a regular file of at most MAX_RECORD_BYTES
 * (checked before opening, so no device or FIFO is ever opened, and again on the descriptor,
 * in case the file was swapped meanwhile); null when it no longer exists.
 */
function readRecordFile(file: string): string | undefined | null {
  let fd: number;
  try {
    const stat = fs.lstatSync(file);
    if (!stat.isFile() || stat.size > MAX_RECORD_BYTES) return undefined;
    const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fs.constants;
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (error) {
    // ENOENT: removed meanwhile (a master ended). ELOOP (became a symlink), EACCES: unusable.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_RECORD_BYTES) return undefined;
    // One byte more than allowed, to notice a file that grew after fstat.
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_RECORD_BYTES) + 1);
    let length = 0;
    for (let count = 1; count > 0 && length < buffer.length; length += count) {
      count = fs.readSync(fd, buffer, length, buffer.length - length, null);
    }
    return length > MAX_RECORD_BYTES ? undefined : buffer.toString('utf8', 0, length);
  } catch {
    // EIO, EISDIR and the like: not a record.
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A record from a file's text, or undefined unless every field is what dt writes. The master
 * pid must be the one in the file's name, so a copied record never shows a session twice.
 */
export function parseRecord(text: string, pidInName: number): SessionRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // SyntaxError: half-written or not JSON.
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const { socket, masterPid, command, startedAt, log, exit, startError, serviceSocket, terminatedBy } = value;
  if (!isAbsolutePath(socket)) return undefined;
  if (masterPid !== pidInName) return undefined;
  if (!Array.isArray(command) || command.length === 0 || !command.every((word) => typeof word === 'string')) return undefined;
  if (!isTimestamp(startedAt)) return undefined;
  if (log !== undefined && !isAbsolutePath(log)) return undefined;
  if (serviceSocket !== undefined && serviceSocket !== true) return undefined;
  if (terminatedBy !== undefined && !isSignalName(terminatedBy)) return undefined;
  const record: SessionRecord = {
    socket, masterPid, command: command as string[], startedAt, ...(log === undefined ? {} : { log }),
    ...(serviceSocket && { serviceSocket }), ...(terminatedBy === undefined ? {} : { terminatedBy }),
  };
  if (exit === undefined) return record;
  const exitStatus = parseExit(exit);
  if (!exitStatus) return undefined;
  if (startError === undefined) return { ...record, exit: exitStatus };
  if (typeof startError !== 'string' || startError.length > MAX_START_ERROR_LENGTH) return undefined;
  return { ...record, exit: exitStatus, startError };
}

function parseExit(value: unknown): SessionRecord['exit'] {
  if (!isObject(value)) return undefined;
  const { code, signal, coreDumped, endedAt } = value;
  if (!isIntegerIn(code, 0, MAX_EXIT_CODE) || !isIntegerIn(signal, 0, SIGRTMAX) || !isTimestamp(endedAt)) return undefined;
  // Written only as true, and only with the signal that killed the program.
  if (coreDumped !== undefined && (coreDumped !== true || signal === 0)) return undefined;
  return { code, signal, ...(coreDumped && { coreDumped }), endedAt };
}

function isSignalName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_SIGNAL_NAME_LENGTH && value.startsWith('SIG') && parseSignal(value) !== undefined;
}

function isAbsolutePath(value: unknown): value is string {
  return typeof value === 'string' && path.isAbsolute(value) && !value.includes('\0');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

function isTimestamp(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_TIMESTAMP_LENGTH && !Number.isNaN(Date.parse(value));
}

/** Why dt -k or dt -p does nothing to a session whose program ended and whose status is kept. */
export const PROGRAM_ENDED_KEPT = "the session's program has ended: dt -a or dt -w shows its exit status and forgets it";

/** The kept exit status of the program that last ran on this socket, if it ended unwatched. */
export function findExitedRecord(socket: string): SessionRecord | undefined {
  return readRecords().find((record) => record.socket === socket && record.exit !== undefined && !isExpired(record));
}

export function isExpired(record: SessionRecord): boolean {
  return record.exit !== undefined && Date.now() - Date.parse(record.exit.endedAt) > EXITED_RECORD_KEEP_MS;
}

const MASTER_TITLE = 'dt master ';

/** A running master's process title, which names its socket: what isMasterAlive looks for. */
export function masterTitle(socket: string): string {
  return `${MASTER_TITLE}${socket}`;
}

/** True while the record's session runs: its program has not ended, and its master is alive. */
export function isSessionRunning(record: SessionRecord): boolean {
  return record.exit === undefined && isMasterAlive(record);
}

/**
 * True when the record's master is running: a process of this user, titled as the master of
 * the record's socket (the kernel keeps a long title cut short), or a dt master still starting
 * (its record is written by the command that created it). Not a recycled pid after a reboot,
 * nor the master of another socket or of another user.
 */
export function isMasterAlive(record: Pick<SessionRecord, 'masterPid' | 'socket'>): boolean {
  let commandLine: Buffer;
  try {
    if (fs.statSync(`/proc/${record.masterPid}`).uid !== process.getuid?.()) return false;
    commandLine = fs.readFileSync(`/proc/${record.masterPid}/cmdline`);
  } catch {
    // ENOENT: no such process.
    return false;
  }
  const end = commandLine.indexOf(0);
  const title = end === -1 ? commandLine : commandLine.subarray(0, end);
  if (title.toString('latin1').startsWith(MASTER_TITLE)) {
    const expected = Buffer.from(masterTitle(record.socket), 'utf8');
    return title.length <= expected.length && title.equals(expected.subarray(0, title.length));
  }
  return commandLine.toString('utf8').split('\0').includes(MASTER_FLAG);
}
