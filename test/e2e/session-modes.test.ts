// dt -w (wait for the program's end, exit with its status), dt -a without a socket (the only
// live session), dt -F (forget ended sessions), and dt -l fitted to the terminal's width.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, Peer, Sandbox, hasEnded, masterInfo, socketCount, waitForViewers, waitUntil } from './harness.js';
import { HEXECHO, killTracked, run, runDt, spawnTracked, trackPid, type RunResult } from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('several sessions must run at once here; how they end is tested in lifecycle and faults');
});
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

function dt(args: string[], input?: string): Promise<RunResult> {
  return runDt(args, { cwd: sandbox.dir, env: sandbox.env(), ...(input === undefined ? {} : { input }) });
}

/** A named session running `sh -c 'read line; <then>'`; returns its master's pid. */
async function startSession(name: string, then: string): Promise<number> {
  expect(await dt(['-n', name, '/bin/sh', '-c', `read line; ${then}`])).toMatchObject({ code: 0, stderr: '' });
  return sandbox.trackMaster(path.join(sandbox.sessionDir, name));
}

async function listed(): Promise<Array<{ name?: string; socket: string; state: string; command: string[] }>> {
  const result = await dt(['-l', '--json']);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as Array<{ name?: string; socket: string; state: string; command: string[] }>;
}

it('dt -w waits for the program, prints nothing, exits with its status, and leaves no status kept', async () => {
  const masterPid = await startSession('build', 'exit 7');
  // Seen from the master's descriptors: only its listening socket, then the waiter's connection.
  await waitUntil(() => socketCount(masterPid) === 1, 'the master to have no connection');
  const waiting = dt(['-w', 'build']);
  await waitUntil(() => socketCount(masterPid) === 2, 'dt -w to connect');
  expect((await masterInfo(path.join(sandbox.sessionDir, 'build'))).clients).toBe(0);
  // The program ends only on the line pushed now: its status 7 is what dt -w can only have waited for.
  expect((await dt(['-p', 'build'], 'go\n')).code).toBe(0);
  expect(await waiting).toMatchObject({ code: 7, stdout: '', stderr: '' });
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  expect(await listed(), 'the status, collected by dt -w').toEqual([]);
});

it('dt -w keeps waiting past the time after which the master closes a connection that says nothing', async () => {
  // The master closes a quiet connection that is neither viewing nor writing after 60 s; shortened here.
  const env = sandbox.env({ DT_TEST_IDLE_CONNECTION_TIMEOUT_MS: '1000' });
  expect(await runDt(['-n', 'long', '/bin/sh', '-c', 'read line; exit 7'], { cwd: sandbox.dir, env })).toMatchObject({ code: 0, stderr: '' });
  const socket = path.join(sandbox.sessionDir, 'long');
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => socketCount(masterPid) === 1, 'the master to have no connection');
  const waiting = runDt(['-w', 'long'], { cwd: sandbox.dir, env, timeoutMs: 30_000 });
  await waitUntil(() => socketCount(masterPid) === 2, 'dt -w to connect');
  // A connection that said hello after the waiter did, and nothing since, is closed: the waiter has waited longer.
  const quiet = await Peer.connect(socket);
  await waitUntil(() => quiet.closed, 'the master to close the quiet connection', 20_000);
  await waitUntil(() => socketCount(masterPid) === 2, 'the master to keep only the waiter\'s connection');
  expect((await dt(['-p', 'long'], 'go\n')).code).toBe(0);
  expect(await waiting).toMatchObject({ code: 7, stdout: '', stderr: '' });
});

it('dt -w suspended (^Z) for longer than the master keeps a connection that says nothing still gets the status once continued', async () => {
  // The master closes a quiet connection after 1 s here; the waiter's own keepalive, every
  // 20 s for its 60 s, never comes in this test: what keeps it is that it asked once, at once.
  const socket = sandbox.path('long');
  const masterEnv = { DT_TEST_IDLE_CONNECTION_TIMEOUT_MS: '1000' };
  expect((await sandbox.dt(['-n', socket, '/bin/sh', '-c', 'read line; exit 7'], { env: masterEnv }).waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => socketCount(masterPid) === 1, 'the master to have no connection');
  const waiter = sandbox.dt(['-w', socket]);
  await waitUntil(() => socketCount(masterPid) === 2, 'dt -w to connect');
  const closeQuietConnection = async (turn: string): Promise<void> => {
    const quiet = await Peer.connect(socket);
    await waitUntil(() => quiet.closed, `the master to close the ${turn} quiet connection`, 20_000);
  };
  // Opened after the waiter's and closed as idle: the waiter has been quiet for longer.
  await closeQuietConnection('first');
  sandbox.stopProcess(waiter.pid);
  await closeQuietConnection('second');
  await closeQuietConnection('third');
  // The quiet connection's close is seen by its peer a moment before the master's descriptor goes.
  await waitUntil(() => socketCount(masterPid) <= 2, 'the master to let go of the quiet connections');
  expect(socketCount(masterPid), 'the waiter\'s connection kept').toBe(2);
  process.kill(waiter.pid, 'SIGCONT');
  expect((await dt(['-p', socket], 'go\n')).code).toBe(0);
  expect(await waiter.waitForExit()).toMatchObject({ exitCode: 7 });
  expect(waiter.text).toBe('');
});

it('dt -w whose parent ends (ssh without -t, the connection dropped) stops waiting and leaves the status kept', async () => {
  const masterPid = await startSession('build', 'exit 7');
  await waitUntil(() => socketCount(masterPid) === 1, 'the master to have no connection');
  // A shell that runs the waiter and waits for it, as sshd's process for a command does; killed, as that one ends.
  const shell = spawnTracked('/bin/sh', ['-c', `"${process.execPath}" "${DT}" -w build & echo $!; wait`],
    { cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() }, stdio: ['ignore', 'pipe', 'pipe'] });
  const waiterPid = Number(await new Promise<string>((resolve) => shell.child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString()))));
  trackPid(waiterPid);
  await waitUntil(() => socketCount(masterPid) === 2, 'dt -w to connect');
  shell.child.kill('SIGKILL');
  await waitUntil(() => hasEnded(waiterPid), 'the waiter to stop waiting once adopted', 5_000);
  expect(shell.stderr).toBe(`dt: ${path.join(sandbox.sessionDir, 'build')}: stopped waiting: the process that ran dt -w has ended (an ssh connection that dropped?), so nobody would get the status\n`);
  expect((await dt(['-p', 'build'], 'go\n')).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  expect((await listed()).map((session) => session.state), 'the status, kept for whoever asks next').toEqual([expect.stringMatching(/^exited/)]);
  expect(await dt(['-w', 'build'])).toMatchObject({ code: 7, stdout: '', stderr: '' });
});

it('dt -w exits 128+N when the program is killed by signal N', async () => {
  await startSession('victim', 'exit 0');
  const waiting = dt(['-w', 'victim']);
  await waitUntil(async () => (await masterInfo(path.join(sandbox.sessionDir, 'victim'))).clients === 0, 'the session');
  expect((await dt(['-k', 'victim', 'TERM'])).code).toBe(0);
  expect(await waiting).toMatchObject({ code: 143, stdout: '', stderr: '' });
});

it('dt -w on a program that already ended unwatched returns its status at once and forgets it; a missing session is exit 1', async () => {
  const masterPid = await startSession('done', 'exit 5');
  expect((await dt(['-p', 'done'], 'go\n')).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
  expect(await listed()).toMatchObject([{ name: 'done', state: 'exited' }]);
  expect(await dt(['-w', 'done'])).toMatchObject({ code: 5, stdout: '', stderr: '' });
  expect(await listed()).toEqual([]);
  const socket = path.join(sandbox.sessionDir, 'done');
  expect(await dt(['-w', 'done'])).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: No such file or directory\n` });
  expect(await dt(['-w', sandbox.path('nowhere')])).toMatchObject({ code: 1, stderr: `dt: ${sandbox.path('nowhere')}: No such file or directory\n` });
});

it('dt -a without a socket: none running is exit 1, several are listed with exit 1, the only one is attached; from inside it, none other is exit 1', async () => {
  expect(await dt(['-a'])).toMatchObject({ code: 1, stdout: '', stderr: 'dt: no session is running (dt -l lists the ended ones)\n' });
  // An ended session is not a running one.
  const endedPid = await startSession('ended', 'exit 0');
  expect((await dt(['-p', 'ended'], 'go\n')).code).toBe(0);
  await waitUntil(() => hasEnded(endedPid), 'the session to end');
  expect((await dt(['-a'])).code).toBe(1);

  expect(await dt(['-n', 'one', ...HEXECHO])).toMatchObject({ code: 0 });
  await sandbox.trackMaster(path.join(sandbox.sessionDir, 'one'));
  const viewer = sandbox.dt(['-a', '-r', 'none']);
  await waitForViewers(path.join(sandbox.sessionDir, 'one'), 1);
  viewer.write('x');
  await viewer.waitFor('HEX 78');
  viewer.write('\x1c');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
  // From inside that session (its programs have DT_SESSION), its own is not the only one.
  const inside = { cwd: sandbox.dir, env: { ...sandbox.env(), DT_SESSION: path.join(sandbox.sessionDir, 'one') } };
  expect(await runDt(['-a'], inside)).toMatchObject({ code: 1, stdout: '', stderr: 'dt: no other session is running\n' });
  await waitForViewers(path.join(sandbox.sessionDir, 'one'), 0);

  expect(await dt(['-n', sandbox.path('two'), ...HEXECHO])).toMatchObject({ code: 0 });
  await sandbox.trackMaster(sandbox.path('two'));
  const several = await dt(['-a']);
  expect(several.code).toBe(1);
  expect(several.stdout).toBe('');
  expect(several.stderr).toMatch(/^dt: 2 sessions are running; say which one to attach to \(dt -a <session>\):\nSESSION\s+COMMAND\s+STARTED\n/);
  expect(several.stderr).toMatch(/\none\s+.*hexecho\.mjs/);
  expect(several.stderr).toContain(`\n${sandbox.path('two')}  `);
});

it('dt -F forgets one ended session, -F --all every ended one; a live session is never forgotten', async () => {
  const first = await startSession('first', 'exit 1');
  const second = await startSession('second', 'exit 2');
  for (const name of ['first', 'second']) expect((await dt(['-p', name], 'go\n')).code).toBe(0);
  await waitUntil(() => hasEnded(first) && hasEnded(second), 'both sessions to end');
  expect(await dt(['-n', 'live', ...HEXECHO])).toMatchObject({ code: 0 });
  await sandbox.trackMaster(path.join(sandbox.sessionDir, 'live'));
  expect((await listed()).map((session) => session.name).sort()).toEqual(['first', 'live', 'second']);

  expect(await dt(['-F', 'first'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect((await listed()).map((session) => session.name).sort()).toEqual(['live', 'second']);
  expect(await dt(['-F', 'first'])).toMatchObject({
    code: 1, stderr: `dt: ${path.join(sandbox.sessionDir, 'first')}: no ended session is kept for this socket\n`,
  });
  expect(await dt(['-F', 'live'])).toMatchObject({
    code: 1, stderr: `dt: ${path.join(sandbox.sessionDir, 'live')}: the session is running; only an ended session can be forgotten\n`,
  });
  expect(await dt(['-F', '--all'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect((await listed()).map((session) => [session.name, session.state])).toEqual([['live', 'detached']]);
});

it('dt -F sock and dt -F --all forget every ended record of a socket, not only the latest', async () => {
  // Two ended sessions kept for one socket: a kept status and a later one (a program that
  // could not start records its failure without removing what was kept before).
  const dir = path.join(sandbox.env()['XDG_STATE_HOME']!, 'dt', 'sessions');
  fs.mkdirSync(dir, { recursive: true });
  const keep = (pid: number, name: string, startedAt: string): void => fs.writeFileSync(path.join(dir, `${pid}.json`), JSON.stringify({
    socket: path.join(sandbox.sessionDir, name), masterPid: pid, command: ['sh'], startedAt, exit: { code: 1, signal: 0, endedAt: startedAt },
  }));
  const hoursAgo = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();
  keep(4000031, 'one', hoursAgo(4));
  keep(4000032, 'one', hoursAgo(3));
  keep(4000033, 'two', hoursAgo(2));
  keep(4000034, 'two', hoursAgo(1));
  expect((await listed()).map((session) => session.name)).toEqual(['one', 'two']);

  expect(await dt(['-F', 'one'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect((await listed()).map((session) => session.name)).toEqual(['two']);
  expect(await dt(['-F', '--all'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect(await listed()).toEqual([]);
  expect(fs.readdirSync(dir)).toEqual([]);
});

it('a session whose master died is listed once, as stale, then forgotten; dt -F forgets one before it is listed', async () => {
  const masters = [await startSession('listed', 'exit 0'), await startSession('forgotten', 'exit 0')];
  for (const pid of masters) process.kill(pid, 'SIGKILL');
  await waitUntil(() => masters.every(hasEnded), 'the masters to die');

  expect(await dt(['-F', 'forgotten'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect((await listed()).map((session) => [session.name, session.state])).toEqual([['listed', 'stale']]);
  expect(await listed(), 'listed once, then forgotten').toEqual([]);
  expect(await dt(['-F', 'listed'])).toMatchObject({
    code: 1, stderr: `dt: ${path.join(sandbox.sessionDir, 'listed')}: no ended session is kept for this socket\n`,
  });
  // The socket files are still there, for the next dt -A, -c or -n to replace.
  expect(fs.readdirSync(sandbox.sessionDir).sort()).toEqual(['forgotten', 'listed']);
});

it('dt -l in a terminal fits every row in its width, shortening long values with an ellipsis; --json keeps them whole', async () => {
  const longName = `a-session-with-a-rather-long-name-${'n'.repeat(40)}`;
  const longArgument = `an-argument-${'x'.repeat(300)}`;
  expect(await dt(['-n', longName, ...HEXECHO, longArgument])).toMatchObject({ code: 0 });
  await sandbox.trackMaster(path.join(sandbox.sessionDir, longName));
  expect(await dt(['-n', 'short', ...HEXECHO])).toMatchObject({ code: 0 });
  await sandbox.trackMaster(path.join(sandbox.sessionDir, 'short'));

  for (const cols of [100, 72, 50]) {
    const term = sandbox.dt(['-l'], { cols, rows: 24 });
    expect((await term.waitForExit()).exitCode).toBe(0);
    const lines = term.output.toString('utf8').split('\r\n').filter((line) => line !== '');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect([...line].length, `${cols} columns: ${line}`).toBeLessThanOrEqual(cols);
    expect(lines.slice(1).some((line) => line.includes('…'))).toBe(true);
    // Columns stay aligned: each row's PID starts under the title.
    const pidColumn = lines[0]!.indexOf('PID');
    for (const line of lines.slice(1)) expect([...line].slice(pidColumn).join('')).toMatch(/^\d+\s/);
  }
  const json = sandbox.dt(['-l', '--json'], { cols: 50 });
  expect((await json.waitForExit()).exitCode).toBe(0);
  const sessions = JSON.parse(json.output.toString('utf8').replace(/\r\n/g, '\n')) as Array<{ name: string; command: string[] }>;
  expect(sessions.find((session) => session.name === longName)?.command).toEqual([...HEXECHO, longArgument]);
  // Piped, nothing is shortened.
  const piped = await dt(['-l']);
  expect(piped.stdout).toContain(longArgument);
  expect(piped.stdout).toContain(longName);
});

it('dt -l shows control characters in a command as ?, so a row cannot move the cursor', async () => {
  expect(await dt(['-n', 'ctl', '/bin/sh', '-c', 'read line', 'sh', 'a\nb\x1b[2Jc'])).toMatchObject({ code: 0 });
  await sandbox.trackMaster(path.join(sandbox.sessionDir, 'ctl'));
  const table = await run(process.execPath, [path.resolve(import.meta.dirname, '../../bin/dt'), '-l'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(table.stdout).toContain('read line sh a?b?[2Jc');
  expect(table.stdout.split('\n')).toHaveLength(3);
});

it('dt -w on a session whose program could not be started says why, exit 1, and forgets it', async () => {
  const socket = path.join(sandbox.sessionDir, 'failed');
  const registry = path.join(sandbox.env()['XDG_STATE_HOME']!, 'dt', 'sessions');
  fs.mkdirSync(registry, { recursive: true });
  const now = new Date().toISOString();
  fs.writeFileSync(path.join(registry, '4000100.json'), JSON.stringify({
    socket, masterPid: 4000100, command: ['vi'], startedAt: now,
    exit: { code: 1, signal: 0, endedAt: now }, startError: 'could not open a terminal for the program',
  }));
  expect(await dt(['-w', 'failed'])).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: could not open a terminal for the program\n` });
  expect(await listed()).toEqual([]);
});
