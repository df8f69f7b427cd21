// Which files a session log (-L) may be written to, and how one is opened, in one place: the
// creating command checks FILE before anything starts and opens it for the master it starts;
// a master opens it itself under `dt -N`, and again whenever it rotates or replaces it.

import fs from 'node:fs';
import { fsPath } from './bytes.js';
import { DtError, describeSystemError, fileError } from './errors.js';

const SYMLINK_REFUSED = 'is a symbolic link; dt writes a log only to a regular file';
const NOT_REGULAR_REFUSED = 'is not a regular file; dt writes a log only to a regular file';

const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** O_NONBLOCK: opening a FIFO put at FILE must not wait for a reader (it is refused after). */
export const LOG_OPEN_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
export const LOG_FILE_MODE = 0o600;

/** An open log file and what the log needs to know of it. */
export interface OpenedLogFile {
  fd: number;
  size: number;
  dev: number;
  ino: number;
}

/** Why FILE is refused, or undefined when it may be written: a regular file owned by the user. */
export function refuseLogFile(stats: fs.Stats, uid: number): string | undefined {
  if (stats.isSymbolicLink()) return SYMLINK_REFUSED;
  if (!stats.isFile()) return NOT_REGULAR_REFUSED;
  if (stats.uid !== uid) return `is owned by another user (uid ${stats.uid}); dt writes a log only to your own file`;
  return undefined;
}

/** The size and identity of an open FILE; a DtError (`FILE: reason`) if it may not be written. */
export function checkOpenedLogFile(stats: fs.Stats, file: string): Omit<OpenedLogFile, 'fd'> {
  const refusal = refuseLogFile(stats, process.getuid!());
  if (refusal !== undefined) throw fileError(file, refusal);
  return { size: stats.size, dev: stats.dev, ino: stats.ino };
}

/** What open(2) of FILE said, in the words the user sees. */
export function describeLogOpenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return SYMLINK_REFUSED; // what O_NOFOLLOW says of a symbolic link
  if (code === 'ENXIO' || code === 'EISDIR') return NOT_REGULAR_REFUSED; // a FIFO nobody reads; a directory
  return describeSystemError(error);
}

/**
 * Opens FILE at the start of a session, created with mode 0600 if it is new. Throws a DtError
 * (`FILE: reason`). `created`: FILE did not exist before.
 */
export function openLogFile(file: string): OpenedLogFile & { created: boolean } {
  let fd: number;
  let created = true;
  try {
    try {
      fd = fs.openSync(fsPath(file), LOG_OPEN_FLAGS | O_EXCL, LOG_FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      created = false;
      fd = fs.openSync(fsPath(file), LOG_OPEN_FLAGS, LOG_FILE_MODE);
    }
  } catch (error) {
    throw fileError(file, describeLogOpenError(error), error);
  }
  try {
    if (created) fs.fchmodSync(fd, LOG_FILE_MODE); // exactly 0600, whatever the umask
    return { ...checkOpenedLogFile(fs.fstatSync(fd), file), fd, created };
  } catch (error) {
    fs.closeSync(fd);
    throw error instanceof DtError ? error : fileError(file, describeSystemError(error), error);
  }
}

/** A session that could not start after all: FILE is closed, and removed if it made it and wrote nothing. */
export function discardLogFile(file: string, fd: number, created: boolean): void {
  try {
    if (created && fs.fstatSync(fd).size === 0) fs.unlinkSync(fsPath(file));
  } catch {
    // ENOENT: someone removed it already.
  }
  fs.closeSync(fd);
}
