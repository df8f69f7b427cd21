// Find the program as execvp(3) would, so that "cannot execute" is reported before a
// session exists rather than as output of a program that never ran.

import fs from 'node:fs';
import path from 'node:path';
import { fsPath } from './bytes.js';

export type ExecutableLookup = string | { reason: string };

/**
 * Where execvp(3) looks when there is no PATH at all (`env -i dt -n s prog`): the GNU C
 * library's default (confstr _CS_PATH, what `getconf PATH` prints). node-pty's child and
 * env(1) exec the program with it, so a program only in /usr/local/bin is not found then.
 */
const EXECVP_DEFAULT_PATH = '/bin:/usr/bin';

/**
 * `cwd`: where the program will start, against which relative names resolve; without it, the
 * current directory, whose path is never asked for (a directory that was removed has none,
 * and a client may run in one).
 */
export function findExecutable(name: string, searchPath: string | undefined, cwd?: string): ExecutableLookup {
  if (name === '') return { reason: 'No such file or directory' };
  if (name.includes('/')) return checkExecutable(locate(cwd, name));
  // As execvp(3): "Permission denied" from any entry wins; otherwise the last entry's error.
  let lastFailure: { reason: string } = { reason: 'No such file or directory' };
  let deniedSomewhere = false;
  for (const directory of (searchPath ?? EXECVP_DEFAULT_PATH).split(':')) {
    // An empty entry means the current directory (and a relative one is relative to it);
    // resolve it so nothing searches PATH again.
    const result = checkExecutable(locate(cwd, directory, name));
    if (typeof result === 'string') return result;
    if (result.reason === 'Permission denied') deniedSomewhere = true;
    lastFailure = result;
  }
  return deniedSomewhere ? { reason: 'Permission denied' } : lastFailure;
}

/**
 * The file at `parts`, against `cwd` when relative; without `cwd`, relative to the current
 * directory (./name, still with a '/': nothing searches PATH again).
 */
function locate(cwd: string | undefined, ...parts: string[]): string {
  const joined = path.join(...parts);
  if (path.isAbsolute(joined)) return joined;
  return cwd === undefined ? `./${joined}` : path.resolve(cwd, joined);
}

function checkExecutable(file: string, followInterpreter = true): ExecutableLookup {
  try {
    // Most entries of PATH lack the program: no exception for those (each costs 20-30 us).
    const stat = fs.statSync(fsPath(file), { throwIfNoEntry: false });
    if (stat === undefined) return { reason: 'No such file or directory' };
    if (stat.isDirectory()) return { reason: 'Permission denied' };
    fs.accessSync(fsPath(file), fs.constants.X_OK);
    return (followInterpreter ? checkInterpreter(file) : undefined) ?? file;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return { reason: 'Permission denied' };
    if (code === 'ENOTDIR') return { reason: 'Not a directory' };
    return { reason: 'No such file or directory' };
  }
}

/** A script whose `#!` interpreter is missing fails in exec with the interpreter's error. */
function checkInterpreter(file: string): { reason: string } | undefined {
  let head: Buffer;
  try {
    const fd = fs.openSync(fsPath(file), 'r');
    try {
      head = Buffer.alloc(256);
      head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined; // unreadable but executable: let exec decide
  }
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined; // not "#!"
  const line = head.toString('latin1', 2).split('\n')[0]!.trim();
  const interpreter = line.split(/[ \t]/)[0];
  if (!interpreter) return undefined;
  const result = checkExecutable(interpreter, false);
  return typeof result === 'string' ? undefined : result;
}
