// The program launch through /bin/sh for words that are not UTF-8: run the real shell with
// what programLaunch gives, and see what the program received.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBytes } from '../../src/common/bytes.js';
import { programLaunch, type ProgramLaunch } from '../../src/common/program-launch.js';

/** The launch of `printf %s "$1"` as the program with `word` as $1, through the shell. */
function launchPrintingOne(word: Buffer): ProgramLaunch {
  const command = ['/bin/sh', '-c', 'printf %s "$1"', decodeBytes(Buffer.from('sh\xe9', 'latin1')), decodeBytes(word)];
  const launch = programLaunch(command, '/', '/tmp/s', {});
  expect(launch.file).toBe('/bin/sh');
  return launch;
}

/** What `printf %s "$1"` prints when launched as the program with `word` as $1. */
function receivedBy(word: Buffer): Buffer {
  const launch = launchPrintingOne(word);
  const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
  expect(result.stderr.toString()).toBe('');
  return result.stdout;
}

/** exec(2) refuses a single argument of this many bytes or more (MAX_ARG_STRLEN, with its NUL). */
const MAX_ARGUMENT_BYTES = 128 * 1024;

/** How many launches the tests that make hundreds run at once. */
const LAUNCHES_AT_ONCE = 8;

/**
 * What each of `words` gives receivedBy, the launches run LAUNCHES_AT_ONCE at a time: each
 * starts several processes (the shell, a command substitution per piece, env, the program),
 * and one after the other, on a busy machine, hundreds of them took most of a test's time
 * limit waiting for a processor each time.
 */
async function receivedByEach(words: Buffer[]): Promise<Buffer[]> {
  const received: Buffer[] = [];
  let next = 0;
  const runner = async (): Promise<void> => {
    for (let index = next++; index < words.length; index = next++) received[index] = await receivedByAtOnce(words[index]!);
  };
  await Promise.all(Array.from({ length: LAUNCHES_AT_ONCE }, runner));
  return received;
}

/** receivedBy, without blocking: the launch runs while others do. */
async function receivedByAtOnce(word: Buffer): Promise<Buffer> {
  const launch = launchPrintingOne(word);
  const child = spawn(launch.file, launch.args, { cwd: launch.cwd, env: launch.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  expect(Buffer.concat(stderr).toString()).toBe('');
  return Buffer.concat(stdout);
}

/** A shell that runs the launch as sh does, if installed: bash is /bin/sh on many systems. */
const BASH = ['/bin/bash', '/usr/bin/bash'].find((file) => fs.existsSync(file));

/**
 * Checks that the program receives `words` exactly as its arguments (the program, sh printing
 * its argv NUL-terminated, is named with a byte that is not UTF-8, so the launch goes through
 * the shell), run by `shell`.
 */
function expectReceived(words: Buffer[], shell = '/bin/sh'): void {
  const launch = launchPrinting(words);
  expect(launch.file).toBe('/bin/sh');
  // Every argument is one exec takes; no word is in the script, which is always the same.
  for (const arg of launch.args) expect(Buffer.byteLength(arg)).toBeLessThan(MAX_ARGUMENT_BYTES);
  expect(launch.args[1]).toBe(programLaunch(['/bin/sh\udce9'], '/', '/', {}).args[1]);
  const result = spawnSync(shell, launch.args, { argv0: 'sh', cwd: launch.cwd, env: launch.env, maxBuffer: 16 * 1024 * 1024 });
  expect(result.stderr.toString()).toBe('');
  expect(result.status).toBe(0);
  const received: Buffer[] = [];
  for (let start = 0; start < result.stdout.length;) {
    const end = result.stdout.indexOf(0, start);
    received.push(result.stdout.subarray(start, end));
    start = end + 1;
  }
  // As latin1 text: a mismatch shows where; comparing Buffers element by element is slow.
  expect(received.map((word) => word.toString('latin1'))).toEqual(['sh\xe9', ...words.map((word) => word.toString('latin1'))]);
}

/** The launch of sh printing its argv NUL-terminated, named with a byte that is not UTF-8, with `words` as its arguments. */
function launchPrinting(words: Buffer[]): ProgramLaunch {
  const command = ['/bin/sh', '-c', 'printf "%s\\0" "$0" "$@"', decodeBytes(Buffer.from('sh\xe9', 'latin1')), ...words.map(decodeBytes)];
  return programLaunch(command, '/', '/tmp/s', {});
}

/** Bytes 1 to 255 over and over, `length` of them. */
function everyByte(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, index) => 1 + (index % 255)));
}

describe('programLaunch', () => {
  it('execs a command that is UTF-8 directly, argv[0] as given, DT_SESSION in its environment', () => {
    expect(programLaunch(['vim', 'café'], '/home', '/tmp/s', { A: '1' }))
      .toEqual({ file: 'vim', args: ['café'], cwd: '/home', env: { A: '1', DT_SESSION: '/tmp/s' } });
  });

  it('passes every byte value, alone, through the shell exactly', async () => {
    const words = Array.from({ length: 255 }, (_, index) => Buffer.of(index + 1));
    // As latin1 text: a mismatch shows which byte.
    expect((await receivedByEach(words)).map((word) => word.toString('latin1'))).toEqual(words.map((word) => word.toString('latin1')));
  });

  it('passes trailing newlines, %, backslashes and quotes exactly', () => {
    const word = Buffer.from('a%s\\n\\\\"\'$x`\xff\n\n', 'latin1');
    expect(receivedBy(word)).toEqual(word);
    expect(receivedBy(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });

  it('passes a long word with UTF-8 and other bytes exactly, escaping only what it must', () => {
    const word = Buffer.concat([Buffer.from('日本語 café '.repeat(3000), 'utf8'), Buffer.from([0xff, 0x25, 0x5c, 0xe9])]);
    expect(receivedBy(word)).toEqual(word);
    // 3 bytes more for each byte that is not UTF-8 (an octal escape), 1 more for % and \\.
    const launchBytes = (text: Buffer): number => Buffer.byteLength(programLaunch(['/bin/echo', decodeBytes(text)], '/', '/tmp/s\udcff', {}).args.join(''));
    expect(launchBytes(word) - launchBytes(Buffer.alloc(0))).toBe(word.length + 2 * 3 + 2 * 1);
  });

  it('passes 20,000 words, one of them not UTF-8, exactly, in one go', () => {
    const words = Array.from({ length: 20_000 }, (_, index) => Buffer.from(`word-${index}`));
    words[10_000] = Buffer.from('caf\xe9', 'latin1');
    expectReceived(words);
  });

  it('passes words as long as exec takes (128 KiB), of every byte value or all not UTF-8, exactly, in arguments exec takes', () => {
    const words = [everyByte(MAX_ARGUMENT_BYTES - 1), Buffer.alloc(MAX_ARGUMENT_BYTES - 1, 0xe9), Buffer.from('a')];
    expectReceived(words);
  });

  it('passes words that start with "-", where an argument to printf may start too, exactly', () => {
    // Cut into pieces, the format goes on with a "-" in the middle of a word.
    const words = [Buffer.from('-\xe9', 'latin1'), ...Array.from({ length: 20_000 }, () => Buffer.from('-'.repeat(9)))];
    expectReceived(words);
  });

  it('passes words that hold every byte the shell could split on, and empty words, exactly', () => {
    const bytes = Array.from({ length: 255 }, (_, index) => Buffer.of(index + 1));
    const words = [Buffer.alloc(0), ...bytes, Buffer.alloc(0), Buffer.from('a\x02b\x02'), Buffer.alloc(0), ...bytes, everyByte(600), Buffer.alloc(0)];
    expectReceived(words);
  });

  it('passes words exactly when the shell splits them on a printable byte, even "-"', () => {
    // Every other byte the shell could split on is in three words; "-" is in one (the program's -c).
    const others = Buffer.from(Array.from({ length: 127 }, (_, index) => index + 1).filter((byte) => byte !== 0x2d));
    const words = [others, others, Buffer.from('a'), others];
    expect(launchPrinting(words).args[3]).toBe('-');
    expectReceived(words);
  });

  it('passes words exactly wherever the format is cut into arguments, before, at or after a word\'s end', () => {
    // The second word holds every byte the shell could split on: the first ends the words split apart.
    const ascii = Buffer.from(Array.from({ length: 127 }, (_, index) => index + 1));
    for (let length = MAX_ARGUMENT_BYTES - 80; length < MAX_ARGUMENT_BYTES - 40; length++) {
      const words = [Buffer.alloc(length, 'x'), ascii, Buffer.from('y')];
      expectReceived(words);
    }
  });

  it.skipIf(BASH === undefined)('launches the same way when sh is bash', () => {
    const words = [Buffer.alloc(0), ...Array.from({ length: 255 }, (_, index) => Buffer.of(index + 1)), everyByte(MAX_ARGUMENT_BYTES - 1), Buffer.alloc(0)];
    expectReceived(words, BASH);
  });

  it('gives the program DT_SESSION and its working directory exactly', () => {
    const directory = decodeBytes(Buffer.from('/tmp', 'latin1'));
    const socket = decodeBytes(Buffer.from('/tmp/s\xff\n', 'latin1'));
    const launch = programLaunch(['/bin/sh', '-c', 'printf "%s|%s" "$DT_SESSION" "$PWD"'], directory, socket, {});
    const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
    expect(result.stdout).toEqual(Buffer.from('/tmp/s\xff\n|/tmp', 'latin1'));
  });

  it('gives the program environment values that are not UTF-8 exactly, and the others as they are, whatever its command', () => {
    const latin = Buffer.from('caf\xe9 a%s\\n"\'$x\n', 'latin1');
    const env = { LATIN: decodeBytes(latin), PLAIN: 'café' };
    const launch = programLaunch(['/bin/sh', '-c', 'printf "%s|%s|%s" "$LATIN" "$PLAIN" "$DT_SESSION"'], '/', '/tmp/s', env);
    expect(launch.file).toBe('/bin/sh');
    const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
    expect(result.stderr.toString()).toBe('');
    expect(result.stdout).toEqual(Buffer.concat([latin, Buffer.from('|café|/tmp/s')]));
  });

  it('keeps the variables whose names the shell cannot hold (it drops them as it starts), unless the program\'s name has a "="', () => {
    // "-x" first: env(1) would take it for an option.
    const env = { '-x': 'y', 'A-B': 'x', 'a.b': decodeBytes(Buffer.from('\xff', 'latin1')), PLAIN: '1' };
    const environmentOf = (program: string): string[] => {
      // A socket path that is not UTF-8: the launch goes through the shell.
      const launch = programLaunch([program, '-0'], '/', '/tmp/s\udcff', env);
      expect(launch.file).toBe('/bin/sh');
      const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
      expect(result.stderr.toString()).toBe('');
      return result.stdout.toString('latin1').split('\0').filter((entry) => /^(-x|A-B|a\.b|PLAIN|DT_SESSION)=/.test(entry)).sort();
    };
    expect(environmentOf('/usr/bin/env')).toEqual(['-x=y', 'A-B=x', 'DT_SESSION=/tmp/s\xff', 'PLAIN=1', 'a.b=\xff']);
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-launch-'));
    try {
      fs.symlinkSync('/usr/bin/env', path.join(directory, 'e=nv'));
      expect(environmentOf(path.join(directory, 'e=nv'))).toEqual(['DT_SESSION=/tmp/s\xff', 'PLAIN=1']);
    } finally {
      fs.rmSync(directory, { recursive: true });
    }
  });

  it('takes the route through the shell for a variable that is not UTF-8 whatever its name', () => {
    const launch = programLaunch(['/usr/bin/env', '-0'], '/', '/tmp/s', { 'a.b': decodeBytes(Buffer.from('\xff', 'latin1')) });
    expect(launch.file).toBe('/bin/sh');
    const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
    expect(result.stdout.toString('latin1').split('\0')).toContain('a.b=\xff');
  });

  it('gives the program the variables the shell sets or drops itself exactly', () => {
    const env = { IFS: 'x', LINENO: 'l', OLDPWD: '/o', OPTIND: '7', PPID: 'p', PS1: '1', PS2: '2', PS4: '4', PWD: '/p', SHLVL: '9' };
    const launch = programLaunch(['/usr/bin/env', '-0'], '/tmp\udcff', '/tmp/s', env);
    expect(launch.file).toBe('/bin/sh');
    fs.mkdirSync(Buffer.from('/tmp\xff', 'latin1'), { recursive: true });
    for (const shell of ['/bin/sh', ...(BASH === undefined ? [] : [BASH])]) {
      const result = spawnSync(shell, launch.args, { argv0: 'sh', cwd: launch.cwd, env: launch.env });
      expect(result.stderr.toString()).toBe('');
      const received = result.stdout.toString('latin1').split('\0').filter((entry) => /^[A-Z0-9]+=/.test(entry.split('=')[0] + '=') && entry.split('=')[0]! in env);
      expect(Object.fromEntries(received.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]))).toEqual(env);
    }
  });
  it('gives the program exactly its environment, whatever sh adds (PWD, SHLVL) or takes from it (SHELLOPTS), even none', () => {
    fs.mkdirSync(Buffer.from('/tmp\xff', 'latin1'), { recursive: true });
    const environments: Array<Record<string, string>> = [{}, { SHELLOPTS: 'xtrace:noexec', BASHOPTS: 'x', SECONDS: 'abc', RANDOM: '4' }];
    for (const env of environments) {
      const launch = programLaunch(['/usr/bin/env', '-0'], '/tmp\udcff', '/tmp/s', env);
      for (const shell of ['/bin/sh', ...(BASH === undefined ? [] : [BASH])]) {
        const result = spawnSync(shell, launch.args, { argv0: '/bin/sh', cwd: launch.cwd, env: launch.env });
        expect(result.stderr.toString()).toBe('');
        expect(result.stdout.toString('latin1').split('\0').filter((entry) => entry !== '').sort())
          .toEqual([...Object.entries(env).map(([name, value]) => `${name}=${value}`), 'DT_SESSION=/tmp/s'].sort());
      }
    }
  });

  it('starts a program whose name starts with "-", found in a PATH that is not UTF-8, when sh is bash too', () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-launch-'));
    try {
      const bin = Buffer.from(`${directory}/bin\xe9`, 'latin1');
      fs.mkdirSync(bin);
      fs.symlinkSync('/usr/bin/env', Buffer.concat([bin, Buffer.from('/-env')]));
      const launch = programLaunch(['-env', '-0'], '/', '/tmp/s', { PATH: decodeBytes(bin) });
      expect(launch.file).toBe('/bin/sh');
      for (const shell of ['/bin/sh', ...(BASH === undefined ? [] : [BASH])]) {
        const result = spawnSync(shell, launch.args, { argv0: '/bin/sh', cwd: launch.cwd, env: launch.env });
        expect(result.stderr.toString()).toBe('');
        expect(result.stdout.toString('latin1').split('\0')).toContain(`PATH=${bin.toString('latin1')}`);
      }
    } finally {
      fs.rmSync(directory, { recursive: true });
    }
  });
});
