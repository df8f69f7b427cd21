// The session registry against files dt did not write: every kind of bad file in the
// registry directory is skipped (and counted), and none stops a session from being created,
// attached, waited for or listed.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, Sandbox, hasEnded, waitUntil } from './harness.js';
import { HEXECHO, killTracked, run, runDt } from './lifecycle-helpers.js';

let sandbox: Sandbox;
/** File systems a test mounted, unmounted after it. */
let mounts: string[] = [];
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  // Lazily: detached at once, even while a master still has a file open there.
  for (const dir of mounts.reverse()) execFileSync('umount', ['-l', dir]);
  mounts = [];
  await sandbox.teardown();
});

const IS_ROOT = process.getuid?.() === 0;

function registryDir(): string {
  return path.join(sandbox.env()['XDG_STATE_HOME']!, 'dt', 'sessions');
}

function dt(args: string[], input?: string): ReturnType<typeof runDt> {
  return runDt(args, { cwd: sandbox.dir, env: sandbox.env(), ...(input === undefined ? {} : { input }) });
}

/** A record as dt writes it, for a master that is not running. */
function record(pid: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ socket: sandbox.path(`gone-${pid}`), masterPid: pid, command: ['sh'], startedAt: new Date().toISOString(), ...fields });
}

/** Puts one bad file into the registry directory. */
type BadFile = (dir: string) => void;

const BAD_FILES: Array<[string, BadFile]> = [
  ['a record that is JSON null', (dir) => fs.writeFileSync(path.join(dir, '4000001.json'), 'null')],
  ['a record that is not JSON', (dir) => fs.writeFileSync(path.join(dir, '4000002.json'), '{"socket": "/x", "mast')],
  ['a record with fields of the wrong type', (dir) => fs.writeFileSync(path.join(dir, '4000003.json'),
    JSON.stringify({ socket: 5, masterPid: '4000003', command: 'sh', startedAt: 7 }))],
  ['a record without startedAt', (dir) => fs.writeFileSync(path.join(dir, '4000004.json'),
    JSON.stringify({ socket: '/tmp/x', masterPid: 4000004, command: ['sh'] }))],
  ['a record without a command', (dir) => fs.writeFileSync(path.join(dir, '4000005.json'),
    JSON.stringify({ socket: '/tmp/x', masterPid: 4000005, startedAt: new Date().toISOString() }))],
  ['a record with an exit status of the wrong type', (dir) => fs.writeFileSync(path.join(dir, '4000006.json'),
    record(4000006, { exit: { code: '3', signal: 0, endedAt: 'yesterday' } }))],
  ['a record with a relative socket path', (dir) => fs.writeFileSync(path.join(dir, '4000007.json'),
    record(4000007, { socket: 'relative' }))],
  ['a FIFO named like a record', (dir) => execFileSync('mkfifo', [path.join(dir, '4000008.json')])],
  ['a symlink to /dev/zero named like a record', (dir) => fs.symlinkSync('/dev/zero', path.join(dir, '4000009.json'))],
  ['a directory named like a record', (dir) => fs.mkdirSync(path.join(dir, '4000010.json'))],
  // Sparse: 700 MB that cost nothing to create and would take seconds and gigabytes to read.
  ['a 700 MB record', (dir) => {
    fs.writeFileSync(path.join(dir, '4000011.json'), '');
    fs.truncateSync(path.join(dir, '4000011.json'), 700e6);
  }],
];

it.each(BAD_FILES)('%s is skipped and counted; sessions are still created, listed, attached and waited for', async (_, put) => {
  fs.mkdirSync(registryDir(), { recursive: true });
  put(registryDir());
  const socket = sandbox.path('s');
  const created = await dt(['-n', socket, '/bin/sh', '-c', 'read line; exit 3']);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);

  const listed = await dt(['-l', '--json']);
  expect(listed.code).toBe(0);
  expect(listed.stderr).toBe(`dt: ${registryDir()}: skipped 1 file that is not a session record\n`);
  expect(JSON.parse(listed.stdout)).toMatchObject([{ socket, masterPid, state: 'detached' }]);
  const table = await dt(['-l']);
  expect(table.code).toBe(0);
  expect(table.stdout.split('\n').filter((line) => line.includes(socket))).toHaveLength(1);

  // The program ends unwatched: its status is kept and reported despite the bad file.
  expect((await dt(['-p', socket], 'go\n')).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
  const attached = await dt(['-a', socket]);
  expect(attached).toMatchObject({ code: 3, stderr: '' });
  expect(attached.stdout).toMatch(/^\[program exited with status 3\] at /);
});

it('a copy of a record under another name, and an older record of the same socket, list the session once', async () => {
  sandbox.leavesMaster('a live session is listed: that is what is checked');
  const socket = sandbox.path('s');
  expect((await dt(['-n', socket, ...HEXECHO])).code).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const own = fs.readFileSync(path.join(registryDir(), `${masterPid}.json`), 'utf8');
  // A copy: its pid does not match its name, so it is not a record.
  fs.writeFileSync(path.join(registryDir(), '4000020.json'), own);
  // A valid record of an earlier session on the same socket, whose master is long gone.
  fs.writeFileSync(path.join(registryDir(), '4000021.json'),
    record(4000021, { socket, startedAt: '2020-01-01T00:00:00.000Z', exit: { code: 0, signal: 0, endedAt: new Date().toISOString() } }));

  const listed = await dt(['-l', '--json']);
  expect(listed.stderr).toBe(`dt: ${registryDir()}: skipped 1 file that is not a session record\n`);
  expect(JSON.parse(listed.stdout)).toMatchObject([{ socket, masterPid, state: 'detached' }]);
  expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(1);
});

it('a registry directory that is a file, or unreadable records, never stop dt -l', async () => {
  fs.mkdirSync(path.dirname(registryDir()), { recursive: true });
  fs.writeFileSync(registryDir(), 'not a directory');
  const listed = await dt(['-l']);
  expect(listed).toMatchObject({ code: 0, stdout: 'No sessions.\n', stderr: '' });
});

it('a relative XDG_STATE_HOME is ignored, as the XDG specification says: the record goes under HOME', async () => {
  sandbox.leavesMaster('only where the record goes is checked');
  const home = sandbox.path('home');
  fs.mkdirSync(home);
  const env = sandbox.env({ XDG_STATE_HOME: 'relative-state', HOME: home });
  const socket = sandbox.path('s');
  expect(await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  expect(fs.existsSync(path.join(home, '.local/state/dt/sessions', `${masterPid}.json`))).toBe(true);
  expect(fs.existsSync(sandbox.path('relative-state')), 'a registry relative to the current directory').toBe(false);
  const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env });
  expect(JSON.parse(listed.stdout)).toMatchObject([{ socket, masterPid }]);
});

/** A session created with `env`: dt -n succeeds, says once why it will not be listed, and runs. */
async function expectUnlistedSession(env: NodeJS.ProcessEnv, reason: string): Promise<number> {
  const socket = sandbox.path('s');
  const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: `dt: ${socket}: the session runs but will not be listed by dt -l: ${reason}\n` });
  const masterPid = await sandbox.trackMaster(socket);
  sandbox.leavesMaster('the session must go on without its record: that is what is checked');
  const listed = await runDt(['-l'], { cwd: sandbox.dir, env });
  expect(listed).toMatchObject({ code: 0, stdout: 'No sessions.\n' });
  return masterPid;
}

it('a registry that cannot be created (a file where its directory should be): the session runs, and dt says why it is not listed', async () => {
  const state = sandbox.path('state-file');
  fs.writeFileSync(state, '');
  await expectUnlistedSession(sandbox.env({ XDG_STATE_HOME: state }), `cannot write ${state}/dt/sessions: Not a directory`);
  // dt -c says it too, once, before attaching.
  const socket = sandbox.path('c');
  const term = sandbox.dt(['-c', socket, '-r', 'none', ...HEXECHO], { env: { XDG_STATE_HOME: state } });
  await term.waitFor('READY');
  await sandbox.trackMaster(socket);
  expect(term.text.split('will not be listed').length - 1).toBe(1);
  term.write('\x1c');
  expect((await term.waitForExit()).exitCode).toBe(0);
});

it.skipIf(!IS_ROOT)('a read-only registry: the session runs, and dt says why it is not listed', async () => {
  const state = sandbox.path('ro-state');
  fs.mkdirSync(path.join(state, 'dt', 'sessions'), { recursive: true });
  execFileSync('mount', ['--bind', state, state]);
  mounts.push(state);
  execFileSync('mount', ['-o', 'remount,bind,ro', state]);
  await expectUnlistedSession(sandbox.env({ XDG_STATE_HOME: state }), `cannot write ${state}/dt/sessions: Read-only file system`);
});

it.skipIf(!IS_ROOT)('a full registry file system: the session runs, dt says why, and no half-written file stays', async () => {
  const state = mountSmallRegistryDisk();
  const registry = path.join(state, 'dt', 'sessions');
  fs.mkdirSync(registry, { recursive: true });
  fillFileSystem(state);
  await expectUnlistedSession(sandbox.env({ XDG_STATE_HOME: state }), `cannot write ${registry}: No space left on device`);
  expect(fs.readdirSync(registry), 'files left in the registry').toEqual([]);
});

it.skipIf(!IS_ROOT)('a registry file system that fills up while the program runs: its status is kept all the same, and read whole', async () => {
  const state = mountSmallRegistryDisk();
  const env = sandbox.env({ XDG_STATE_HOME: state });
  const socket = sandbox.path('s');
  // Recorded while there is room; then the disk fills up (a log, a build), and the program ends unwatched.
  expect(await runDt(['-n', socket, '/bin/sh', '-c', 'read line; exit 4'], { cwd: sandbox.dir, env })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  fillFileSystem(state);
  expect((await runDt(['-p', socket], { cwd: sandbox.dir, env, input: 'go\n' })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
  const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env });
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(listed.stdout)).toMatchObject([{ socket, masterPid, state: 'exited', exitCode: 4 }]);
  expect(await runDt(['-w', socket], { cwd: sandbox.dir, env })).toMatchObject({ code: 4, stdout: '', stderr: '' });
  expect(fs.readdirSync(path.join(state, 'dt', 'sessions')), 'files left in the registry').toEqual([]);
});

/** A tiny file system for the registry, with room for the records of a session or two; unmounted after the test. */
function mountSmallRegistryDisk(): string {
  const state = sandbox.path('small-state');
  fs.mkdirSync(state);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', state]);
  mounts.push(state);
  return state;
}

/** Fills a file system until writes fail with ENOSPC. */
function fillFileSystem(dir: string): void {
  const filler = fs.openSync(path.join(dir, 'filler'), 'w');
  try {
    for (;;) fs.writeSync(filler, Buffer.alloc(4096));
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(filler);
  }
}

it('a dt -N master whose record cannot be written says why on its stderr, once, and serves all the same', async () => {
  const state = sandbox.path('state-file');
  fs.writeFileSync(state, '');
  const socket = sandbox.path('s');
  const env = sandbox.env({ XDG_STATE_HOME: state });
  const master = run(process.execPath, [DT, '-N', socket, '/bin/sh', '-c', 'read line; exit 4'], { cwd: sandbox.dir, env });
  await waitUntil(() => fs.existsSync(socket), 'the -N master to listen');
  await sandbox.trackMaster(socket);
  expect((await runDt(['-p', socket], { cwd: sandbox.dir, env, input: 'go\n' })).code).toBe(0);
  expect(await master).toMatchObject({
    code: 4, stdout: '', stderr: `dt: ${socket}: the session runs but will not be listed by dt -l: cannot write ${state}/dt/sessions: Not a directory\n`,
  });
});

it('dt -l lists sessions by the instant they started, whatever the form of the time, and equal instants by socket path', async () => {
  // Ended sessions, kept for dt -a: only their records are needed. Times as Date.parse reads
  // them: with an offset, without milliseconds, one instant written two ways.
  const started: Array<[number, string, string]> = [
    [4000031, 'a-utc', '2026-06-01T11:00:00.000Z'],
    [4000032, 'b-offset', '2026-06-01T12:00:00.000+02:00'], // 10:00 UTC: the first
    [4000033, 'c-no-ms', '2026-06-01T11:30:00Z'],
    [4000034, 'd-ms', '2026-06-01T11:30:00.250Z'],
    [4000035, 'f-same', '2026-06-01T12:00:00.000Z'],
    [4000036, 'e-same', '2026-06-01T14:00:00.000+02:00'], // the instant f-same started
    [4000037, 'h-equal', '2026-06-01T13:00:00.000Z'],
    [4000038, 'g-equal', '2026-06-01T13:00:00.000Z'],
  ];
  fs.mkdirSync(registryDir(), { recursive: true });
  const exit = { code: 0, signal: 0, endedAt: new Date().toISOString() };
  for (const [pid, name, startedAt] of started) {
    fs.writeFileSync(path.join(registryDir(), `${pid}.json`), record(pid, { socket: sandbox.path(name), startedAt, exit }));
  }
  const order = ['b-offset', 'a-utc', 'c-no-ms', 'd-ms', 'e-same', 'f-same', 'g-equal', 'h-equal'].map((name) => sandbox.path(name));

  const listed = await dt(['-l', '--json']);
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  const sessions = JSON.parse(listed.stdout) as Array<{ socket: string; startedAt: string }>;
  expect(sessions.map((session) => session.socket)).toEqual(order);
  // Given as dt writes times: ISO 8601, in UTC.
  expect(sessions.slice(0, 3).map((session) => session.startedAt)).toEqual(['2026-06-01T10:00:00.000Z', '2026-06-01T11:00:00.000Z', '2026-06-01T11:30:00.000Z']);
  const table = await dt(['-l']);
  expect(table).toMatchObject({ code: 0, stderr: '' });
  expect(table.stdout.split('\n').slice(1, -1).map((line) => line.split(' ')[0])).toEqual(order);
});
