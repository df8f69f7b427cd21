// scripts/patch-node-pty.mjs mends node-pty's native code as npm installs it: its fork
// (test/e2e/limits.test.ts shows the crash it prevents) and the signal its exit thread reports,
// which then says whether the program dumped core (test/e2e/core-dumps.test.ts). Here: the
// installed source is mended, the patch changes exactly those lines, mends a source that has
// only the earlier mend (an install made before the exit was mended), and refuses code it does
// not know.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const { patchExitSignal, patchNodePty, patchPtyFork } = await import('../../scripts/patch-node-pty.mjs' as string) as {
  patchExitSignal: (source: string) => string | undefined;
  patchNodePty: (source: string) => string | undefined;
  patchPtyFork: (source: string) => string | undefined;
};

const installedSource = fs.readFileSync(
  path.join(path.dirname(createRequire(import.meta.url).resolve('node-pty/package.json')), 'src', 'unix', 'pty.cc'), 'utf8');

/** PtyFork's text, from its signature to its closing brace. */
function ptyFork(source: string): string {
  const match = /\nNapi::Value PtyFork\(const Napi::CallbackInfo& info\) \{\n[\s\S]*?\n\}\n/.exec(source);
  if (match === null) throw new Error('no PtyFork in the source');
  return match[0];
}

const SHIPPED_SIGNAL = '      exit_event->signal_code = WTERMSIG(stat_loc);\n';
const MENDED_SIGNAL = '      exit_event->signal_code = WTERMSIG(stat_loc) | (WCOREDUMP(stat_loc) ? 0x80 : 0);\n';

/** The source with only the fork mended, as the earlier patch left it. */
const forkOnly = installedSource.replace(MENDED_SIGNAL, SHIPPED_SIGNAL);

/** The source as node-pty 1.1 ships it. */
const shipped = forkOnly
  .replace('  Napi::EscapableHandleScope scope(napiEnv);\n', '  Napi::HandleScope scope(napiEnv);\n')
  .replace('  return scope.Escape(obj);\n}', '  return obj;\n}');

/** The lines that differ between two texts of as many lines. */
function changedLines(before: string, after: string): string[][] {
  const beforeLines = before.split('\n');
  const afterLines = after.split('\n');
  expect(afterLines.length).toBe(beforeLines.length);
  return beforeLines.flatMap((line, index) => line === afterLines[index] ? [] : [[line, afterLines[index]!]]);
}

const FORK_CHANGES = [
  ['  Napi::HandleScope scope(napiEnv);', '  Napi::EscapableHandleScope scope(napiEnv);'],
  ['  return obj;', '  return scope.Escape(obj);'],
];
const SIGNAL_CHANGE = [SHIPPED_SIGNAL.trimEnd(), MENDED_SIGNAL.trimEnd()];

describe('patching node-pty', () => {
  it('npm install left node-pty with its fork returning through an escapable scope', () => {
    const fork = ptyFork(installedSource);
    expect(fork).toContain('\n  Napi::EscapableHandleScope scope(napiEnv);\n');
    expect(fork).toMatch(/\n {2}return scope\.Escape\(obj\);\n\}\n$/);
    expect(fork).not.toContain('Napi::HandleScope');
  });

  it('npm install left node-pty reporting a core dump in the signal of its exit', () => {
    expect(installedSource.split(MENDED_SIGNAL).length).toBe(2);
    expect(installedSource).not.toContain(SHIPPED_SIGNAL);
  });

  it('changes the scope and the return of PtyFork, and the signal of the exit, and nothing else', () => {
    expect(ptyFork(shipped)).toContain('\n  Napi::HandleScope scope(napiEnv);\n');
    expect(shipped).toContain(SHIPPED_SIGNAL);
    const patched = patchNodePty(shipped)!;
    expect(patched).toBe(installedSource);
    // The exit thread comes first in pty.cc.
    expect(changedLines(shipped, patched)).toEqual([SIGNAL_CHANGE, ...FORK_CHANGES]);
    // The other functions' plain scopes return no handle made in them: they stay.
    expect(patched.split('Napi::HandleScope scope(env);').length).toBe(shipped.split('Napi::HandleScope scope(env);').length);
    // Each mend alone.
    expect(changedLines(shipped, patchPtyFork(shipped)!)).toEqual(FORK_CHANGES);
    expect(changedLines(shipped, patchExitSignal(shipped)!)).toEqual([SIGNAL_CHANGE]);
  });

  it('mends the exit of a source whose fork an earlier install mended, and only that', () => {
    expect(ptyFork(forkOnly)).toContain('Napi::EscapableHandleScope');
    const patched = patchNodePty(forkOnly)!;
    expect(patched).toBe(installedSource);
    expect(changedLines(forkOnly, patched)).toEqual([SIGNAL_CHANGE]);
  });

  it('leaves a mended source as it is', () => {
    expect(patchNodePty(installedSource)).toBe(installedSource);
    expect(patchPtyFork(installedSource)).toBe(installedSource);
    expect(patchExitSignal(installedSource)).toBe(installedSource);
  });

  it('refuses a PtyFork it was not written for, rather than guess', () => {
    const renamed = shipped.replace('Napi::Value PtyFork(const Napi::CallbackInfo& info) {', 'Napi::Value Fork(const Napi::CallbackInfo& info) {');
    expect(renamed).not.toBe(shipped);
    expect(patchPtyFork(renamed)).toBeUndefined();
    expect(patchNodePty(renamed)).toBeUndefined();
    const fork = ptyFork(shipped);
    const twoReturns = fork.replace('  // Set up process exit callback.', '  if (pid == 0) return obj;\n  // Set up process exit callback.');
    expect(patchPtyFork(shipped.replace(fork, twoReturns))).toBeUndefined();
    expect(patchPtyFork(shipped.replace(fork, fork.replace('  return obj;\n}', '  return Napi::Value(obj);\n}')))).toBeUndefined();
  });

  it('refuses an exit it was not written for, rather than guess', () => {
    const cases = {
      'signal set elsewhere too': shipped.replace(SHIPPED_SIGNAL, `${SHIPPED_SIGNAL}    }\n    if (WIFSTOPPED(stat_loc)) {\n${SHIPPED_SIGNAL}`),
      'signal set otherwise': shipped.replace(SHIPPED_SIGNAL, '      exit_event->signal_code = WSTOPSIG(stat_loc);\n'),
      'signal not passed to JavaScript as it is': shipped.replace('Napi::Number::New(env, exit_event->signal_code)', 'Napi::Number::New(env, exit_event->signal_code & 0x7f)'),
      'both the shipped and the mended line': shipped.replace(SHIPPED_SIGNAL, `${SHIPPED_SIGNAL}    }\n    if (WIFSIGNALED(stat_loc)) {\n${MENDED_SIGNAL}`),
    };
    for (const [what, source] of Object.entries(cases)) {
      expect(source, what).not.toBe(shipped);
      expect(patchExitSignal(source), what).toBeUndefined();
      expect(patchNodePty(source), what).toBeUndefined();
    }
  });
});
