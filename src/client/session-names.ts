// What a socket argument means. A word without a '/' names a session: its socket is in the
// user's private session directory, $DT_DIR, by default ${TMPDIR:-/tmp}/dt-<uid> (tmux's
// choice: not $XDG_RUNTIME_DIR, which is removed at logout while sessions live on). A word
// with a '/' is a path, exactly as in dtach (`./name` for the current directory).

import fs from 'node:fs';
import path from 'node:path';
import { fsPath } from '../common/bytes.js';
import { DtError, describeSystemError, fileError } from '../common/errors.js';
import { exactEnvironmentVariable, exactWorkingDirectory } from './process-bytes.js';

const PRIVATE_DIRECTORY_MODE = 0o700;
/** Permission bits that let group or others in. */
const SHARED_BITS = 0o077;

function isSessionName(word: string): boolean {
  return !word.includes('/');
}

/**
 * $DT_DIR, or ${TMPDIR:-/tmp}/dt-<uid>, exactly as given (bytes.ts); a relative value would
 * move with the current directory: DT_DIR is refused, TMPDIR ignored.
 */
function sessionDirectory(): string {
  const configured = exactEnvironmentVariable('DT_DIR');
  if (configured) {
    if (!path.isAbsolute(configured)) throw new DtError(`DT_DIR=${configured}: not an absolute path`);
    return path.normalize(configured);
  }
  const tmp = exactEnvironmentVariable('TMPDIR');
  return path.join(tmp && path.isAbsolute(tmp) ? tmp : '/tmp', `dt-${process.getuid!()}`);
}

/** The absolute socket path a socket argument stands for, without making or checking anything. */
export function socketPathOf(word: string): string {
  if (!isSessionName(word)) return path.resolve(exactWorkingDirectory(), word);
  return path.join(sessionDirectory(), word);
}

/**
 * The absolute socket path a socket argument stands for. For a name, the session directory
 * is made (mode 0700) when missing, and refused unless it is the user's own and private.
 */
export function resolveSocketArgument(word: string): string {
  const socket = socketPathOf(word);
  if (isSessionName(word)) ensurePrivateDirectory(path.dirname(socket));
  return socket;
}

/**
 * The absolute socket path of a session that must exist already (-a, -p, -k, -w, -F). An
 * existing session directory is refused as resolveSocketArgument refuses it; a missing one is
 * not made: no session is in it, and a command that fails leaves nothing behind.
 */
export function existingSocketPath(word: string): string {
  maySessionBeAt(word);
  return socketPathOf(word);
}

/**
 * Whether a session can be on the socket a socket argument stands for, without making
 * anything: false for a name whose session directory is missing. An existing session
 * directory is refused as resolveSocketArgument refuses it: a socket in a directory others
 * control is not connected to. (-A makes the directory only once it knows it will create.)
 */
export function maySessionBeAt(word: string): boolean {
  if (!isSessionName(word)) return true;
  const directory = path.dirname(socketPathOf(word));
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(fsPath(directory));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fileError(directory, describeSystemError(error), error);
  }
  refuseSharedDirectory(directory, stat);
  return true;
}

/** The name a socket path is known by, when it is in the session directory; else undefined. */
export function nameOfSocket(socket: string): string | undefined {
  let directory: string;
  try {
    directory = sessionDirectory();
  } catch {
    // A relative DT_DIR: no names, every session is shown by its path.
    return undefined;
  }
  return path.dirname(socket) === directory ? path.basename(socket) : undefined;
}

/**
 * Makes the session directory if it is missing, then checks it as tmux does its own: a real
 * directory (not a symlink, which someone else could point elsewhere later), owned by the
 * user, that nobody else can enter or list.
 */
function ensurePrivateDirectory(directory: string): void {
  try {
    fs.mkdirSync(fsPath(directory), { mode: PRIVATE_DIRECTORY_MODE });
    // The umask may have taken the owner's bits too.
    fs.chmodSync(fsPath(directory), PRIVATE_DIRECTORY_MODE);
  } catch (error) {
    // EEXIST: it is there already, and is checked below like any other.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(directory, describeSystemError(error), error);
  }
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(fsPath(directory));
  } catch (error) {
    throw fileError(directory, describeSystemError(error), error);
  }
  refuseSharedDirectory(directory, stat);
}

/** A session directory must be a real directory, the user's own, that nobody else can enter or list. */
function refuseSharedDirectory(directory: string, stat: fs.Stats): void {
  if (!stat.isDirectory()) throw fileError(directory, 'not a directory (sessions are kept in a private directory)');
  const uid = process.getuid!();
  if (stat.uid !== uid) {
    throw fileError(directory, `owned by uid ${stat.uid}, not by you (uid ${uid}); refusing to keep sessions there (set DT_DIR)`);
  }
  const mode = stat.mode & 0o777;
  if ((mode & SHARED_BITS) !== 0) {
    throw fileError(directory, `group or others can access it (mode ${mode.toString(8).padStart(4, '0')}); refusing to keep sessions there (chmod 700 it)`);
  }
}
