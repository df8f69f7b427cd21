// The V8 code caches the build makes beside the bundle (see bin/dt): V8 silently compiles
// from scratch when it refuses one (made under other V8 flags, or for another source), so a
// broken cache shows only as a slower start. Here a Node process like dt's (no options)
// compiles the bundle as bin/dt does, with each cache, and V8 says whether it took it.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './harness.js';

const BUNDLE = path.join(ROOT, 'dist/dt.js');
const GENERAL_CACHE = `${BUNDLE}.cache`;
const ATTACH_CACHE = `${BUNDLE}.attach.cache`;
const CREATE_CACHE = `${BUNDLE}.create.cache`;

/** Compiles the bundle in a fresh `node` with `cache`, wrapped as bin/dt wraps it; true when V8 rejected the cache. */
function rejectedBy(cache: string): boolean {
  const compile = `
    const fs = require('node:fs');
    const vm = require('node:vm');
    const wrapper = '(function (exports, require, module, __filename, __dirname) {' + fs.readFileSync(process.argv[1], 'utf8') + '\\n})';
    const script = new vm.Script(wrapper, { filename: process.argv[1], cachedData: fs.readFileSync(process.argv[2]) });
    process.stdout.write(String(script.cachedDataRejected));
  `;
  const result = spawnSync(process.execPath, ['-e', compile, BUNDLE, cache], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(['true', 'false']).toContain(result.stdout);
  return result.stdout === 'true';
}

it('the caches are newer than the bundle, and V8 takes each: the general one, the attaching commands\' and dt -n\'s', () => {
  const bundleTime = fs.statSync(BUNDLE).mtimeMs;
  for (const cache of [GENERAL_CACHE, ATTACH_CACHE, CREATE_CACHE]) {
    expect(fs.statSync(cache).mtimeMs, cache).toBeGreaterThanOrEqual(bundleTime);
    expect(rejectedBy(cache), `V8 rejected ${cache}`).toBe(false);
  }
});

it('the attaching commands\' cache holds more than the general one: the attaching client\'s code', () => {
  expect(fs.statSync(ATTACH_CACHE).size).toBeGreaterThan(fs.statSync(GENERAL_CACHE).size * 1.2);
});

it('dt -n\'s cache holds more than the general one: the code that checks the program and starts a master', () => {
  expect(fs.statSync(CREATE_CACHE).size).toBeGreaterThan(fs.statSync(GENERAL_CACHE).size * 1.2);
});
