// How the program is exec-ed so that it receives exactly the bytes it was given. node-pty
// takes strings and encodes them as UTF-8, so a word that is not UTF-8 (a Latin-1 file name)
// cannot pass through it. Such a command, a socket path (DT_SESSION), a working directory or
// an environment variable's value that is not UTF-8 goes through /bin/sh instead: in each
// such word the bytes that are not UTF-8 (and printf's own \ and %) travel as printf(1) octal
// escapes, the shell decodes them, exports the variables, and execs the program with its
// exact argv (argv[0] included), in its exact directory, with DT_SESSION and those variables
// exact. An escaped byte takes 4 bytes: a word must still fit exec's 128 KiB.

import { encodeBytes, hasEscapedBytes } from '../common/bytes.js';

export interface ProgramLaunch {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/**
 * $1: directory to change to, or empty; $2: DT_SESSION; $3: how many NAME=VALUE words follow
 * to export; $4: how many NAME=VALUE words follow those for env(1) (names the shell cannot
 * hold: it drops such variables as it starts); then the command. Each word is "r" and itself, or "e" and printf escapes to
 * decode (a "." is appended and removed again, as command substitution would drop trailing
 * newlines).
 */
const DECODE_AND_EXEC = [
  'for word do',
  '  case $word in',
  '    r*) word=${word#r} ;;',
  '    *) word=$(printf "${word#e}."); word=${word%.} ;;',
  '  esac',
  '  set -- "$@" "$word"',
  '  shift',
  'done',
  'if [ -n "$1" ]; then cd "$1" || exit 126; fi',
  'DT_SESSION=$2; export DT_SESSION',
  'variables=$3',
  'others=$4',
  'shift 4',
  'while [ "$variables" -gt 0 ]; do export "$1"; shift; variables=$((variables - 1)); done',
  'if [ "$others" -gt 0 ]; then exec /usr/bin/env "$@"; fi',
  'exec "$@"',
].join('\n');

/** What printf(1) would not print as itself in its format: escapes, conversions, and bytes that are not UTF-8. */
const NOT_PLAIN = /[\\%]|(?<![\ud800-\udbff])[\udc80-\udcff]/g;

/** A name the shell can export; a variable of another name (A-B, a.b) is handed to env(1). */
const SHELL_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `command`, `cwd`, `socket` and `env`'s values as bytes.ts strings; `env` without DT_SESSION. */
export function programLaunch(command: readonly string[], cwd: string, socket: string, env: Record<string, string>): ProgramLaunch {
  const exported = Object.entries(env).filter(([name, value]) => hasEscapedBytes(value) && SHELL_VARIABLE_NAME.test(name));
  const exact = exported.length === 0 && [...command, cwd, socket].every((word) => !hasEscapedBytes(word));
  if (exact) return { file: command[0]!, args: command.slice(1), cwd, env: { ...env, DT_SESSION: socket } };
  // env(1) takes every word with a "=" for a variable: a program named so keeps the shell's environment.
  const others = command[0]!.includes('=') ? [] : Object.entries(env).filter(([name]) => !SHELL_VARIABLE_NAME.test(name));
  const passed = { ...env };
  for (const [name] of [...exported, ...others]) delete passed[name];
  const assignments = (variables: Array<[string, string]>): string[] => variables.map(([name, value]) => encodeWord(`${name}=${value}`));
  return {
    file: '/bin/sh',
    args: [
      '-c', DECODE_AND_EXEC, 'sh', encodeWord(hasEscapedBytes(cwd) ? cwd : ''), encodeWord(socket),
      encodeWord(String(exported.length)), encodeWord(String(others.length)), ...assignments(exported), ...assignments(others),
      ...command.map(encodeWord),
    ],
    cwd: hasEscapedBytes(cwd) ? '/' : cwd,
    env: passed,
  };
}

/** "r" and the word, or "e" and the word with printf octal escapes where needed (only there, to stay short). */
function encodeWord(word: string): string {
  if (!hasEscapedBytes(word)) return `r${word}`;
  return `e${word.replace(NOT_PLAIN, (character) => octal(encodeBytes(character)[0]!))}`;
}

function octal(byte: number): string {
  return `\\${byte.toString(8).padStart(3, '0')}`;
}
