// The command line, working directory and environment as the kernel holds them. Node decodes
// them as UTF-8 and turns what is not UTF-8 into U+FFFD; dt must pass a program's arguments
// and a socket path on unchanged, so it reads the bytes from /proc and carries them as
// bytes.ts strings. A word without U+FFFD was UTF-8, which Node decodes exactly: /proc is
// read only when there is one (every dt command starts here; reading it costs them time).

import fs from 'node:fs';
import { decodeBytes, hasEscapedBytes } from '../common/bytes.js';
import { DtError, ExitCode, describeSystemError } from '../common/errors.js';

/**
 * The arguments after the script, exactly. They are the last words of /proc/self/cmdline
 * (Node's own options come before the script). If those do not read as process.argv does
 * (no /proc, or the words were rewritten), Node's decoding is all there is.
 */
export function exactArguments(): string[] {
  const decoded = process.argv.slice(2);
  if (!decoded.some(mayHaveLostBytes)) return decoded;
  let words: Buffer[] = [];
  try {
    words = splitWords(fs.readFileSync('/proc/self/cmdline'));
  } catch {
    // No /proc: Node's decoding is all there is.
  }
  const ours = words.slice(words.length - decoded.length);
  if (ours.length === decoded.length && ours.every((word, index) => word.toString('utf8') === decoded[index])) {
    return ours.map((word) => decodeBytes(word));
  }
  // A replacement character may stand for bytes that are not UTF-8: passing it on would
  // change the word silently.
  const doubtful = decoded.findIndex(mayHaveLostBytes);
  if (doubtful >= 0) {
    throw new DtError(`argument ${doubtful + 1} (${decoded[doubtful]}) may not be UTF-8, and its exact bytes cannot be read from /proc/self/cmdline`);
  }
  return decoded;
}

const REPLACEMENT_CHARACTER = '\ufffd';

/** True when Node's decoding may have replaced bytes that were not UTF-8 (a replacement character may also have been typed as one). */
function mayHaveLostBytes(decoded: string): boolean {
  return decoded.includes(REPLACEMENT_CHARACTER);
}

/** The working directory, exactly (process.cwd() is decoded lossily). */
export function exactWorkingDirectory(): string {
  let decoded: string;
  try {
    decoded = process.cwd();
  } catch (error) {
    throw workingDirectoryError(error);
  }
  if (!mayHaveLostBytes(decoded)) return decoded;
  let bytes: Buffer;
  try {
    bytes = fs.readlinkSync('/proc/self/cwd', { encoding: 'buffer' });
  } catch {
    return decoded; // no /proc
  }
  // The same directory as Node sees it, unless /proc tells another story (a deleted directory).
  return bytes.toString('utf8') === decoded ? decodeBytes(bytes) : decoded;
}

/**
 * getcwd(3) fails in a directory that was removed since (ENOENT: the shell stayed in it), or
 * whose path is longer than PATH_MAX (ERANGE): no path names it, to pass on to the program.
 */
function workingDirectoryError(error: unknown): DtError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DtError('the current directory was removed: cd to one that exists', ExitCode.Failure, { cause: error });
  if (code === 'ERANGE') return new DtError('the current directory\'s path is longer than the system allows (PATH_MAX)', ExitCode.Failure, { cause: error });
  return new DtError(`cannot tell the current directory: ${describeSystemError(error)}`, ExitCode.Failure, { cause: error });
}

/**
 * One variable of the environment dt started with, exactly; undefined when it is not set. (A
 * client changes none of its own environment, so process.env is still the one it started with.)
 * `environ`: the words of /proc/self/environ, when read already.
 */
export function exactEnvironmentVariable(name: string, environ?: Buffer[]): string | undefined {
  const decoded = process.env[name];
  if (decoded === undefined || !mayHaveLostBytes(decoded)) return decoded;
  const entries = environ ?? environmentWords();
  if (entries === undefined) return decoded; // no /proc
  const prefix = Buffer.from(`${name}=`);
  const entry = entries.find((candidate) => candidate.subarray(0, prefix.length).equals(prefix));
  return entry === undefined ? undefined : decodeBytes(entry.subarray(prefix.length));
}

/**
 * The variables whose values Node could not decode, exactly (bytes.ts strings): process.env,
 * and so the environment a child gets from Node, has U+FFFD where their bytes were. Empty,
 * without reading /proc, when no value has a replacement character.
 */
export function environmentNodeCannotKeep(): Record<string, string> {
  const doubtful = Object.entries(process.env).filter(([, value]) => value !== undefined && mayHaveLostBytes(value));
  if (doubtful.length === 0) return {};
  const entries = environmentWords();
  if (entries === undefined) return {}; // no /proc
  const exact: Record<string, string> = {};
  for (const [name] of doubtful) {
    const value = exactEnvironmentVariable(name, entries);
    if (value !== undefined && hasEscapedBytes(value)) exact[name] = value;
  }
  return exact;
}

/** The NAME=VALUE words of the environment dt started with; undefined without /proc. */
function environmentWords(): Buffer[] | undefined {
  try {
    return splitWords(fs.readFileSync('/proc/self/environ'));
  } catch {
    return undefined;
  }
}

/** NUL-terminated words. */
function splitWords(bytes: Buffer): Buffer[] {
  const words: Buffer[] = [];
  let start = 0;
  for (let end = bytes.indexOf(0); end >= 0; end = bytes.indexOf(0, start)) {
    words.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return words;
}
