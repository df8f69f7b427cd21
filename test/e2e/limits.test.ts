// The kernel's limits, met exactly: a command line as long as exec(2) accepts, and socket
// paths and names longer than a socket address can hold. What the program receives is read
// from outside, in /proc.

import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Sandbox, waitUntil } from './harness.js';
import { killTracked, runDt, sessionInfo, trackPid } from './lifecycle-helpers.js';

/** exec(2) refuses a single argument of this many bytes or more (MAX_ARG_STRLEN, with its NUL). */
const MAX_ARGUMENT_BYTES = 128 * 1024;

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** A program's argv as the kernel holds it. */
function commandLineOf(pid: number): Buffer {
  return fs.readFileSync(`/proc/${pid}/cmdline`);
}

it('a command line as long as exec accepts reaches the program whole: 1 MiB, the longest argument, 20,000 words', async () => {
  const socket = sandbox.path('s');
  const longest = 'x'.repeat(MAX_ARGUMENT_BYTES - 1);
  const words = Array.from({ length: 20_000 }, (_, index) => `word-${index}`);
  // sh waits on `read`, so its argv stays as dt gave it.
  const command = ['sh', '-c', 'read line', 'sh', ...Array<string>(7).fill(longest), ...words];
  const created = await runDt(['-n', socket, ...command], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  await waitUntil(() => commandLineOf(programPid).length > MAX_ARGUMENT_BYTES, 'the program to be exec-ed');
  const expected = Buffer.from(`${command.join('\0')}\0`);
  expect(expected.length).toBeGreaterThan(1024 * 1024);
  // argv[0] too is as given ("sh", not the path exec found).
  expect(commandLineOf(programPid).equals(expected)).toBe(true);
  // The session describes itself within a frame's limit: dt -l shows it live.
  const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect((JSON.parse(listed.stdout) as Array<{ state: string }>).map((session) => session.state)).toEqual(['detached']);
});
