import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIXTURES, Sandbox } from './harness.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => { await sandbox.teardown(); });

it('creates, types, detaches, reattaches, and sees the program exit', async () => {
  const socket = sandbox.path('s');
  const first = sandbox.dt(['-c', socket, process.execPath, `${FIXTURES}/hexecho.mjs`]);
  await first.waitFor('READY');
  first.write('ab');
  await first.waitFor('HEX 6162');
  first.write('\x1c');
  await first.waitFor('[detached]');
  expect((await first.waitForExit()).exitCode).toBe(0);

  const second = sandbox.dt(['-a', socket]);
  second.write('z');
  await second.waitFor('HEX 7a');
  second.write("\x04");
  second.write('\x1c');
  expect((await second.waitForExit()).exitCode).toBe(0);
});

/** True when the process has node-pty's native addon mapped. */
function loadsNodePty(pid: number): boolean {
  return fs.readFileSync(`/proc/${pid}/maps`, 'latin1').includes('/pty.node');
}

it('only the master loads node-pty: an attached client does not', async () => {
  const socket = sandbox.path('s');
  const client = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, `${FIXTURES}/hexecho.mjs`]);
  await client.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  expect(loadsNodePty(masterPid), 'the master').toBe(true);
  expect(loadsNodePty(client.pid), 'the client').toBe(false);
  client.write('\x1c');
  expect((await client.waitForExit()).exitCode).toBe(0);
});
