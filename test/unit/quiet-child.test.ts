// startQuietChild, through Node's process handle and through child_process (where Node has no
// handle to give): the child has our standard input, only the environment given, nothing for
// output; its end is told once, later; kill reaches it; a program that cannot start is told as
// an end. What the child saw is judged from files it wrote and from /proc, not by the code.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startQuietChild, type QuietChild } from '../../src/client/quiet-child.js';

const SLEEP = '/bin/sleep';
/** A failure limit for a child's end, never a delay. */
const END_TIMEOUT_MS = 10_000;

let dir: string;
/** Every child a test started: one still running when it ends (a check failed first) is killed. */
const children: QuietChild[] = [];
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-quiet-child-')); });
afterEach(() => {
  // The handle kills only a child it has not seen end: never a pid reused since.
  for (const child of children.splice(0)) child.kill('SIGKILL');
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts `script` under /bin/sh; `ended` settles when onEnd has run, with how many times it ran by then. */
function start(script: string, env: Record<string, string> = {}): { child: QuietChild; ended: Promise<void>; endsSoFar: () => number } {
  let ends = 0;
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => { resolveEnded = resolve; });
  const child = startQuietChild('/bin/sh', ['-c', script], env, () => {
    ends++;
    resolveEnded();
  });
  children.push(child);
  return { child, ended: withTimeout(ended, `the child of ${JSON.stringify(script)} to end`), endsSoFar: () => ends };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), END_TIMEOUT_MS);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

function descriptorTarget(pid: number | 'self', fd: number): string {
  return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
}

/** A process handle of a Node that wants other spawn options: it throws, as Node's bindings do on a wrong argument. */
class HandleOfAnotherNode {
  spawn(): number {
    throw new TypeError('The "options.file" property must be of type string');
  }
}

describe.each([
  ['through Node\'s process handle', 'handle'],
  ['through child_process, where Node has no process handle to give', 'no binding'],
  ['through child_process, where Node\'s process handle refuses the options', 'other handle'],
] as const)('startQuietChild %s', (_how, way) => {
  beforeEach(() => {
    if (way === 'handle') return;
    vi.spyOn(process as unknown as { binding: (name: string) => unknown }, 'binding').mockImplementation((name) => {
      if (way === 'other handle') return { Process: HandleOfAnotherNode };
      throw new Error(`No such module: ${name}`);
    });
  });

  it('gives the child our standard input, only the given environment, and /dev/null for its output', async () => {
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => { resolveEnded = resolve; });
    const child = startQuietChild(SLEEP, ['60'], { ONLY_THIS: 'yes', LC_ALL: 'C' }, () => resolveEnded());
    children.push(child);
    // Started means exec-ed: /proc shows the program itself.
    const pid = child.pid!;
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1')).toBe(`${SLEEP}\x0060\x00`);
    expect(descriptorTarget(pid, 0)).toBe(descriptorTarget('self', 0));
    expect([descriptorTarget(pid, 1), descriptorTarget(pid, 2)]).toEqual(['/dev/null', '/dev/null']);
    expect(fs.readFileSync(`/proc/${pid}/environ`, 'latin1')).toBe('ONLY_THIS=yes\x00LC_ALL=C\x00');
    child.kill('SIGKILL');
    await withTimeout(ended, 'sleep to end');
  });

  it('tells the end once, after the child has ended, never from inside the start', async () => {
    const marker = path.join(dir, 'ran');
    const { child, ended, endsSoFar } = start(`: > "${marker}"`);
    expect(endsSoFar()).toBe(0);
    expect(child.pid).toBeGreaterThan(0);
    await ended;
    expect(fs.existsSync(marker)).toBe(true);
    // The child is reaped by then: no zombie is left for /proc to show.
    expect(fs.existsSync(`/proc/${child.pid}`)).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(endsSoFar()).toBe(1);
  });

  it('kills the child; a kill after its end does nothing', async () => {
    const { child, ended, endsSoFar } = start('exec sleep 60');
    const pid = child.pid!;
    expect(fs.readFileSync(`/proc/${pid}/stat`, 'latin1')).toMatch(/^\d+ \((sh|sleep)\)/);
    child.kill('SIGKILL');
    await ended;
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    child.kill('SIGKILL');
    await new Promise((resolve) => setImmediate(resolve));
    expect(endsSoFar()).toBe(1);
  });

  it('tells a program that cannot start as an end, later, with no pid', async () => {
    let ends = 0;
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => { resolveEnded = resolve; });
    const child = startQuietChild(path.join(dir, 'missing'), [], {}, () => {
      ends++;
      resolveEnded();
    });
    expect(ends).toBe(0);
    expect(child.pid).toBeUndefined();
    await withTimeout(ended, 'the missing program\'s end');
    child.kill('SIGKILL');
    await new Promise((resolve) => setImmediate(resolve));
    expect(ends).toBe(1);
  });
});

it('asks for the process handle without a deprecation warning, even under --pending-deprecation', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => { warnings.push(warning); };
  process.on('warning', onWarning);
  const binding = (process as unknown as { binding: (name: string) => unknown }).binding;
  // What --pending-deprecation makes of process.binding: a function that warns when called.
  vi.spyOn(process as unknown as { binding: (name: string) => unknown }, 'binding').mockImplementation((name) => {
    process.emitWarning('process.binding() is deprecated.', 'DeprecationWarning', 'DEP0111');
    return binding.call(process, name);
  });
  const noDeprecation = process.noDeprecation;
  try {
    const { ended } = start('exit 0');
    await ended;
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([]);
    expect(process.noDeprecation).toBe(noDeprecation);
  } finally {
    process.off('warning', onWarning);
  }
});
