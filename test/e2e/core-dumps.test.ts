// A program killed by a signal that dumped core: dt says so, as a shell does ("(core dumped)"),
// wherever it tells the status: the attached client's last line, dt -l and its JSON, dt -a of a
// kept status, and the master's answer while it finishes a log (dt -l's `ending`). dt -w exits 128+N all the same, as a shell's $? is. The oracle is not dt: the
// same command run under python3, whose os.WCOREDUMP reads the wait status. Where it says no
// core was dumped (a core_pattern helper that refused it, a hard limit of 0), dt must not say
// so either. The core file lands in the sandbox (the program's directory) and goes with it.

import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIXTURES, Sandbox, hasEnded, waitUntil } from './harness.js';
import { expectStatusLine, killTracked, listSessions, run, runDt } from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** Sets the core size limit, says READY, waits for a line, then dies of SIGSEGV. */
function segfaultAfterLine(coreLimit: 'unlimited' | '0'): string[] {
  return ['sh', '-c', `ulimit -c ${coreLimit}; echo READY; read line; kill -SEGV $$`];
}

/** Whether this machine dumps core for `ulimit -c unlimited; kill -SEGV $$`, as python3 reads its wait status. */
async function dumpsCore(): Promise<boolean> {
  const script = [
    'import os, subprocess',
    "child = subprocess.Popen(['sh', '-c', 'ulimit -c unlimited; kill -SEGV $$'])",
    '_, status = os.waitpid(child.pid, 0)',
    "print('signal', os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, 'core', int(os.WCOREDUMP(status)))",
  ].join('\n');
  const oracle = await run('python3', ['-c', script], { cwd: sandbox.dir });
  expect(oracle).toMatchObject({ code: 0, stderr: '' });
  const match = /^signal 11 core ([01])\n$/.exec(oracle.stdout);
  expect(match, `python3 said ${JSON.stringify(oracle.stdout)}`).not.toBeNull();
  return match![1] === '1';
}

interface Listed {
  socket: string;
  state: string;
  exitSignal?: string;
  coreDumped?: boolean;
}

for (const coreLimit of ['unlimited', '0'] as const) {
  it(`an attached client of a program killed by SIGSEGV (ulimit -c ${coreLimit}) says whether it dumped core, and exits 139`, async () => {
    const core = coreLimit === 'unlimited' && await dumpsCore();
    const socket = sandbox.path('s');
    const client = sandbox.dt(['-c', socket, '-r', 'none', ...segfaultAfterLine(coreLimit)]);
    await client.waitFor('READY');
    const masterPid = await sandbox.trackMaster(socket);
    const beforeEnd = client.text.length;
    client.write('go\r');
    expect((await client.waitForExit()).exitCode).toBe(139);
    expectStatusLine(client.text.slice(beforeEnd), `[program killed by SIGSEGV${core ? ' (core dumped)' : ''}]`);
    await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  });
}

it('a kept status says whether the program dumped core: dt -l, dt -l --json, dt -a; dt -w exits 139 either way', async () => {
  const core = await dumpsCore();
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const sessions = { dumped: sandbox.path('dumped'), notDumped: sandbox.path('not-dumped') };
  for (const [socket, coreLimit] of [[sessions.dumped, 'unlimited'], [sessions.notDumped, '0']] as const) {
    expect(await runDt(['-n', socket, ...segfaultAfterLine(coreLimit)], options)).toMatchObject({ code: 0, stderr: '' });
    const masterPid = await sandbox.trackMaster(socket);
    expect(await runDt(['-p', socket], { ...options, input: 'go\n' })).toMatchObject({ code: 0, stderr: '' });
    await waitUntil(() => hasEnded(masterPid), 'the session to end');
  }

  const listed = await listSessions(sandbox, true) as Listed[];
  const dumped = listed.find((session) => session.socket === sessions.dumped);
  const notDumped = listed.find((session) => session.socket === sessions.notDumped);
  expect(dumped).toMatchObject({ state: 'exited', exitSignal: 'SIGSEGV' });
  expect(notDumped).toMatchObject({ state: 'exited', exitSignal: 'SIGSEGV' });
  // Only when true, as an earlier dt -l --json had no such field.
  expect(dumped!.coreDumped).toBe(core ? true : undefined);
  expect('coreDumped' in notDumped!).toBe(false);
  const table = await listSessions(sandbox, false);
  const rowOf = (socket: string): string | undefined => table.split('\n').find((line) => line.startsWith(socket));
  expect(rowOf(sessions.dumped)).toMatch(core ? /exited \(killed by SIGSEGV \(core dumped\), [-0-9]+ [0-9:]+\)$/ : /exited \(killed by SIGSEGV, [-0-9]+ [0-9:]+\)$/);
  expect(rowOf(sessions.notDumped)).toMatch(/exited \(killed by SIGSEGV, [-0-9]+ [0-9:]+\)$/);

  const attached = await runDt(['-a', sessions.dumped], options);
  expect(attached).toMatchObject({ code: 139, stderr: '' });
  expect(attached.stdout).toMatch(new RegExp(`^\\[program killed by SIGSEGV${core ? ' \\(core dumped\\)' : ''}\\] at [-0-9]+ [0-9:]+, while detached\\n$`));
  expect(await runDt(['-w', sessions.notDumped], options)).toMatchObject({ code: 139, stdout: '', stderr: '' });
  expect(await listSessions(sandbox, true)).toEqual([]);
});

it('dt -l says whether the program dumped core while its master finishes the log (ending)', async () => {
  const core = await dumpsCore();
  const file = sandbox.path('e.log');
  const socket = sandbox.path('s');
  const hold = sandbox.path('hold');
  // The log's close waits for the test (the master's own limit lengthened, for a loaded machine).
  const held = {
    NODE_OPTIONS: `--require ${FIXTURES}/hold-log-close.cjs`, HOLD_LOG_FILE: file, HOLD_LOG_CLOSE_FILE: hold, DT_TEST_LOG_CLOSE_TIMEOUT_MS: '60000',
  };
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const started = await runDt(['-n', socket, '-L', file, 'sh', '-c', 'ulimit -c unlimited; kill -SEGV $$'], { ...options, env: sandbox.env(held) });
  expect(started).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => fs.existsSync(`${hold}.waiting`), 'the master to wait for the log\'s close');

  const [listed] = await listSessions(sandbox, true) as Listed[];
  expect(listed).toMatchObject({ socket, state: 'ending', exitSignal: 'SIGSEGV' });
  expect(listed!.coreDumped).toBe(core ? true : undefined);
  const table = await listSessions(sandbox, false);
  expect(table).toContain(` ending (killed by SIGSEGV${core ? ' (core dumped)' : ''}, finishing the log) `);

  fs.writeFileSync(hold, '');
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  expect(await runDt(['-w', socket], options)).toMatchObject({ code: 139, stdout: '', stderr: '' });
});
