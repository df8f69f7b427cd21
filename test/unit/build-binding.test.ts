// scripts/build-binding.mjs, npm's install step for dt's terminal binding: quiet when the
// build works (npm ci shows nothing of node-gyp's or make's), and when it fails, the
// compiler's own words and what the build needs, with status 1. Run on a copy of the binding's
// sources, so that the checkout's build/ is left alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const { nodeGyp } = await import('../../scripts/node-gyp.mjs' as string) as { nodeGyp: () => string | undefined };

let copy: string;
beforeEach(() => {
  copy = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-binding-'));
  for (const part of ['binding.gyp', 'native', 'scripts']) fs.cpSync(path.join(ROOT, part), path.join(copy, part), { recursive: true });
});
afterEach(() => {
  fs.rmSync(copy, { recursive: true, force: true });
});

/** The install step as npm runs it in the copy: node-gyp named as npm names it. */
function build(): { status: number | null; stdout: string; stderr: string } {
  const gyp = nodeGyp();
  expect(gyp, 'node-gyp: run the tests through npm (npm test), which says where it is').toBeDefined();
  const result = spawnSync(process.execPath, ['scripts/build-binding.mjs'], {
    cwd: copy, encoding: 'utf8', env: { ...process.env, npm_config_node_gyp: gyp },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

it('builds build/Release/termios.node and says nothing', () => {
  expect(build()).toEqual({ status: 0, stdout: '', stderr: '' });
  const binding = { exports: {} as Record<string, unknown> };
  process.dlopen(binding, path.join(copy, 'build', 'Release', 'termios.node'));
  expect(Object.keys(binding.exports).sort()).toEqual(['cookedLines', 'localModes', 'makeRaw']);
});

it('shows the compiler\'s output and what the build needs when it fails, with status 1', () => {
  fs.appendFileSync(path.join(copy, 'native', 'termios.cc'), '\nthis is not C++\n');
  const { status, stderr } = build();
  expect(status).toBe(1);
  expect(stderr).toMatch(/termios\.cc:\d+:\d+: error:/);
  expect(stderr).toMatch(/dt: could not build the terminal binding, native\/termios\.cc \(node-gyp's output is above\); it needs Python 3, make and a C\+\+ compiler\n$/);
  expect(fs.existsSync(path.join(copy, 'build', 'Release', 'termios.node'))).toBe(false);
});
