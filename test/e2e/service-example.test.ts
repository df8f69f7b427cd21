// The example systemd unit, examples/dt-console@.service, as systemd runs it. Its ExecStop=
// must be synchronous: systemd sends SIGTERM to whatever is left of the service as soon as
// ExecStop= returns (systemd.service(5)), and SIGTERM to the master hangs the program up. So
// the stop command returns only once the program has ended; and it connects to the socket
// only while the program runs: with the socket unit, a connection to the socket systemd holds
// would start the program again. So when the program has ended on its own (systemd still
// runs ExecStop=, without $MAINPID), it touches nothing, and after typing the stop command it
// waits for the master's pid, not with dt -w.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, FIXTURES, ROOT, Sandbox, waitUntil } from './harness.js';
import { isRunning, killTracked, run, sessionInfo, trackPid } from './lifecycle-helpers.js';

const UNIT = `${ROOT}/examples/dt-console@.service`;
const INSTALLED_DT = '/usr/local/bin/dt';
const INSTANCE = 'game';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** The unit's ExecStop= script, with systemd's specifiers expanded and dt at `dt`. */
function stopScript(dt: string): string {
  const line = fs.readFileSync(UNIT, 'utf8').split('\n').find((entry) => entry.startsWith('ExecStop='));
  const quoted = /^ExecStop=\/bin\/sh -c '(.*)'$/.exec(line ?? '');
  if (!quoted) throw new Error(`${UNIT}: expected ExecStop=/bin/sh -c '...', found ${line}`);
  return quoted[1]!
    .replaceAll('%t', sandbox.dir).replaceAll('%i', INSTANCE).replaceAll('%%', '%')
    .replaceAll('$$', '$')
    .replaceAll(INSTALLED_DT, dt);
}

/** A dt that notes each time it is run, in `calls`. */
function notingDt(calls: string): string {
  const file = sandbox.path('dt');
  fs.writeFileSync(file, `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${process.execPath}' '${DT}' "$@"\n`, { mode: 0o755 });
  return file;
}

it('the example unit\'s ExecStop returns only once the program has ended, when the program takes its time to stop', async () => {
  const socket = sandbox.path(`dt-${INSTANCE}.sock`);
  const ready = sandbox.path('ready');
  const saved = sandbox.path('saved');
  // A console program that, told "stop", takes a second to save before it exits.
  const console = `touch '${ready}'; read line; [ "$line" = stop ] || exit 2; sleep 1; touch '${saved}'; exit 0`;
  const service = run(process.execPath, [DT, '-N', socket, 'sh', '-c', console], { cwd: sandbox.dir, env: sandbox.env(), timeoutMs: 30_000 });
  await waitUntil(() => fs.existsSync(ready), 'the console program to start');
  const masterPid = await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);

  const stop = await run('/bin/sh', ['-c', stopScript(notingDt(sandbox.path('calls')))], {
    cwd: sandbox.dir, env: sandbox.env({ MAINPID: String(masterPid) }), timeoutMs: 20_000,
  });
  expect(stop).toMatchObject({ code: 0, stderr: '' });
  // What systemd does next: SIGTERM to what is left. Nothing of the program may be left.
  expect(fs.existsSync(saved)).toBe(true);
  expect(isRunning(programPid)).toBe(false);
  if (isRunning(masterPid)) process.kill(masterPid, 'SIGTERM');
  expect(await service).toMatchObject({ code: 0, signal: null });
});

/** What systemd does with the example's socket unit: see the fixture. */
const SOCKET_UNIT = `${FIXTURES}/socket-unit.py`;
const HAVE_PYTHON = spawnSync('python3', ['-c', '']).status === 0;
if (!HAVE_PYTHON) console.warn('service-example.test.ts: no python3; the test with the socket held as systemd holds it is skipped');

(HAVE_PYTHON ? it : it.skip)('the example unit\'s ExecStop, with the socket unit and a program that stops at once, connects to nothing once the program has ended: that would start it again', async () => {
  const socket = sandbox.path(`dt-${INSTANCE}.sock`);
  const ready = sandbox.path('ready');
  const console = `touch '${ready}'; read line; [ "$line" = stop ] || exit 2; exit 0`;
  const unit = sandbox.run('python3', [SOCKET_UNIT, socket, process.execPath, DT, '-N', socket, 'sh', '-c', console]);
  await unit.waitFor(/MAINPID \d+\r\n/);
  const mainPid = /MAINPID (\d+)/.exec(unit.text)![1]!;
  sandbox.addMaster(Number(mainPid));
  await waitUntil(() => fs.existsSync(ready), 'the console program to start');

  const stop = await run('/bin/sh', ['-c', stopScript(notingDt(sandbox.path('calls')))], {
    cwd: sandbox.dir, env: sandbox.env({ MAINPID: mainPid }), timeoutMs: 20_000,
  });
  expect(stop).toMatchObject({ code: 0, stderr: '' });
  await unit.waitFor('ENDED 0');
  unit.write('\r');
  await unit.waitFor(/PENDING (yes|no)/);
  expect(unit.text).toContain('PENDING no');
});

it('the example unit\'s ExecStop after the program ended on its own (no $MAINPID) runs no dt, status 0', async () => {
  const calls = sandbox.path('calls');
  const stop = await run('/bin/sh', ['-c', stopScript(notingDt(calls))], { cwd: sandbox.dir, env: sandbox.env({ MAINPID: '' }) });
  expect(stop).toMatchObject({ code: 0, stderr: '' });
  expect(fs.existsSync(calls)).toBe(false);
});
