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
  const found = searchExecutable(name, searchPath, cwd);
  return 'reason' in found ? found : found.file;
}

/** What execve(2) is given when execvp(3) runs `name`, as far as its size goes (exec-limits.ts). */
export interface ExecvpTarget {
  /** the path execvp(3) hands execve(2): the PATH entry as written, a '/', the name */
  filename: string;
  /** a script's "#!" line, which the kernel adds to the arguments */
  interpreter?: ScriptInterpreter;
}

export interface ScriptInterpreter {
  name: string;
  /** the rest of the line, one argument, if any */
  argument?: string;
}

/** The file execvp(3) would exec for `name`; undefined where it would find none. */
export function findExecvpTarget(name: string, searchPath: string | undefined, cwd: string): ExecvpTarget | undefined {
  const found = searchExecutable(name, searchPath, cwd);
  if ('reason' in found) return undefined;
  const interpreter = readInterpreter(found.file);
  return interpreter === undefined ? { filename: found.filename } : { filename: found.filename, interpreter };
}

/** `file`: where the program is, resolved; `filename`: the path execvp(3) passes for it. */
function searchExecutable(name: string, searchPath: string | undefined, cwd?: string): { file: string; filename: string } | { reason: string } {
  if (name === '') return { reason: 'No such file or directory' };
  if (name.includes('/')) return found(checkExecutable(locate(cwd, name)), name);
  // As execvp(3): "Permission denied" from any entry wins; otherwise the last entry's error.
  let lastFailure: { reason: string } = { reason: 'No such file or directory' };
  let deniedSomewhere = false;
  for (const directory of (searchPath ?? EXECVP_DEFAULT_PATH).split(':')) {
    // An empty entry means the current directory (and a relative one is relative to it);
    // resolve it so nothing searches PATH again.
    const result = checkExecutable(locate(cwd, directory, name));
    if (typeof result === 'string') return found(result, directory === '' ? name : `${directory}/${name}`);
    if (result.reason === 'Permission denied') deniedSomewhere = true;
    lastFailure = result;
  }
  return deniedSomewhere ? { reason: 'Permission denied' } : lastFailure;
}

function found(result: ExecutableLookup, filename: string): { file: string; filename: string } | { reason: string } {
  return typeof result === 'string' ? { file: result, filename } : result;
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
  const interpreter = readInterpreter(file);
  if (interpreter === undefined) return undefined;
  const result = checkExecutable(interpreter.name, false);
  return typeof result === 'string' ? undefined : result;
}

/** How many bytes of a file the kernel reads for its "#!" line (BINPRM_BUF_SIZE). */
const SCRIPT_HEAD_BYTES = 256;

/**
 * A script's interpreter and its argument, as the kernel reads them (binfmt_script): after
 * "#!", blanks (spaces and tabs) skipped, the name up to a blank, the argument the rest of
 * the line without the blanks around it. Strings of bytes as latin1, so that length is size.
 */
function readInterpreter(file: string): ScriptInterpreter | undefined {
  let head: Buffer;
  try {
    const fd = fs.openSync(fsPath(file), 'r');
    try {
      head = Buffer.alloc(SCRIPT_HEAD_BYTES);
      head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined; // unreadable but executable: let exec decide
  }
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined; // not "#!"
  const line = head.toString('latin1', 2).split('\n')[0]!.replace(/^[ \t]+|[ \t]+$/g, '');
  const name = line.split(/[ \t]/)[0];
  if (!name) return undefined;
  const argument = line.slice(name.length).replace(/^[ \t]+/, '');
  return argument === '' ? { name } : { name, argument };
}
