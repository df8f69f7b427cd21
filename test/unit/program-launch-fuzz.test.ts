// Random launches, from fixed seeds: commands of random bytes (empty words, words starting
// with "-", "%" or "\", words holding every separator, now and then a word near 128 KiB),
// working directories and socket paths with odd bytes, environments with names the shell
// cannot hold or sets itself and values of random bytes. Each launch is run exactly as the
// master execs it (file, args, cwd, env as node-pty gets them) by dash and by bash as sh; the
// program, sh under an odd name, reads its own argv and environ from /proc and prints its
// directory: all must be exactly what was asked, DT_SESSION added.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBytes, encodeBytes } from '../../src/common/bytes.js';
import { programLaunch } from '../../src/common/program-launch.js';
import { seededRandom } from '../seeded-random.js';

/** The seeds run every time; set DT_LAUNCH_SEEDS=first:count to hunt with more. */
const SEEDS = seedsToRun();
const BASH = ['/bin/bash', '/usr/bin/bash'].find((file) => fs.existsSync(file));
const MAX_ARGUMENT_BYTES = 128 * 1024;
/** The program: reads its exact argv and environ, then prints its directory. */
const DUMP = '/bin/cat /proc/$$/cmdline; echo; /bin/cat /proc/$$/environ; echo; pwd -P';
const SET_BY_SHELL = ['IFS', 'PWD', 'OLDPWD', 'PPID', 'OPTIND', 'SHLVL', 'PS1', 'PS2', 'PS4', 'LINENO', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'BASH_ENV', 'RANDOM', 'SECONDS', 'BASH_ARGV0', '_', 'UID', 'PATH', 'HOME', 'CDPATH'];

const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dt-launch-fuzz-')));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Directories with odd names (not UTF-8, newlines, "%", "\", "-"), each holding the program under odd names. */
const directories = ['plain', 'caf\xe9', '\n-%s\\n\xff', ' a b\t', '\x01\x7f\x80'].map((name) => {
  const directory = Buffer.concat([Buffer.from(`${root}/`), Buffer.from(name, 'latin1')]);
  fs.mkdirSync(directory);
  return directory;
});
const PROGRAM_NAMES = ['sh', 'sh\xe9', 'sh-\xff', '%s\\', 'x y\n'].map((name) => Buffer.from(name, 'latin1'));
for (const directory of directories) {
  for (const name of PROGRAM_NAMES) fs.symlinkSync('/bin/sh', Buffer.concat([directory, Buffer.from('/'), name]));
}

interface Case {
  /** The program: an absolute path, or a name found in PATH. */
  program: Buffer;
  words: Buffer[];
  cwd: Buffer;
  socket: Buffer;
  env: Array<[string, Buffer]>;
}


function generate(seed: number): Case {
  const next = seededRandom(seed);
  const below = (count: number): number => Math.floor(next() * count);
  const pick = <T>(items: readonly T[]): T => items[below(items.length)]!;
  const bytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => 1 + below(255)));
  const utf8 = (length: number): Buffer => Buffer.from(Array.from({ length }, () => pick(['a', 'é', '日', '😀', ' ', '-', '%', '\\', '\n', '=', '\x02', '!'])).join(''));
  const word = (): Buffer => {
    const kind = below(10);
    if (kind === 0) return Buffer.alloc(0);
    if (kind === 1) return Buffer.concat([Buffer.from(pick(['-', '%', '\\', '--', '-e', '%s', '\\0', '='])), bytes(below(8))]);
    if (kind === 2) return Buffer.from(Array.from({ length: 127 }, (_, index) => index + 1));
    if (kind === 3) return utf8(below(12));
    return bytes(below(20));
  };
  const directory = pick(directories);
  const name = pick(PROGRAM_NAMES);
  const throughPath = below(3) === 0;
  const env: Array<[string, Buffer]> = [];
  const names = new Set<string>();
  for (let count = below(4) === 0 ? 0 : below(12); count > 0; count--) {
    const variable = pick([
      () => pick(SET_BY_SHELL),
      () => `V${below(100)}`,
      () => pick(['-x', 'A-B', 'a.b', '1A', 'é', '%s', 'BASH_FUNC_f%%', ' ', 'A\\B', '\x01']),
    ])();
    if (names.has(variable) || variable === 'PATH') continue;
    names.add(variable);
    // The program, sh, refuses to start with an OPTIND that is not a number.
    if (variable === 'OPTIND') env.push([variable, Buffer.from(String(below(100)))]);
    else env.push([variable, below(2) === 0 ? bytes(below(30)) : utf8(below(10))]);
  }
  if (throughPath) env.push(['PATH', Buffer.concat([Buffer.from('/nowhere:'), directory])]);
  const count = 1 + below(below(5) === 0 ? 100 : 8);
  const words = Array.from({ length: count }, word);
  // Now and then one long word: near what exec takes, or long and UTF-8.
  const long = below(12);
  if (long === 0) words.splice(below(count), 0, bytes(MAX_ARGUMENT_BYTES - 1 - below(3000)));
  if (long === 1) words.splice(below(count), 0, utf8(below(40_000)));
  return {
    program: throughPath ? name : Buffer.concat([directory, Buffer.from('/'), name]),
    words,
    cwd: pick(directories),
    socket: Buffer.concat([Buffer.from('/tmp/'), below(2) === 0 ? bytes(below(20)).filter((byte) => byte !== 0x2f) : Buffer.from('s')]),
    env,
  };
}

/** Runs the launch as the master would, with `shell` as /bin/sh; what the program saw. */
function run(test: Case, shell: string): { argv: Buffer[]; environ: Buffer[]; cwd: Buffer; stderr: string; through: boolean } {
  const command = [test.program, Buffer.from('-c'), Buffer.from(DUMP), ...test.words].map(decodeBytes);
  const env = Object.fromEntries(test.env.map(([name, value]) => [name, decodeBytes(value)]));
  const launch = programLaunch(command, decodeBytes(test.cwd), decodeBytes(test.socket), env);
  const through = launch.file === '/bin/sh';
  // node-pty passes file as argv[0], and each string as UTF-8: escaped bytes would not survive.
  const result = spawnSync(through ? shell : launch.file, launch.args, {
    argv0: launch.file, cwd: launch.cwd, env: launch.env, maxBuffer: 64 * 1024 * 1024,
  });
  const out = result.stdout;
  const argv: Buffer[] = [];
  let at = 0;
  for (let index = 0; index < command.length && at < out.length; index++) {
    const end = out.indexOf(0, at);
    if (end < 0) break;
    argv.push(out.subarray(at, end));
    at = end + 1;
  }
  at++; // the newline after argv
  const rest = out.subarray(at);
  const environEnd = rest.lastIndexOf(0) + 1;
  const environ = splitWords(rest.subarray(0, environEnd));
  const cwd = rest.subarray(environEnd + 1, Math.max(environEnd + 1, rest.length - 1));
  return { argv, environ, cwd, stderr: result.stderr.toString() + (result.error ? String(result.error) : ''), through };
}

function splitWords(bytes: Buffer): Buffer[] {
  const words: Buffer[] = [];
  for (let start = 0; start < bytes.length;) {
    const end = bytes.indexOf(0, start);
    words.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return words;
}

/** Latin-1 text shows where bytes differ; comparing Buffers byte by byte is slow. */
const text = (bytes: Buffer): string => bytes.toString('latin1');

function expectExact(seed: number, shell: string): boolean {
  const test = generate(seed);
  const seen = run(test, shell);
  const expectedEnv = new Map(test.env.map(([name, value]) => [text(Buffer.from(name)), text(encodeBytes(decodeBytes(value)))]));
  expectedEnv.set('DT_SESSION', text(test.socket));
  const context = `seed ${seed}, ${shell}${seen.through ? ' (through sh)' : ''}: ${seen.stderr}`;
  expect(seen.stderr, context).toBe('');
  expect(seen.argv.map(text), context).toEqual([test.program, Buffer.from('-c'), Buffer.from(DUMP), ...test.words].map(text));
  expect(seen.environ.map(text).sort(), context).toEqual([...expectedEnv].map(([name, value]) => `${name}=${value}`).sort());
  expect(text(seen.cwd), context).toBe(text(test.cwd));
  return seen.through;
}

function seedsToRun(): number[] {
  const hunt = /^(\d+):(\d+)$/.exec(process.env['DT_LAUNCH_SEEDS'] ?? '');
  if (hunt) return Array.from({ length: Number(hunt[2]) }, (_, index) => Number(hunt[1]) + index);
  return Array.from({ length: 40 }, (_, index) => index + 1);
}

describe('programLaunch, random launches', () => {
  it.each(['/bin/sh', ...(BASH === undefined ? [] : [BASH])])('gives the program exactly its argv, directory and environment, sh being %s', (shell) => {
    let through = 0;
    for (const seed of SEEDS) if (expectExact(seed, shell)) through++;
    // Most launches have a byte that is not UTF-8 somewhere and go through the shell.
    expect(through).toBeGreaterThan(SEEDS.length / 2);
  }, 10_000 + 100 * SEEDS.length);
});
