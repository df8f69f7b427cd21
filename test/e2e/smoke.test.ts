import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIXTURES, Sandbox, hasEnded, statusLinePattern, waitUntil } from './harness.js';
import { hexReceived } from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => { await sandbox.teardown(); });

it('creates, types, detaches, reattaches, and sees the program exit', async () => {
  const socket = sandbox.path('s');
  const first = sandbox.dt(['-c', socket, process.execPath, `${FIXTURES}/hexecho.mjs`], { env: { HEXECHO_EXIT_ON_EOT: '1' } });
  await first.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  first.write('ab');
  // The keys may reach the program in one read or two.
  await first.until(() => hexReceived(first).includes('ab'), 'hexecho to receive "ab"');
  first.write('\x1c');
  await first.waitFor('[detached]');
  expect((await first.waitForExit()).exitCode).toBe(0);

  const second = sandbox.dt(['-a', socket]);
  second.write('z');
  // The key may share a read with the ^L the master sends to redraw the program.
  await second.until(() => hexReceived(second).includes('z'), 'hexecho to receive "z"');
  second.write('\x04'); // the program exits on EOT
  await second.waitFor(statusLinePattern('[program exited with status 0]'));
  expect((await second.waitForExit()).exitCode).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to exit after its program');
  expect(fs.existsSync(socket), 'the socket after the session ended').toBe(false);
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
  sandbox.leavesMaster('only which processes map node-pty is checked here');
});
