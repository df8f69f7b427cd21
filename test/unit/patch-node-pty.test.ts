// scripts/patch-node-pty.mjs mends node-pty's fork as npm installs it (test/e2e/limits.test.ts
// shows the crash it prevents). Here: the installed source is mended, and the patch changes
// exactly the scope and the return, or refuses a function it does not know.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const { patchPtyFork } = await import('../../scripts/patch-node-pty.mjs' as string) as {
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

/** The source as node-pty 1.1 ships it. */
const shipped = installedSource
  .replace('  Napi::EscapableHandleScope scope(napiEnv);\n', '  Napi::HandleScope scope(napiEnv);\n')
  .replace('  return scope.Escape(obj);\n}', '  return obj;\n}');

describe('patching node-pty', () => {
  it('npm install left node-pty with its fork returning through an escapable scope', () => {
    const fork = ptyFork(installedSource);
    expect(fork).toContain('\n  Napi::EscapableHandleScope scope(napiEnv);\n');
    expect(fork).toMatch(/\n {2}return scope\.Escape\(obj\);\n\}\n$/);
    expect(fork).not.toContain('Napi::HandleScope');
  });

  it('changes the scope and the return of PtyFork, and nothing else', () => {
    expect(ptyFork(shipped)).toContain('\n  Napi::HandleScope scope(napiEnv);\n');
    const patched = patchPtyFork(shipped)!;
    expect(patched).toBe(installedSource);
    const before = shipped.split('\n');
    const after = patched.split('\n');
    expect(after.length).toBe(before.length);
    const changed = before.flatMap((line, index) => line === after[index] ? [] : [[line, after[index]]]);
    expect(changed).toEqual([
      ['  Napi::HandleScope scope(napiEnv);', '  Napi::EscapableHandleScope scope(napiEnv);'],
      ['  return obj;', '  return scope.Escape(obj);'],
    ]);
    // The other functions' plain scopes return no handle made in them: they stay.
    expect(patched.split('Napi::HandleScope scope(env);').length).toBe(shipped.split('Napi::HandleScope scope(env);').length);
  });

  it('leaves a mended source as it is', () => {
    expect(patchPtyFork(installedSource)).toBe(installedSource);
  });

  it('refuses a PtyFork it was not written for, rather than guess', () => {
    const renamed = shipped.replace('Napi::Value PtyFork(const Napi::CallbackInfo& info) {', 'Napi::Value Fork(const Napi::CallbackInfo& info) {');
    expect(renamed).not.toBe(shipped);
    expect(patchPtyFork(renamed)).toBeUndefined();
    const fork = ptyFork(shipped);
    const twoReturns = fork.replace('  // Set up process exit callback.', '  if (pid == 0) return obj;\n  // Set up process exit callback.');
    expect(patchPtyFork(shipped.replace(fork, twoReturns))).toBeUndefined();
    expect(patchPtyFork(shipped.replace(fork, fork.replace('  return obj;\n}', '  return Napi::Value(obj);\n}')))).toBeUndefined();
  });
});
