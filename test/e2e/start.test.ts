// How a session starts: the creating command binds the socket and hands it to the master, so
// clients are served from the moment it returns; a failure only the master can meet (no pty)
// reaches the first client and dt -l; and dt -N takes its socket from a service manager, as
// systemd socket activation passes it (tested with systemd's own systemd-socket-activate).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, FIXTURES, Sandbox, hasEnded, masterPidOf, processState, waitForViewers, waitUntil, type Term } from './harness.js';
import {
  HEXECHO, descriptorTargets, expectNoMasterLeft, isSocketFile, killTracked, listSessions, modeOf, run, runDt, runInTerminal, sessionInfo, trackPid,
  trackProcessesMentioning,
} from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

interface Listed {
  socket: string;
  masterPid: number;
  state: string;
  note?: string;
}

async function listJson(): Promise<Listed[]> {
  return await listSessions(sandbox, true) as Listed[];
}

function socketsOf(pid: number): string[] {
  return descriptorTargets(pid).filter((target) => target.startsWith('socket:'));
}

it('-n returns with the socket listening; dt -l lists the session at once; the program holds no copy of the socket', async () => {
  const socket = sandbox.path('s');
  expect(await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  // At once, whether or not the master has started yet.
  expect(await listJson()).toMatchObject([{ socket, state: 'detached' }]);
  const masterPid = await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  const listening = socketsOf(masterPid);
  expect(listening.length).toBeGreaterThan(0);
  // A copy in the program would keep accepting connections after the master died.
  for (const target of listening) expect(descriptorTargets(programPid)).not.toContain(target);
  process.kill(masterPid, 'SIGKILL');
  await waitUntil(() => !fs.existsSync(`/proc/${masterPid}/stat`) || fs.readFileSync(`/proc/${masterPid}/stat`, 'latin1').includes(') Z'), 'the master to die');
  const afterDeath = await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env() });
  expect(afterDeath).toMatchObject({ code: 1, stderr: `dt: ${socket}: the session is gone (nobody is listening on this socket)\n` });
});

/** A process's environment as it was exec-ed, read from outside. */
function environmentOf(pid: number): Map<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((entry) => entry !== '');
  return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/** Starts HEXECHO with -n on socket `name` in `env` (added to ours); the master's and the program's environments. */
async function environmentsOfSession(env: NodeJS.ProcessEnv, name = 's'): Promise<{ socket: string; master: Map<string, string>; program: Map<string, string> }> {
  const socket = sandbox.path(name);
  expect(await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env: { ...sandbox.env(), ...env } })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  return { socket, master: environmentOf(masterPid), program: environmentOf(programPid) };
}

it('-n: the allocator setting dt gives its master is the master\'s alone; the program gets the creating command\'s environment', async () => {
  // PWD and TERM as dt sets them for the program: its directory, and TERM (xterm if unset).
  const env = { MALLOC_MMAP_THRESHOLD_: undefined, DT_TEST_MARKER: 'kept', PWD: sandbox.dir, TERM: 'xterm-256color' };
  const { socket, master, program } = await environmentsOfSession(env);
  expect(master.get('MALLOC_MMAP_THRESHOLD_')).toBe(String(128 * 1024));
  const created = Object.entries({ ...process.env, ...sandbox.env(), ...env }).filter((entry): entry is [string, string] => entry[1] !== undefined);
  expect(Object.fromEntries(program)).toEqual({ ...Object.fromEntries(created), DT_SESSION: socket });
});

it('-n: an allocator setting of the user\'s own reaches the master and the program alike', async () => {
  const { master, program } = await environmentsOfSession({ MALLOC_MMAP_THRESHOLD_: '65536' });
  expect(master.get('MALLOC_MMAP_THRESHOLD_')).toBe('65536');
  expect(program.get('MALLOC_MMAP_THRESHOLD_')).toBe('65536');
});

it('-n: the master starts without NODE_EXTRA_CA_CERTS, which would have Node parse certificates as it starts; the program gets it as set, and does not get it when unset', async () => {
  const certificates = sandbox.path('certificates.pem');
  fs.writeFileSync(certificates, ''); // read by the client's own Node: a file it can load says nothing
  const set = await environmentsOfSession({ NODE_EXTRA_CA_CERTS: certificates });
  expect(set.master.has('NODE_EXTRA_CA_CERTS')).toBe(false);
  expect(set.program.get('NODE_EXTRA_CA_CERTS')).toBe(certificates);
  const unset = await environmentsOfSession({ NODE_EXTRA_CA_CERTS: undefined }, 'unset');
  expect(unset.master.has('NODE_EXTRA_CA_CERTS')).toBe(false);
  expect(unset.program.has('NODE_EXTRA_CA_CERTS')).toBe(false);
});

// ---- the creating client of -c and -A, gone before it attached ----

it.each(['-c', '-A'])('%s whose creating client is killed before it attaches: the program\'s output no longer waits for it, and a later dt -a attaches as usual', async (option) => {
  const socket = sandbox.path('s');
  const written = sandbox.path('written');
  const held = sandbox.path('connect');
  // More output than a pty holds: while it is held for the creating client, the program blocks.
  const script = 'yes | head -c 1048576; : > "$0"; read line; exit 3';
  const creator = sandbox.dt([option, socket, 'sh', '-c', script, written], {
    env: { NODE_OPTIONS: `--require ${FIXTURES}/hold-connect.cjs`, HOLD_CONNECT_FILE: held },
  });
  // The master runs; its creating client is held just before it connects to attach.
  await waitUntil(() => fs.existsSync(`${held}.waiting`), 'the creating client to reach its connect');
  await sandbox.trackMaster(socket);
  creator.kill('SIGKILL');
  await creator.waitForExit();
  await waitUntil(() => fs.existsSync(written), 'the program to write all its output and then its marker file');
  const client = sandbox.dt(['-a', socket]);
  await waitForViewers(socket, 1);
  client.write('go\r');
  expect((await client.waitForExit()).exitCode).toBe(3);
  await expectNoMasterLeft(sandbox);
  expect(await listJson()).toEqual([]);
});

// ---- a pty the master cannot get: /dev/ptmx replaced by /dev/null in a mount namespace ----

const NO_PTY = ['--mount', 'sh', '-c', 'mount --bind /dev/null /dev/ptmx && exec "$@"', 'sh'];
const HAVE_NAMESPACES = spawnSync('unshare', [...NO_PTY, 'true']).status === 0;
const noPtyIt = HAVE_NAMESPACES ? it : it.skip;
if (!HAVE_NAMESPACES) console.warn('start.test.ts: unshare --mount is not permitted here; the no-pty tests are skipped');

noPtyIt('-n whose master gets no pty: dt -l shows why, dt -a (or dt -w) reports it once with status 1, nothing is left', async () => {
  const socket = sandbox.path('s');
  const created = await run('unshare', [...NO_PTY, process.execPath, DT, '-n', socket, 'sleep', '1000'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => !fs.existsSync(socket), 'the failed master to remove its socket');
  await expectNoMasterLeft(sandbox);
  const reason = 'could not start sleep: no pseudo-terminal could be opened (/dev/ptmx is not a terminal device)';
  expect(await listJson()).toMatchObject([{ socket, state: 'failed', note: reason }]);
  const attached = await runDt(['-a', socket], { cwd: sandbox.dir, env: sandbox.env() });
  expect(attached).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: ${reason}\n` });
  expect(await listJson()).toEqual([]);

  // dt -w, which waits for a status, is told the same, once.
  expect(await run('unshare', [...NO_PTY, process.execPath, DT, '-n', socket, 'sleep', '1000'], { cwd: sandbox.dir, env: sandbox.env() }))
    .toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => !fs.existsSync(socket), 'the failed master to remove its socket');
  await expectNoMasterLeft(sandbox);
  expect(await runDt(['-w', socket], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: ${reason}\n` });
  expect(await listJson()).toEqual([]);
  expect(await runDt(['-w', socket], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 1, stderr: `dt: ${socket}: No such file or directory\n` });
});

noPtyIt('-c whose master gets no pty: the creating client reports why, status 1, and nothing is left', async () => {
  const socket = sandbox.path('s');
  const stderrFile = sandbox.path('dt.stderr');
  const term = runInTerminal(sandbox, stderrFile, 'unshare', [...NO_PTY, process.execPath, DT, '-c', socket, 'sleep', '1000']);
  await expectToldWhyOnce(term, stderrFile, socket);
});

// A client slowed down right after its connect, as on a busy machine: the master that failed
// accepts it and answers at once. Were the master to exit then, with the client's hello
// unread, the kernel would reset the connection, and the client, whose event loop has not yet
// seen its connect complete, would learn only that: "the session closed the connection
// without answering". The client is held until the master has done all it can on its own.

const NO_PTY_REASON = 'could not start sleep: no pseudo-terminal could be opened (/dev/ptmx is not a terminal device)';

/**
 * The client in `term` was told why the master could not start the program: status 1 and the
 * reason on its stderr; the master is gone with its socket, and, told as an attached client is
 * told a program's end, nothing is kept for dt -l or the next dt -a.
 */
async function expectToldWhyOnce(term: Term, stderrFile: string, socket: string): Promise<void> {
  expect((await term.waitForExit()).exitCode).toBe(1);
  expect(fs.readFileSync(stderrFile, 'utf8')).toBe(`dt: ${socket}: ${NO_PTY_REASON}\n`);
  await waitUntil(() => !fs.existsSync(socket), 'the failed master to remove its socket');
  await expectNoMasterLeft(sandbox);
  expect(await listJson()).toEqual([]);
}

interface StartRecord {
  socket: string;
  masterPid: number;
  startError?: string;
}

/** The registry's record of the master serving `socket`, read directly: dt -l would connect to it. */
function recordOf(socket: string): StartRecord | undefined {
  const dir = path.join(sandbox.dir, 'state', 'dt', 'sessions');
  if (!fs.existsSync(dir)) return undefined;
  for (const name of fs.readdirSync(dir).filter((entry) => /^\d+\.json$/.test(entry))) {
    let record: StartRecord;
    try {
      record = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as StartRecord;
    } catch {
      continue; // removed since the listing
    }
    if (record.socket === socket) return record;
  }
  return undefined;
}

/** The master's pid, from the record the creating command writes before it returns or attaches. */
async function recordedMasterPid(socket: string): Promise<number> {
  await waitUntil(() => recordOf(socket) !== undefined, 'the session to be recorded');
  const { masterPid } = recordOf(socket)!;
  sandbox.addMaster(masterPid);
  return masterPid;
}

/** The main thread's wait channel: do_epoll_wait while Node's event loop sleeps with nothing to do. */
function waitChannel(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'latin1');
  } catch {
    return '';
  }
}

/**
 * Until the master that failed has done all it can while its client is held: it has exited, or
 * it has recorded why and sleeps in its event loop. The held client's connection is ready in
 * its queue the moment the reason is recorded, so the master cannot sleep before it has
 * accepted and answered it.
 */
async function waitUntilFailedMasterIsDone(masterPid: number, socket: string): Promise<void> {
  await waitUntil(
    () => hasEnded(masterPid) || (recordOf(socket)?.startError !== undefined && processState(masterPid) === 'S' && waitChannel(masterPid) === 'do_epoll_wait'),
    'the failed master to answer its client (or to exit)',
  );
}

/** NODE_OPTIONS and the file that releases a client held by hold-after-connect.cjs. */
function holdAfterConnect(): { env: NodeJS.ProcessEnv; release: string } {
  const release = sandbox.path('release');
  return { env: { NODE_OPTIONS: `--require ${FIXTURES}/hold-after-connect.cjs`, HOLD_AFTER_CONNECT_FILE: release }, release };
}

noPtyIt.each(['-c', '-A'])('%s whose master gets no pty: a creating client slowed down right after its connect is still told why', async (option) => {
  const socket = sandbox.path('s');
  const stderrFile = sandbox.path('dt.stderr');
  const { env, release } = holdAfterConnect();
  const term = runInTerminal(sandbox, stderrFile, 'unshare', [...NO_PTY, process.execPath, DT, option, socket, 'sleep', '1000'], env);
  await waitUntil(() => fs.existsSync(`${release}.waiting`), 'the creating client to connect');
  const masterPid = await recordedMasterPid(socket);
  await waitUntilFailedMasterIsDone(masterPid, socket);
  fs.writeFileSync(release, '');
  await expectToldWhyOnce(term, stderrFile, socket);
});

noPtyIt.each(['-c', '-A'])('%s whose master gets no pty and whose creating client is killed before it connects: the master ends at once, dt -l shows why', async (option) => {
  const socket = sandbox.path('s');
  const held = sandbox.path('connect');
  const env = { NODE_OPTIONS: `--require ${FIXTURES}/hold-connect.cjs`, HOLD_CONNECT_FILE: held };
  const term = runInTerminal(sandbox, sandbox.path('dt.stderr'), 'unshare', [...NO_PTY, process.execPath, DT, option, socket, 'sleep', '1000'], env);
  await waitUntil(() => fs.existsSync(`${held}.waiting`), 'the creating client to reach its connect');
  const masterPid = await recordedMasterPid(socket);
  term.kill('SIGKILL');
  await term.waitForExit();
  // Not the 10 s it waits for a creating client that may still come.
  await waitUntil(() => hasEnded(masterPid), 'the master to end once its creating client is gone', 3_000);
  expect(fs.existsSync(socket)).toBe(false);
  expect(await listJson()).toMatchObject([{ socket, state: 'failed', note: NO_PTY_REASON }]);
});

noPtyIt('-n whose master gets no pty: a dt -a slowed down right after its connect is still told why', async () => {
  const socket = sandbox.path('s');
  // The master stops as it starts, so that dt -a's connection waits in the socket's queue.
  const stopMaster = { NODE_OPTIONS: `--require ${FIXTURES}/stop-at-start.cjs`, STOP_AT_START_IF_ARGUMENT: '--internal-master' };
  const created = await run('unshare', [...NO_PTY, process.execPath, DT, '-n', socket, 'sleep', '1000'], { cwd: sandbox.dir, env: sandbox.env(stopMaster) });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await recordedMasterPid(socket);
  await waitUntil(() => processState(masterPid) === 'T', 'the master to stop as it starts');
  const stderrFile = sandbox.path('dt.stderr');
  const { env, release } = holdAfterConnect();
  const term = runInTerminal(sandbox, stderrFile, process.execPath, [DT, '-a', socket], env);
  await waitUntil(() => fs.existsSync(`${release}.waiting`), 'dt -a to connect');
  process.kill(masterPid, 'SIGCONT');
  await waitUntilFailedMasterIsDone(masterPid, socket);
  fs.writeFileSync(release, '');
  await expectToldWhyOnce(term, stderrFile, socket);
});

it('a creating command killed as it writes a long command line to its master: the master ends by itself, its socket file and record gone', async () => {
  const socket = sandbox.path('s');
  // More than a pipe holds, so that the command waits for the master to read it; the master stops as it starts.
  const words = Array.from({ length: 300 }, () => 'x'.repeat(1000));
  const stopMaster = { NODE_OPTIONS: `--require ${FIXTURES}/stop-at-start.cjs`, STOP_AT_START_IF_ARGUMENT: '--internal-master' };
  const creating = runDt(['-n', socket, 'true', ...words], { cwd: sandbox.dir, env: sandbox.env(stopMaster) });
  const masterPid = await recordedMasterPid(socket);
  const [creator] = trackProcessesMentioning(socket);
  expect(creator).toBeDefined();
  // The pipe is full: the command has written what it could, and waits in its event loop.
  await waitUntil(() => processState(masterPid) === 'T' && processState(creator!) === 'S' && waitChannel(creator!) === 'do_epoll_wait', 'the command to wait for its master to read');
  process.kill(creator!, 'SIGKILL');
  expect((await creating).signal).toBe('SIGKILL');
  process.kill(masterPid, 'SIGCONT');
  await waitUntil(() => hasEnded(masterPid), 'the master to end');
  expect(fs.existsSync(socket)).toBe(false);
  expect(await listJson()).toEqual([]);
  expect(fs.readdirSync(sandbox.dir).filter((name) => name.startsWith('.dt-'))).toEqual([]);
});

// ---- systemd socket activation ----

const ACTIVATE = '/usr/bin/systemd-socket-activate';
const HAVE_ACTIVATE = fs.existsSync(ACTIVATE);
const activationIt = HAVE_ACTIVATE ? it : it.skip;
if (!HAVE_ACTIVATE) console.warn('start.test.ts: no systemd-socket-activate (Debian package systemd); the socket activation tests are skipped');

/**
 * systemd-socket-activate passes its children only the variables it is told to (-E). Also
 * NODE_V8_COVERAGE when set, so that a run measuring coverage covers the socket-activated masters too.
 */
function passEnvironment(extra: Record<string, string> = {}): string[] {
  const coverage = process.env['NODE_V8_COVERAGE'];
  const variables = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...(coverage && { NODE_V8_COVERAGE: coverage }), ...sandbox.env(), ...extra };
  return Object.entries(variables).flatMap(([name, value]) => ['-E', `${name}=${value}`]);
}

activationIt('dt -N serves on the socket systemd passes (LISTEN_FDS), leaves its file alone, and exits with the program', async () => {
  const socket = sandbox.path('s');
  // systemd-socket-activate listens, and on the first connection execs dt in its own process
  // with LISTEN_FDS=1, LISTEN_PID and the socket at descriptor 3, as systemd does.
  const service = sandbox.run(ACTIVATE, ['-l', socket, ...passEnvironment({ HEXECHO_EXIT_ON_EOT: '1' }), process.execPath, DT, '-N', socket, ...HEXECHO]);
  await service.waitFor('Listening on');
  const modeBefore = modeOf(socket);
  const client = sandbox.dt(['-a', socket, '-r', 'none']);
  await client.waitFor('READY');
  client.write('x');
  await client.waitFor('HEX 78');

  const masterPid = await masterPidOf(socket);
  expect(masterPid).toBe(service.pid);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  const environment = fs.readFileSync(`/proc/${programPid}/environ`, 'utf8').split('\0');
  expect(environment.filter((entry) => entry.startsWith('LISTEN_'))).toEqual([]);
  expect(socketsOf(programPid)).toEqual([]);
  expect(modeOf(socket)).toBe(modeBefore);

  client.write('\x04');
  expect((await client.waitForExit()).exitCode).toBe(0);
  expect((await service.waitForExit()).exitCode).toBe(0);
  // The file is the service manager's: it listens on it again for the next start.
  expect(isSocketFile(socket)).toBe(true);
});

activationIt('a socket-activated program that ended unwatched, its socket file left with nobody listening: dt -k says so, dt -w and dt -a return the kept status, as dt -l shows it', async () => {
  const socket = sandbox.path('s');
  /** The service started, by the connection of a dt -p whose line ends its program, with status 7. */
  const runUntilStopped = async (): Promise<void> => {
    const service = sandbox.run(ACTIVATE, ['-l', socket, ...passEnvironment(), process.execPath, DT, '-N', socket, 'sh', '-c', 'read line; exit 7']);
    await service.waitFor('Listening on');
    expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'stop\n' })).toMatchObject({ code: 0, stderr: '' });
    expect((await service.waitForExit()).exitCode).toBe(7);
    expect(isSocketFile(socket)).toBe(true);
    expect(await listJson()).toMatchObject([{ socket, state: 'exited', exitCode: 7 }]);
  };
  await runUntilStopped();

  expect(await runDt(['-k', socket], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: the session's program has ended: dt -a or dt -w shows its exit status and forgets it\n`,
  });
  expect(await runDt(['-w', socket], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 7, stdout: '', stderr: '' });
  expect(await listJson()).toEqual([]);
  expect(await runDt(['-w', socket], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: the session is gone (nobody is listening on this socket)\n`,
  });

  await runUntilStopped();
  const client = sandbox.dt(['-a', socket]);
  expect((await client.waitForExit()).exitCode).toBe(7);
  expect(client.text).toMatch(/^\[program exited with status 7\] at [-0-9]+ [0-9:]+, while detached\r\n$/);
  expect(await listJson()).toEqual([]);
});

activationIt('a socket-activated session whose socket file was deleted is listed as one its master cannot make again, not one SIGUSR1 recreates', async () => {
  const socket = sandbox.path('s');
  const service = sandbox.run(ACTIVATE, ['-l', socket, ...passEnvironment(), process.execPath, DT, '-N', socket, ...HEXECHO]);
  await service.waitFor('Listening on');
  // The connection that starts the service.
  expect(await runDt(['-k', socket, '0'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await masterPidOf(socket);
  fs.unlinkSync(socket);
  expect(await listJson()).toMatchObject([
    { socket, masterPid, state: 'unreachable', note: 'socket missing; its service manager made it, and the master cannot make it again' },
  ]);
  process.kill(masterPid, 'SIGTERM');
  await service.waitForExit();
  expect(await listJson()).toEqual([]);
});

/** A service manager's socket unit, as systemd runs one: see the fixture. */
const SOCKET_UNIT = `${FIXTURES}/socket-unit.py`;
const HAVE_PYTHON = spawnSync('python3', ['-c', '']).status === 0;
if (!HAVE_PYTHON) console.warn('start.test.ts: no python3; the test with a socket held as systemd holds it is skipped');

(HAVE_PYTHON ? it : it.skip)('a socket-activated session whose master died, its service manager still listening: dt -l says a connection starts a new session, not that dt -A replaces it', async () => {
  const socket = sandbox.path('s');
  const unit = sandbox.run('python3', [SOCKET_UNIT, '--restart', socket, process.execPath, DT, '-N', socket, ...HEXECHO]);
  await unit.waitFor(/MAINPID \d+\r\n/);
  const masterPid = Number(/MAINPID (\d+)/.exec(unit.text)![1]);
  sandbox.addMaster(masterPid);
  expect(await masterPidOf(socket)).toBe(masterPid);
  trackPid((await sessionInfo(socket)).programPid);
  process.kill(masterPid, 'SIGKILL');
  await unit.waitFor('ENDED');
  expect(await listJson()).toEqual([expect.objectContaining({
    socket, masterPid, state: 'stale', note: 'master gone; its service manager still listens: a connection starts a new session',
  })]);
  // Listed once, then forgotten, as any stale session; the socket file is the service manager's.
  expect(await listJson()).toEqual([]);
  expect(isSocketFile(socket)).toBe(true);

  // What the note says: a connection starts the service again, a new session.
  const from = unit.text.length;
  expect(await runDt(['-k', socket, '0'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  await unit.waitFor(/MAINPID \d+\r\n/, { from });
  const newMasterPid = Number(/MAINPID (\d+)/.exec(unit.text.slice(from))![1]);
  sandbox.addMaster(newMasterPid);
  expect(newMasterPid).not.toBe(masterPid);
  expect(await listJson()).toEqual([expect.objectContaining({ socket, masterPid: newMasterPid, state: 'detached' })]);
  expect(await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
  await unit.waitFor('ENDED', { from });
  unit.write('\r');
  await unit.waitForExit();
});

activationIt('a socket-activated dt -N whose program cannot be executed tells the client that started it why, as well as its own stderr, status 1', async () => {
  const socket = sandbox.path('s');
  const missing = sandbox.path('start-server');
  const service = sandbox.run(ACTIVATE, ['-l', socket, ...passEnvironment(), process.execPath, DT, '-N', socket, missing]);
  await service.waitFor('Listening on');
  const reason = `could not execute ${missing}: No such file or directory`;
  expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'say hi\n' })).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: ${reason}\n`,
  });
  expect((await service.waitForExit()).exitCode).toBe(1);
  expect(service.text).toContain(`dt: ${reason}\r\n`);
  // Told to the client that read it: nothing is kept.
  expect(await listJson()).toEqual([]);
  expect(isSocketFile(socket)).toBe(true);
});

activationIt('a socket-activated dt -N whose log cannot be opened tells the client that started it why, as well as its own stderr, status 1', async () => {
  const socket = sandbox.path('s');
  const log = sandbox.path('no-such-directory/console.log');
  const service = sandbox.run(ACTIVATE, ['-l', socket, ...passEnvironment(), process.execPath, DT, '-N', socket, '-L', log, ...HEXECHO]);
  await service.waitFor('Listening on');
  const reason = `${log}: No such file or directory`;
  expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'say hi\n' })).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: ${reason}\n`,
  });
  expect((await service.waitForExit()).exitCode).toBe(1);
  expect(service.text).toContain(`dt: ${reason}\r\n`);
  expect(await listJson()).toEqual([]);
});

activationIt('dt -N refuses a passed socket that is not the one named, status 1', async () => {
  const socket = sandbox.path('s');
  const other = sandbox.path('other');
  const service = sandbox.run(ACTIVATE, ['-l', other, ...passEnvironment(), process.execPath, DT, '-N', socket, ...HEXECHO]);
  await service.waitFor('Listening on');
  await runDt(['-k', other, 'WINCH'], { cwd: sandbox.dir, env: sandbox.env() }); // the connection that starts the service
  expect((await service.waitForExit()).exitCode).toBe(1);
  expect(service.text).toContain(`dt: ${socket}: the service manager's socket is ${other}, not this one`);
  expect(fs.existsSync(socket)).toBe(false);
});

it('dt -N given more than one socket by a service manager, or one that is not a listening unix stream socket: the reason, status 1, nothing created', async () => {
  const socket = sandbox.path('s');
  // As a service manager starts a service: LISTEN_PID is the process that execs dt, its sockets from descriptor 3 on.
  const asService = (count: number, descriptors: string): ReturnType<typeof run> => run('sh', [
    '-c', `LISTEN_PID=$$ LISTEN_FDS=${count} exec "$@" ${descriptors}`, 'sh', process.execPath, DT, '-N', socket, ...HEXECHO,
  ], { cwd: sandbox.dir, env: sandbox.env() });
  expect(await asService(2, '3</dev/null 4</dev/null')).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: the service manager passed 2 sockets; dt -N takes exactly one (Accept=no)\n`,
  });
  expect(await asService(1, '3</dev/null')).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: the service manager did not pass a listening unix stream socket (ListenStream=, Accept=no)\n`,
  });
  expect(fs.readdirSync(sandbox.dir).filter((entry) => entry === 's')).toEqual([]);
  await expectNoMasterLeft(sandbox);
  expect(await listJson()).toEqual([]);
});
