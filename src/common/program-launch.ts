// How the program is exec-ed so that it receives exactly the bytes it was given. node-pty
// takes strings and encodes them as UTF-8, so a word that is not UTF-8 (a Latin-1 file name)
// cannot pass through it. Such a command, a socket path (DT_SESSION), a working directory or
// an environment variable's value that is not UTF-8 goes through /bin/sh instead, in time
// linear in the number of words: all the words (directory, DT_SESSION, variables, command)
// travel as one printf(1) format, cut into arguments that exec takes, where the bytes that
// are not UTF-8 are octal escapes (4 bytes each) and every word ends with a separator byte
// that no word holds. The shell decodes it with a few printf calls, splits it into its words
// once (IFS, no globbing), and execs the program with its exact argv (argv[0] included), in
// its exact directory, through `env -i` with exactly its environment: the shell itself starts
// with none, so that no variable changes what it does (bash's SHELLOPTS) and none it sets
// (PWD, SHLVL) or drops reaches the program. The script is constant: the words reach the
// shell only as its parameters.

import { hasEscapedBytes } from './bytes.js';
import { DtError } from './errors.js';
import { ARGUMENT_LIST_TOO_LONG, isTooLargeToExec, type ExecStep } from './exec-limits.js';

export interface ProgramLaunch {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The env(1) that sets the program's exact environment. */
const ENV_PROGRAM = '/usr/bin/env';

/**
 * $1: the separator; then the pieces, each a kind and a printf format. Decoded in order, the
 * pieces give the words: "c" continues in the next piece; "f" ends words, each followed by the
 * separator, which splitting takes apart; "w" ends one word that holds the separator itself.
 * (The kind is printed and removed again, so that printf never takes a format starting with
 * "-" for an option; "." is appended and removed again, as command substitution would drop
 * trailing newlines.)
 * Each "f" or "w" appends to "$@" once: a word with the separator costs one more, so a command
 * of any length takes a few such steps. The words: the directory to change to, or empty;
 * DT_SESSION; how many NAME=VALUE words follow to export; how many NAME=VALUE words follow
 * those for `env -i`, the program's whole environment; the command.
 */
const DECODE_AND_EXEC = [
  'set -f',
  'shell_ifs=$IFS',
  'IFS=$1',
  'shift',
  'pieces=$#',
  'text=',
  'for piece do',
  '  decoded=$(printf "$piece.")',
  '  decoded=${decoded#?}',
  '  text=$text${decoded%.}',
  '  case $piece in',
  '    f*) set -- "$@" $text; text= ;;',
  '    w*) set -- "$@" "$text"; text= ;;',
  '  esac',
  'done',
  'IFS=$shell_ifs',
  'shift "$pieces"',
  'if [ -n "$1" ]; then cd "$1" || exit 126; fi',
  'DT_SESSION=$2; export DT_SESSION',
  'variables=$3',
  'others=$4',
  'shift 4',
  'while [ "$variables" -gt 0 ]; do export "$1"; shift; variables=$((variables - 1)); done',
  `if [ "$others" -gt 0 ]; then exec ${ENV_PROGRAM} -i -- "$@"; fi`,
  'exec "$@"',
].join('\n');

/** exec(2) refuses a single argument of this many bytes or more (MAX_ARG_STRLEN, with its NUL). */
const MAX_ARGUMENT_BYTES = 128 * 1024;

/**
 * Separators, best first: bytes that printf prints as themselves and that field splitting
 * takes as a plain delimiter in every shell (bash: not \001 nor \177, which it uses inside;
 * not \v, \f, \r, which it merges as white space), control characters before printable ones.
 */
const SEPARATORS = [
  ...Array.from({ length: 7 }, (_, index) => 2 + index),
  ...Array.from({ length: 18 }, (_, index) => 14 + index),
  ...Array.from({ length: 94 }, (_, index) => 33 + index).filter((code) => code !== 0x25 && code !== 0x5c),
].map((code) => String.fromCharCode(code));

/** What printf(1) would not print as itself in its format: escapes, conversions, and bytes that are not UTF-8. */
const NOT_PLAIN = /[\\%]|(?<![\ud800-\udbff])[\udc80-\udcff]/g;

/** A name the shell can export. */
const SHELL_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `command`, `cwd`, `socket` and `env`'s values as bytes.ts strings; `env` without DT_SESSION. */
export function programLaunch(command: readonly string[], cwd: string, socket: string, env: Record<string, string>): ProgramLaunch {
  if (isExact(command, cwd, socket, env)) return { file: command[0]!, args: command.slice(1), cwd, env: { ...env, DT_SESSION: socket } };
  const { exported, others, passed } = shellRoute(command, socket, env);
  const words = [
    hasEscapedBytes(cwd) ? cwd : '', socket, String(exported.length), String(others.length),
    ...assignments(exported), ...assignments(others), ...command,
  ];
  const separator = leastUsedSeparator(words);
  return {
    file: '/bin/sh',
    args: ['-c', DECODE_AND_EXEC, 'sh', separator, ...formatPieces(words, separator)],
    cwd: hasEscapedBytes(cwd) ? '/' : cwd,
    env: passed,
  };
}

/**
 * What the program's terminal adds to the environment of what it starts, as node-pty's spawn
 * does for every program: the terminal type, and the working directory.
 */
export function withTerminalDefaults(env: Record<string, string>, cwd: string): Record<string, string> {
  return { ...env, TERM: env['TERM'] ?? 'xterm', PWD: cwd };
}

/**
 * The program's environment: the master's own, which is the user's as Node decoded it, with
 * the exact values of MasterSpec.environment over it. A creating command, whose own
 * environment the master's is made from, gets the same.
 */
export function programEnvironment(processEnv: NodeJS.ProcessEnv, exact: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(processEnv)) if (value !== undefined) env[key] = value;
  return Object.assign(env, exact);
}

/**
 * Every exec(2) that `launch`, programLaunch's for the same arguments, makes on the way to the
 * program, for exec-limits.ts: the program's own; or /bin/sh's, then env(1)'s (with the
 * environment the shell has then: what it started with, DT_SESSION, and PWD and OLDPWD after
 * a cd, as dash has them), then the program's.
 */
export function programExecs(launch: ProgramLaunch, command: readonly string[], cwd: string, socket: string, env: Record<string, string>): ExecStep[] {
  const started = withTerminalDefaults(launch.env, launch.cwd);
  const first: ExecStep = { file: launch.file, argv: [launch.file, ...launch.args], env: assignments(Object.entries(started)), cwd: launch.cwd };
  if (isExact(command, cwd, socket, env)) return [first];
  const { byShell, exported, others } = shellRoute(command, socket, env);
  const moved = hasEscapedBytes(cwd) ? { PWD: cwd, OLDPWD: launch.cwd } : {};
  const shell = assignments([...Object.entries({ ...started, ...moved, DT_SESSION: socket }), ...exported]);
  if (byShell) return [first, { file: command[0]!, argv: command, env: shell, cwd }];
  const program = assignments(others);
  return [
    first,
    { file: ENV_PROGRAM, argv: [ENV_PROGRAM, '-i', '--', ...program, ...command], env: shell, cwd },
    { file: command[0]!, argv: command, env: program, cwd },
  ];
}

/**
 * Why the program cannot be started when exec(2) would refuse one of the execs of `launch`,
 * programLaunch's for the same arguments, as too large (E2BIG, exec-limits.ts), under this
 * process's limits; undefined when they fit. Asked by the creating command before anything is
 * made for the session, and by the master before it forks the program.
 */
export function tooLargeToExec(launch: ProgramLaunch, command: readonly string[], cwd: string, socket: string, env: Record<string, string>): DtError | undefined {
  if (!isTooLargeToExec(programExecs(launch, command, cwd, socket, env))) return undefined;
  return new DtError(`could not execute ${command[0]}: ${ARGUMENT_LIST_TOO_LONG}`);
}

function isExact(command: readonly string[], cwd: string, socket: string, env: Record<string, string>): boolean {
  return [...command, cwd, socket, ...Object.values(env)].every((word) => !hasEscapedBytes(word));
}

/**
 * Through the shell: the variables it exports itself, those env(1) sets, and those it starts
 * with. env(1) takes every word with a "=" for a variable: a program named so is exec-ed by
 * the shell, with the shell's environment (the values that are not UTF-8 exported by it).
 */
function shellRoute(command: readonly string[], socket: string, env: Record<string, string>): {
  byShell: boolean; exported: Array<[string, string]>; others: Array<[string, string]>; passed: Record<string, string>;
} {
  const byShell = command[0]!.includes('=');
  const exportedByShell = ([name, value]: [string, string]): boolean => hasEscapedBytes(value) && SHELL_VARIABLE_NAME.test(name);
  return {
    byShell,
    exported: byShell ? Object.entries(env).filter(exportedByShell) : [],
    others: byShell ? [] : [...Object.entries(env), ['DT_SESSION', socket]],
    passed: byShell ? Object.fromEntries(Object.entries(env).filter((entry) => !exportedByShell(entry))) : {},
  };
}

function assignments(variables: Array<[string, string]>): string[] {
  return variables.map(([name, value]) => `${name}=${value}`);
}

/** The separator the fewest words hold (usually none). */
function leastUsedSeparator(words: readonly string[]): string {
  const holders = new Array<number>(128).fill(0);
  const lastHolder = new Array<number>(128).fill(-1);
  words.forEach((word, index) => {
    for (let at = 0; at < word.length; at++) {
      const unit = word.charCodeAt(at);
      if (unit < 128 && lastHolder[unit] !== index) {
        lastHolder[unit] = index;
        holders[unit]!++;
      }
    }
  });
  let best = SEPARATORS[0]!;
  for (const separator of SEPARATORS) if (holders[separator.charCodeAt(0)]! < holders[best.charCodeAt(0)]!) best = separator;
  return best;
}

/** The words as printf format pieces, each an argument exec takes (see DECODE_AND_EXEC). */
function formatPieces(words: readonly string[], separator: string): string[] {
  const pieces = new PieceWriter();
  for (const word of words) {
    if (!word.includes(separator)) {
      pieces.write(format(word) + separator);
      continue;
    }
    pieces.end('f');
    pieces.write(format(word));
    pieces.end('w');
  }
  pieces.end('f');
  return pieces.pieces;
}

/** The word as a printf format: octal escapes only where needed, to stay short. */
function format(word: string): string {
  return word.replace(NOT_PLAIN, (character) => (character === '\\' ? '\\\\' : character === '%' ? '%%' : octal(character.charCodeAt(0) - 0xdc00)));
}

function octal(byte: number): string {
  return `\\${byte.toString(8).padStart(3, '0')}`;
}

/** Cuts a format into pieces of at most MAX_ARGUMENT_BYTES with their kind and NUL, never within an escape or a character. */
class PieceWriter {
  readonly pieces: string[] = [];
  private parts: string[] = [];
  private bytes = 0;
  private static readonly MAX_FORMAT_BYTES = MAX_ARGUMENT_BYTES - 2;

  /** A format of any length, or a part of one that ends between escapes. */
  write(text: string): void {
    let rest = text;
    for (;;) {
      const length = Buffer.byteLength(rest);
      if (this.bytes + length <= PieceWriter.MAX_FORMAT_BYTES) {
        if (length > 0) this.parts.push(rest);
        this.bytes += length;
        return;
      }
      const fits = this.prefixThatFits(rest);
      this.parts.push(rest.slice(0, fits));
      rest = rest.slice(fits);
      this.cut('c');
    }
  }

  /** Ends the pending words (a piece is cut only where more follows): `kind` tells the shell what they are. */
  end(kind: 'f' | 'w'): void {
    if (this.parts.length > 0) this.cut(kind);
  }

  private cut(kind: 'c' | 'f' | 'w'): void {
    this.pieces.push(kind + this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
  }

  /** How many code units of the format `text` fit in the current piece: whole escapes and characters only. */
  private prefixThatFits(text: string): number {
    let bytes = this.bytes;
    let index = 0;
    while (index < text.length) {
      const unit = text.charCodeAt(index);
      const next = text.charCodeAt(index + 1);
      let units = 1;
      let size: number;
      if (unit === 0x5c) units = size = next === 0x5c ? 2 : 4; // \\ or \ooo
      else if (unit === 0x25) units = size = 2; // %%
      else if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) [units, size] = [2, 4];
      else size = unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
      if (bytes + size > PieceWriter.MAX_FORMAT_BYTES) break;
      bytes += size;
      index += units;
    }
    return index;
  }
}
