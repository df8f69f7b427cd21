// exec(2)'s size limits as exec-limits.ts counts them, checked against the kernel itself at
// each edge: a command of exactly the size it allows is exec-ed, one byte more is refused
// with E2BIG, under the stack limit this test runs with.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { computeExecLimits, exceedsExecLimits, readExecLimits, type ExecLimits, type ExecStep } from '../../src/common/exec-limits.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('computeExecLimits', () => {
  it.each([
    { stack: 8 * MiB, page: 4 * KiB, total: 2 * MiB, word: 128 * KiB },
    { stack: 1 * MiB, page: 4 * KiB, total: 256 * KiB, word: 128 * KiB },
    { stack: 256 * KiB, page: 4 * KiB, total: 128 * KiB, word: 128 * KiB }, // never below 32 pages
    { stack: 64 * MiB, page: 4 * KiB, total: 6 * MiB, word: 128 * KiB }, // 3/4 of _STK_LIM at most
    { stack: Infinity, page: 4 * KiB, total: 6 * MiB, word: 128 * KiB },
    { stack: 8 * MiB, page: 64 * KiB, total: 2 * MiB, word: 2 * MiB },
    { stack: 1 * MiB, page: 64 * KiB, total: 2 * MiB, word: 2 * MiB },
  ])('stack $stack, page $page: $total in all, words under $word', ({ stack, page, total, word }) => {
    expect(computeExecLimits(stack, page)).toEqual({ totalBytes: total, refusedStringBytes: word + 1, pointerBytes: 8 });
  });
});

const limits = readExecLimits();
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-exec-limits-'));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

/** Exec-s `step` for real: true when the kernel took it (the program ran), false on E2BIG. */
function kernelTakes(step: ExecStep): boolean {
  const env = Object.fromEntries(step.env.map((variable) => [variable.slice(0, variable.indexOf('=')), variable.slice(variable.indexOf('=') + 1)]));
  const result = spawnSync(step.file, step.argv.slice(1), { argv0: step.argv[0], env, cwd: step.cwd, stdio: 'ignore' });
  if (result.error) {
    expect((result.error as NodeJS.ErrnoException).code).toBe('E2BIG');
    return false;
  }
  expect(result.status).toBe(0);
  return true;
}

/**
 * A step that runs `file` with `words` more arguments of at most 100,000 bytes and the
 * variables `env`, padded so that all of it (the file name, strings and NULs, pointers) is
 * exactly `total` bytes, as the kernel counts.
 */
function stepOfSize(file: string, total: number, words: number, env: string[], argv0 = file): ExecStep {
  const counted = (argv: string[]): number => [file, ...argv, ...env].reduce((sum, text) => sum + Buffer.byteLength(text) + 1, 0)
    + (argv.length + env.length) * limits!.pointerBytes;
  const argv = [argv0, ...Array<string>(words).fill('w')];
  while (total - counted(argv) > 100_000 + 200) argv.push('x'.repeat(100_000));
  argv[1] += 'y'.repeat(total - counted(argv));
  expect(counted(argv)).toBe(total);
  return { file, argv, env, cwd: '/' };
}

describe.skipIf(limits === undefined)('against the kernel, under this process\'s stack limit', () => {
  const { totalBytes, refusedStringBytes } = limits ?? ({} as ExecLimits);
  const env = ['A=1', 'PATH=/usr/bin:/bin'];

  it.each([1, 1_000, 20_000])('%i words: exactly the limit runs, a byte more is refused', (words) => {
    const fits = stepOfSize('/bin/true', totalBytes, words, env);
    expect(exceedsExecLimits([fits], limits!)).toBe(false);
    expect(kernelTakes(fits)).toBe(true);
    const over = stepOfSize('/bin/true', totalBytes + 1, words, env);
    expect(exceedsExecLimits([over], limits!)).toBe(true);
    expect(kernelTakes(over)).toBe(false);
  });

  it('a file found in PATH counts as the path execvp(3) gives exec, the PATH entry as written', () => {
    // "/usr//bin/true" is 14 bytes, "/usr/bin/true" 13: the limit moves by one.
    const pathEnv = ['PATH=/nonexistent:/usr//bin'];
    const fits = stepOfSize('/usr//bin/true', totalBytes, 10, pathEnv, 'true');
    const named = { ...fits, file: 'true' };
    expect(exceedsExecLimits([named], limits!)).toBe(false);
    expect(kernelTakes(named)).toBe(true);
    const over = { ...stepOfSize('/usr//bin/true', totalBytes + 1, 10, pathEnv, 'true'), file: 'true' };
    expect(exceedsExecLimits([over], limits!)).toBe(true);
    expect(kernelTakes(over)).toBe(false);
  });

  it('a script counts again with its "#!" line in front and its path for argv[0]', () => {
    const script = path.join(directory, 'script');
    // A blank and an argument with a blank inside: the kernel passes "-e  x" as one word.
    fs.writeFileSync(script, '#!  /bin/true   -e  x  \n', { mode: 0o755 });
    const added = Buffer.byteLength(`${script}\0/bin/true\0-e  x\0`) - Buffer.byteLength('s\0');
    const fits = stepOfSize(script, totalBytes - added, 10, env, 's');
    expect(exceedsExecLimits([fits], limits!)).toBe(false);
    expect(kernelTakes(fits)).toBe(true);
    const over = stepOfSize(script, totalBytes - added + 1, 10, env, 's');
    expect(exceedsExecLimits([over], limits!)).toBe(true);
    expect(kernelTakes(over)).toBe(false);
  });

  it('a word or a variable of MAX_ARG_STRLEN bytes is refused, one byte less is not', () => {
    for (const where of ['argv', 'env'] as const) {
      const string = (bytes: number): string => (where === 'env' ? `V=${'v'.repeat(bytes - 3)}` : 'a'.repeat(bytes - 1));
      const step = (bytes: number): ExecStep => ({
        file: '/bin/true', argv: ['/bin/true', ...(where === 'argv' ? [string(bytes)] : [])], env: where === 'env' ? [string(bytes)] : [], cwd: '/',
      });
      // `bytes` counts the NUL.
      const longest = step(refusedStringBytes - 1);
      expect(exceedsExecLimits([longest], limits!), where).toBe(false);
      expect(kernelTakes(longest), where).toBe(true);
      const refused = step(refusedStringBytes);
      expect(exceedsExecLimits([refused], limits!), where).toBe(true);
      expect(kernelTakes(refused), where).toBe(false);
    }
  });

  it('bytes that are not UTF-8 count one each', () => {
    const fits = stepOfSize('/bin/true', totalBytes, 1, env);
    // 100 'y's of the padding become 100 bytes 0xff: the same size.
    const escaped = { ...fits, argv: [fits.argv[0]!, fits.argv[1]!.slice(100) + '\udcff'.repeat(100), ...fits.argv.slice(2)] };
    expect(exceedsExecLimits([escaped], limits!)).toBe(false);
    expect(exceedsExecLimits([{ ...escaped, argv: [...escaped.argv, ''] }], limits!)).toBe(true);
  });
});
