// Errors the system gives about the socket path or the master, each turned into a reason a
// user can act on: a file where a directory should be, a symbolic link loop or to nothing, a
// name too long, a read-only or full file system, a stopped master, a master out of file
// descriptors, a session that ends while -p is still sending, a socket that answers with an
// error. Each: the message on stderr,
// status 1, nothing created or left running, never an internal path or a stack trace.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  DT, Peer, Sandbox, copyBuiltDt, freshTerminalModes, isAlive, masterInfo, openDescriptorCount, processState, shellReport, waitForViewers, waitUntil,
} from './harness.js';
import {
  HEXECHO, expectNoMasterLeft, isSocketFile, killTracked, listSessions, run, runDt, runInTerminal, sessionInfo, spawnTracked, trackPid, waitForClients,
} from './lifecycle-helpers.js';
import { FrameType, HelloFeature, PROTOCOL_VERSION, encodeFrame, encodeHello } from '../../src/common/protocol.js';

let sandbox: Sandbox;
const cleanups: Array<() => void> = [];
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  await killTracked();
  await sandbox.teardown();
});

/** Runs dt in a terminal; resolves with its exit status and what it wrote on stderr. */
async function dtInTerminal(args: string[], name = 'dt'): Promise<{ code: number; stderr: string }> {
  const stderrFile = sandbox.path(`${name}.stderr`);
  const term = runInTerminal(sandbox, stderrFile, process.execPath, [DT, ...args]);
  const { exitCode } = await term.waitForExit(20_000);
  return { code: exitCode, stderr: fs.readFileSync(stderrFile, 'utf8') };
}

/** The sandbox's entries, apart from the stderr files these tests write. */
function entries(directory = sandbox.dir): string[] {
  return fs.readdirSync(directory).filter((name) => !name.endsWith('.stderr')).sort();
}

/** Every mode, each expected to fail with `reason` about `socket` and status 1, creating nothing. */
async function expectEveryModeRefused(socket: string, reasons: { create: string; use: string }): Promise<void> {
  const before = entries();
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const failures: string[] = [];
  const check = (what: string, result: { code: number | null; stderr: string }, reason: string): void => {
    const expected = `dt: ${socket}: ${reason}\n`;
    if (result.code !== 1 || result.stderr !== expected) failures.push(`${what}: ${result.code} ${JSON.stringify(result.stderr)}, expected ${JSON.stringify(expected)}`);
  };
  check('-n', await runDt(['-n', socket, 'sh', '-c', 'echo ran > ran'], options), reasons.create);
  check('-c', await dtInTerminal(['-c', socket, 'sh', '-c', 'echo ran > ran']), reasons.create);
  check('-A', await dtInTerminal(['-A', socket, 'sh', '-c', 'echo ran > ran']), reasons.create);
  check('-a', await dtInTerminal(['-a', socket]), reasons.use);
  check('-p', await runDt(['-p', socket], { ...options, input: 'data' }), reasons.use);
  check('-k', await runDt(['-k', socket], options), reasons.use);
  expect(failures).toEqual([]);
  expect(entries()).toEqual(before);
  await expectNoMasterLeft(sandbox);
}

it('a regular file where the socket\'s directory should be: "Not a directory" in every mode', async () => {
  fs.writeFileSync(sandbox.path('file'), 'keep me\n');
  await expectEveryModeRefused(sandbox.path('file/s'), { create: 'Not a directory', use: 'Not a directory' });
  expect(fs.readFileSync(sandbox.path('file'), 'utf8')).toBe('keep me\n');
});

it('a symbolic link loop at the socket path: "Too many levels of symbolic links" in every mode', async () => {
  fs.symlinkSync('loop', sandbox.path('loop'));
  const reason = 'Too many levels of symbolic links';
  await expectEveryModeRefused(sandbox.path('loop'), { create: reason, use: reason });
});

it('a name longer than a directory entry can be: "File name too long" in every mode', async () => {
  const reason = 'File name too long';
  await expectEveryModeRefused(sandbox.path('n'.repeat(256)), { create: reason, use: reason });
});

it('a symbolic link to nothing at the socket path is refused, not replaced, and never "Address already in use"', async () => {
  fs.symlinkSync(sandbox.path('nowhere'), sandbox.path('dangling'));
  await expectEveryModeRefused(sandbox.path('dangling'), {
    create: 'File exists and is a symbolic link to a missing file',
    use: 'No such file or directory (a symbolic link to a missing file)',
  });
  expect(fs.readlinkSync(sandbox.path('dangling'))).toBe(sandbox.path('nowhere'));
});

/** Mounts a small tmpfs with `options` at a new directory; undefined when this machine does not let us. */
function mountTmpfs(name: string, options: string): string | undefined {
  const directory = sandbox.path(name);
  fs.mkdirSync(directory);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'dt-test', directory], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  cleanups.push(() => execFileSync('umount', [directory]));
  return directory;
}

it.for([
  ['a read-only file system', 'ro,size=64k', 'Read-only file system'],
  ['a file system with no inode left', 'size=64k,nr_inodes=1', 'No space left on device'],
] as const)('-n on %s says so, and names no temporary file', async ([, options, reason], context) => {
  const directory = mountTmpfs('mnt', options);
  if (directory === undefined) return context.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN)');
  const socket = `${directory}/s`;
  const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: ${reason}\n` });
  expect(fs.readdirSync(directory)).toEqual([]);
  await expectNoMasterLeft(sandbox);
});

/** A session running hexecho, with its master's and program's pids. */
async function startSession(socket: string): Promise<{ masterPid: number; programPid: number }> {
  const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  return { masterPid, programPid };
}

/** How long a client waits for a silent socket's reply (session-connection.ts): a refusal must be told before. */
const HELLO_REPLY_TIMEOUT_MS = 5_000;

/** Runs `running` and resolves with its outcome and how long it took, in ms. */
async function timed<T>(running: Promise<T>): Promise<T & { ms: number }> {
  const started = Date.now();
  const result = await running;
  return { ...result, ms: Date.now() - started };
}

/** Every command that asks the master, run at once on an unanswering session; what each said, its status and how long it took. */
async function askEveryMode(socket: string): Promise<Record<string, { code: number | null; stderr: string; ms: number; stdout?: string }>> {
  const options = { cwd: sandbox.dir, env: sandbox.env(), timeoutMs: 20_000 };
  const program = ['sh', '-c', 'echo ran > ran'];
  const [a, A, c, p, k, w, n, l] = await Promise.all([
    timed(dtInTerminal(['-a', socket], 'a')),
    timed(dtInTerminal(['-A', socket, ...program], 'A')),
    timed(dtInTerminal(['-c', socket, ...program], 'c')),
    timed(runDt(['-p', socket], { ...options, input: 'p' })),
    timed(runDt(['-k', socket], options)),
    timed(runDt(['-w', socket], options)),
    timed(runDt(['-n', socket, ...program], options)),
    timed(runDt(['-l'], options)),
  ]);
  return { '-a': a, '-A': A, '-c': c, '-p': p, '-k': k, '-w': w, '-n': n, '-l': l };
}

/** How dt -l lists a session whose master does not answer, after the 5 s a client waits. */
const UNREACHABLE_ROW = 'unreachable (not answering)';

/**
 * What askEveryMode should find: `reason` from each mode (-c and -n: the socket is in use),
 * after the 5 s a client waits and well before a hang; and -l's row, `listed`.
 */
function expectEveryModeWaitedFor(outcomes: Awaited<ReturnType<typeof askEveryMode>>, socket: string, reason: string, listed = UNREACHABLE_ROW): void {
  const waited = expect.any(Number);
  const refusal = { code: 1, stderr: `dt: ${socket}: ${reason}\n`, ms: waited };
  const inUse = { code: 1, stderr: `dt: ${socket}: this socket is in use: ${reason}\n`, ms: waited };
  expect(outcomes).toMatchObject({
    '-a': refusal, '-A': refusal, '-p': refusal, '-k': refusal, '-w': refusal, '-c': inUse, '-n': inUse,
    '-l': { code: 0, stderr: '', stdout: expect.stringContaining(listed) },
  });
  for (const [mode, { ms }] of Object.entries(outcomes)) {
    // -l waits only for a master it asks: one it sees stopped it lists as such without asking.
    if (mode === '-l' && listed !== UNREACHABLE_ROW) continue;
    expect({ mode, waitedLongEnough: ms >= HELLO_REPLY_TIMEOUT_MS - 100 }).toEqual({ mode, waitedLongEnough: true });
    expect({ mode, returned: ms < 3 * HELLO_REPLY_TIMEOUT_MS }).toEqual({ mode, returned: true });
  }
}

/** The session answers again as it did: same master, listed, nothing created meanwhile, and keys reach the program. */
async function expectSessionIntact(socket: string, masterPid: number): Promise<void> {
  expect(fs.existsSync(sandbox.path('ran'))).toBe(false);
  expect(await sessionInfo(socket)).toMatchObject({ masterPid, clients: 0 });
  expect(await listSessions(sandbox, true)).toMatchObject([{ socket, masterPid, state: 'detached' }]);
  const term = sandbox.dt(['-a', socket, '-r', 'none']);
  term.write('x');
  await term.waitFor('HEX 78');
  expect(await runDt(['-k', socket, 'TERM'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
  await term.waitForExit();
  await waitUntil(() => !isAlive(masterPid), 'the master to end with its program');
}

it('a stopped master: every mode that asks it says, after 5 s, that it is stopped and how to resume it; -l lists it as stopped; kill -CONT and it is as it was', async () => {
  const socket = sandbox.path('s');
  const { masterPid } = await startSession(socket);
  sandbox.stopProcess(masterPid);
  cleanups.push(() => { if (isAlive(masterPid)) process.kill(masterPid, 'SIGCONT'); });
  await waitUntil(() => processState(masterPid) === 'T', 'the master to be stopped');
  const stoppedRow = `stopped (kill -CONT ${masterPid} resumes it)`;
  expect(await listSessions(sandbox, true)).toMatchObject([{ socket, masterPid, state: 'stopped', note: `kill -CONT ${masterPid} resumes it` }]);
  const outcomes = await askEveryMode(socket);
  expectEveryModeWaitedFor(outcomes, socket, `the session is not answering: its master (pid ${masterPid}) is stopped; kill -CONT ${masterPid} resumes it`, stoppedRow);

  process.kill(masterPid, 'SIGCONT');
  await expectSessionIntact(socket, masterPid);
});

/**
 * Freezes a process with cgroup v1's freezer: it runs no more, yet is not stopped (its state
 * is D, not T), as a master stuck in the kernel would be. Resolves with the thaw, or undefined
 * when there is no freezer this test may use.
 */
async function freeze(pid: number): Promise<(() => void) | undefined> {
  const root = '/sys/fs/cgroup/freezer';
  const group = `${root}/dt-test-${process.pid}-${pid}`;
  const thaw = (): void => {
    fs.writeFileSync(`${group}/freezer.state`, 'THAWED');
    if (isAlive(pid)) fs.writeFileSync(`${root}/cgroup.procs`, String(pid));
    fs.rmdirSync(group);
  };
  try {
    fs.mkdirSync(group);
  } catch {
    return undefined; // no freezer hierarchy, or one we may not change (not root, read-only)
  }
  try {
    fs.writeFileSync(`${group}/cgroup.procs`, String(pid));
    fs.writeFileSync(`${group}/freezer.state`, 'FROZEN');
  } catch {
    thaw();
    return undefined;
  }
  await waitUntil(() => fs.readFileSync(`${group}/freezer.state`, 'utf8').trim() === 'FROZEN', 'the master to be frozen');
  return thaw;
}

it('a master that runs but does not answer (frozen by the cgroup freezer): every mode says, after 5 s, that it did not reply; thawed, it is as it was', async (context) => {
  const socket = sandbox.path('s');
  const { masterPid } = await startSession(socket);
  const thaw = await freeze(masterPid);
  if (thaw === undefined) {
    sandbox.addMaster(masterPid);
    expect(await runDt(['-k', socket, 'TERM'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
    return context.skip('no cgroup v1 freezer this test may use (/sys/fs/cgroup/freezer, as root)');
  }
  let thawed = false;
  cleanups.push(() => { if (!thawed) thaw(); });
  expect(processState(masterPid)).not.toBe('T');
  const outcomes = await askEveryMode(socket);
  expectEveryModeWaitedFor(outcomes, socket, `the session is not answering: its master (pid ${masterPid}) did not reply in 5 s`);

  thaw();
  thawed = true;
  await expectSessionIntact(socket, masterPid);
});

it('a socket that accepts and never answers: "no reply", not a hang', async () => {
  const socket = sandbox.path('silent');
  const server = net.createServer(() => { /* says nothing */ });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => server.close());
  const pushed = await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'p', timeoutMs: 20_000 });
  expect(pushed).toMatchObject({ code: 1, stderr: `dt: ${socket}: no reply in 5 s: not a dt session, or its master is not answering\n` });
});

it('a socket that answers the hello with an error: that reason, status 1', async () => {
  const socket = sandbox.path('refusing');
  const server = net.createServer((connection) => {
    connection.on('error', () => { /* the client left */ });
    connection.once('data', () => connection.end(encodeFrame(FrameType.Error, Buffer.from('not for you'))));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => server.close());
  const pushed = await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'p' });
  expect(pushed).toMatchObject({ code: 1, stderr: `dt: ${socket}: not for you\n` });
});

it('a session that says a good hello and then fails -w and -p (goes away, ends with an error, sends garbage): the reason, status 1, at once', async () => {
  const hello = encodeHello({ version: PROTOCOL_VERSION, pid: process.pid, features: HelloFeature.InputWritten });
  // What the test's own master does once it has the client's first bytes (its hello and request).
  const endings: Record<string, (connection: net.Socket) => void> = {
    'goes away': (connection) => connection.end(hello),
    'ends with an error': (connection) => connection.end(Buffer.concat([hello, encodeFrame(FrameType.Error, Buffer.from('session terminated'))])),
    // And stays: the client must judge what it got, not wait for an end.
    'sends garbage': (connection) => connection.write(Buffer.concat([hello, Buffer.from([0xee, 0, 0, 0, 0])])),
  };
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const outcomes: Record<string, unknown> = {};
  for (const [what, ending] of Object.entries(endings)) {
    const socket = sandbox.path(what.replaceAll(' ', '-'));
    const server = net.createServer((connection) => {
      connection.on('error', () => { /* the client left */ });
      connection.once('data', () => ending(connection));
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    cleanups.push(() => server.close());
    outcomes[what] = {
      '-w': await beforeSilenceTimeout(() => runDt(['-w', socket], options)),
      '-p': await beforeSilenceTimeout(() => runDt(['-p', socket], { ...options, input: 'p' })),
    };
  }
  const failed = (socket: string, reason: string) => ({ code: 1, stdout: '', stderr: `dt: ${sandbox.path(socket)}: ${reason}\n`, beforeTimeout: true });
  expect(outcomes).toMatchObject({
    'goes away': {
      '-w': failed('goes-away', 'lost the session: its master went away without a status'),
      '-p': failed('goes-away', 'the session ended before all input was sent'),
    },
    'ends with an error': {
      '-w': failed('ends-with-an-error', 'session terminated'),
      '-p': failed('ends-with-an-error', 'session terminated (not all input was sent)'),
    },
    'sends garbage': {
      '-w': failed('sends-garbage', 'the session sent garbage: unknown frame type 238'),
      '-p': failed('sends-garbage', 'the session ended before all input was sent (unexpected reply: unknown frame type 238)'),
    },
  });
  await expectNoMasterLeft(sandbox);
});

/** The master's descriptor limit (ulimit -n) in the next test: about 20 are in use at rest. */
const MASTER_DESCRIPTOR_LIMIT = 32;

it('a master out of descriptors survives, and the clients it cannot take are told why', async () => {
  const socket = sandbox.path('s');
  const created = await run('sh', ['-c', `ulimit -n ${MASTER_DESCRIPTOR_LIMIT}; exec "$@"`, 'sh', process.execPath, DT, '-n', socket, ...HEXECHO], {
    cwd: sandbox.dir, env: sandbox.env(),
  });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  trackPid((await sessionInfo(socket)).programPid);

  // Connections that greet the master and stay, until it has no descriptor left.
  const peers = Array.from({ length: 40 }, () => {
    const peer = new Peer(net.createConnection(socket));
    peer.socket.write(encodeHello({ version: PROTOCOL_VERSION, pid: 0 }));
    return peer;
  });
  cleanups.push(() => { for (const peer of peers) peer.close(); });
  await waitUntil(() => peers.some((peer) => peer.closed) && openDescriptorCount(masterPid) >= MASTER_DESCRIPTOR_LIMIT - 1,
    'the master to run out of descriptors and drop a connection');

  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const expected = `dt: ${socket}: the session closed the connection without answering: its master (pid ${masterPid}) may be out of file descriptors (ulimit -n)\n`;
  expect(await runDt(['-p', socket], { ...options, input: 'p' })).toMatchObject({ code: 1, stderr: expected });
  expect(await dtInTerminal(['-a', socket])).toEqual({ code: 1, stderr: expected });
  expect(isAlive(masterPid)).toBe(true);

  for (const peer of peers) peer.close();
  await waitUntil(() => openDescriptorCount(masterPid) < MASTER_DESCRIPTOR_LIMIT - 4, 'the master to close the connections');
  const term = sandbox.dt(['-a', socket, '-r', 'none']);
  term.write('y');
  await term.waitFor('HEX 79');
  await waitForClients(socket, 1);
});

it('-p whose session ends while it is still sending says so, status 1', async () => {
  const socket = sandbox.path('s');
  const created = await runDt(['-n', socket, 'sh', '-c', 'read line'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  // Its standard input stays open: the line ends the program, not the input.
  const push = spawnTracked(process.execPath, [DT, '-p', socket], { cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() } });
  push.child.stdin!.write('line\n');
  const code = await push.closed();
  expect({ code, stderr: push.stderr }).toEqual({ code: 1, stderr: `dt: ${socket}: the session ended before all input was sent\n` });
  await waitUntil(() => !isAlive(masterPid), 'the master to end with its program');
});

it('-N with a program that cannot be executed, or on a live session, fails as -n does', async () => {
  const socket = sandbox.path('s');
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  expect(await runDt(['-N', socket, '/nonexistent/program'], options))
    .toMatchObject({ code: 1, stdout: '', stderr: 'dt: could not execute /nonexistent/program: No such file or directory\n' });
  expect(fs.existsSync(socket)).toBe(false);
  await startSession(socket);
  expect(await runDt(['-N', socket, ...HEXECHO], options))
    .toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: a session is already running on this socket\n` });
});

const AS_NOBODY_NEEDS = 'running dt as another user needs root and setpriv(1)';
const CAN_RUN_AS_NOBODY = process.getuid!() === 0 && fs.existsSync('/usr/bin/setpriv');

/**
 * Runs dt as nobody, who may enter the sandbox and keep its registry there, but not write in
 * the sandbox's `closed` directory (made here). Only for cases that never reach a master.
 */
function nobodyRunner(): (args: string[], input?: string) => ReturnType<typeof run> {
  fs.chmodSync(sandbox.dir, 0o755);
  fs.mkdirSync(sandbox.path('closed'), { mode: 0o755 });
  fs.mkdirSync(sandbox.path('nobody-state'), { mode: 0o777 });
  fs.chmodSync(sandbox.path('nobody-state'), 0o777);
  // The checkout may sit in a directory nobody cannot enter (a private temporary clone): nobody
  // runs a copy of the built client. These cases never reach a master, so node-pty need not load.
  const copy = copyBuiltDt(sandbox.path('dt-copy'));
  // What a creating command looks for before it starts a master (common/pty-binding.ts): empty
  // files, never loaded.
  for (const file of ['package.json', 'build/Release/pty.node']) {
    fs.mkdirSync(path.dirname(path.join(copy, 'node_modules/node-pty', file)), { recursive: true });
    fs.writeFileSync(path.join(copy, 'node_modules/node-pty', file), '');
  }
  return (args, input) => run('setpriv', [
    '--reuid=65534', '--regid=65534', '--clear-groups', 'env', `XDG_STATE_HOME=${sandbox.path('nobody-state')}`,
    process.execPath, path.join(copy, 'bin/dt'), ...args,
  ], { cwd: sandbox.dir, input });
}

it('as another user: a directory they cannot write, a log file they may not write, and a session they may not enter, say "Permission denied"', async (context) => {
  if (!CAN_RUN_AS_NOBODY) return context.skip(AS_NOBODY_NEEDS);
  const asNobody = nobodyRunner();

  const socket = sandbox.path('closed/s');
  expect(await asNobody(['-n', socket, 'sh', '-c', 'echo ran > ran'])).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: Permission denied\n` });
  expect(fs.readdirSync(sandbox.path('closed'))).toEqual([]);

  // A log file of theirs they may not write (-L): refused before anything starts, the file as it was.
  const log = sandbox.path('read-only.log');
  fs.writeFileSync(log, 'kept');
  fs.chownSync(log, 65534, 65534);
  fs.chmodSync(log, 0o444);
  expect(await asNobody(['-n', socket, '-L', log, 'sh', '-c', 'echo ran > ran'])).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${log}: Permission denied\n` });
  expect(fs.readFileSync(log, 'utf8')).toBe('kept');
  expect(fs.readdirSync(sandbox.path('closed'))).toEqual([]);

  // A session of ours (mode 0600): nobody may not connect to it.
  const ours = sandbox.path('ours');
  await startSession(ours);
  for (const args of [['-p', ours], ['-k', ours]]) {
    expect({ args, ...(await asNobody(args, 'p')) }).toMatchObject({ args, code: 1, stderr: `dt: ${ours}: Permission denied\n` });
  }
  await waitForClients(ours, 0);
});

it('a socket that closes each connection at once, whatever the hello met (a reset, a closed pipe, an end), is a refusal, not a system error', async () => {
  const socket = sandbox.path('s');
  const server = net.createServer((connection) => connection.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => server.close());
  const expected = `dt: ${socket}: ${REFUSED_BY_UNKNOWN}\n`;
  // The race between the client's hello and the reset goes either way: try it several times.
  for (let attempt = 0; attempt < 8; attempt++) {
    expect(await dtInTerminal(['-a', socket]), `attempt ${attempt}`).toEqual({ code: 1, stderr: expected });
  }
});

/** What a client is told by a socket no master is registered for that closes its connection unanswered. */
const REFUSED_BY_UNKNOWN = 'the session closed the connection without answering: not a dt session, or its master is out of file descriptors (ulimit -n)';


/**
 * A server that resets each connection it accepts: it reads the first byte of the client's
 * hello and closes with the rest unread, which the kernel turns into ECONNRESET for the
 * client. (Node's resetAndDestroy() works on TCP only.) Resolves with the count of resets.
 */
async function listenResetting(socket: string): Promise<{ resets: () => number }> {
  let resets = 0;
  const server = net.createServer({ pauseOnConnect: true }, (connection) => {
    const fd = (connection as unknown as { _handle: { fd: number } })._handle.fd;
    const resetOnceGreeted = (): void => {
      let read: number;
      try {
        read = fs.readSync(fd, Buffer.alloc(1));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        setTimeout(resetOnceGreeted, 1); // nothing yet: the hello is on its way
        return;
      }
      if (read === 1) resets++;
      connection.destroy();
    };
    resetOnceGreeted();
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => server.close());
  return { resets: () => resets };
}

/** Runs `dt`; resolves with its outcome and whether it came before a client would give up on a silent socket. */
async function beforeSilenceTimeout<T>(running: () => Promise<T>): Promise<T & { beforeTimeout: boolean }> {
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; }, HELLO_REPLY_TIMEOUT_MS);
  try {
    const result = await running();
    return { ...result, beforeTimeout: !timedOut };
  } finally {
    clearTimeout(timer);
  }
}

it('a socket that resets each connection as it accepts it: every mode says so at once, status 1, nothing left behind', async () => {
  const socket = sandbox.path('s');
  const server = await listenResetting(socket);
  const before = entries();
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const refused = { code: 1, stderr: `dt: ${socket}: ${REFUSED_BY_UNKNOWN}\n`, beforeTimeout: true };
  const inUse = { code: 1, stderr: `dt: ${socket}: this socket is in use: ${REFUSED_BY_UNKNOWN}\n`, beforeTimeout: true };
  const program = ['sh', '-c', 'echo ran > ran'];
  const outcomes = {
    '-a': await beforeSilenceTimeout(() => dtInTerminal(['-a', socket])),
    '-A': await beforeSilenceTimeout(() => dtInTerminal(['-A', socket, ...program])),
    '-p': await beforeSilenceTimeout(() => runDt(['-p', socket], { ...options, input: 'p' })),
    '-k': await beforeSilenceTimeout(() => runDt(['-k', socket], options)),
    '-w': await beforeSilenceTimeout(() => runDt(['-w', socket], options)),
    '-c': await beforeSilenceTimeout(() => dtInTerminal(['-c', socket, ...program])),
    '-n': await beforeSilenceTimeout(() => runDt(['-n', socket, ...program], options)),
  };
  expect(outcomes).toMatchObject({ '-a': refused, '-A': refused, '-p': refused, '-k': refused, '-w': refused, '-c': inUse, '-n': inUse });
  // Each mode met a reset (-c and -n as they asked what listens there).
  expect(server.resets()).toBeGreaterThanOrEqual(7);
  expect(entries()).toEqual(before);
  expect(isSocketFile(socket)).toBe(true);
  await expectNoMasterLeft(sandbox);
  expect(await listSessions(sandbox, false)).toBe('No sessions.\n');
});

it('a socket that answers with something else than a dt hello (a text banner, another frame, a bad hello): "not a dt session", status 1, at once', async () => {
  const replies: Record<string, Buffer> = {
    banner: Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'),
    output: encodeFrame(FrameType.Output, Buffer.from('hello')),
    'bad hello': encodeFrame(FrameType.Hello, Buffer.from('not-dt')),
  };
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  const before = entries();
  for (const [what, reply] of Object.entries(replies)) {
    const socket = sandbox.path(what.replace(' ', '-'));
    // It answers and stays: the client must judge the answer, not wait for an end.
    const server = net.createServer((connection) => connection.write(reply));
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    cleanups.push(() => server.close());
    before.push(path.basename(socket));
    const refused = { code: 1, stderr: `dt: ${socket}: not a dt session (unexpected reply)\n`, beforeTimeout: true };
    const outcomes = {
      '-a': await beforeSilenceTimeout(() => dtInTerminal(['-a', socket])),
      '-p': await beforeSilenceTimeout(() => runDt(['-p', socket], { ...options, input: 'p' })),
      '-k': await beforeSilenceTimeout(() => runDt(['-k', socket], options)),
      '-w': await beforeSilenceTimeout(() => runDt(['-w', socket], options)),
    };
    expect({ what, ...outcomes }).toMatchObject({ what, '-a': refused, '-p': refused, '-k': refused, '-w': refused });
  }
  expect(entries()).toEqual(before.sort());
  await expectNoMasterLeft(sandbox);
  expect(await listSessions(sandbox, false)).toBe('No sessions.\n');
});

/** A unix socket server of the test's own that greets each connection with `banner` (or says nothing), counting them. */
async function listenAsAnotherProgram(socket: string, banner?: string): Promise<{ connections: () => number }> {
  let connections = 0;
  const server = net.createServer((connection) => {
    connections++;
    connection.on('error', () => { /* the client left before reading */ });
    if (banner !== undefined) connection.write(banner);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => server.close());
  return { connections: () => connections };
}

/** What a new connection to `socket` receives first (the test's own server still answers). */
async function firstReply(socket: string): Promise<string> {
  const connection = net.createConnection(socket);
  try {
    return await new Promise<string>((resolve, reject) => {
      connection.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      connection.once('error', reject);
    });
  } finally {
    connection.destroy();
  }
}

it('-c and -n on a socket another program listens on: they say what listens there, status 1, and leave its socket alone', async () => {
  const banner = sandbox.path('banner');
  const silent = sandbox.path('silent');
  const bannerServer = await listenAsAnotherProgram(banner, 'SSH-2.0-OpenSSH_9.6\r\n');
  const silentServer = await listenAsAnotherProgram(silent);
  const inodes = [fs.statSync(banner).ino, fs.statSync(silent).ino];
  const before = entries();
  const options = { cwd: sandbox.dir, env: sandbox.env(), timeoutMs: 20_000 };
  const program = ['sh', '-c', 'echo ran > ran'];

  // It answers, and not as dt does: said at once.
  const notDt = { code: 1, stderr: `dt: ${banner}: something that is not a dt session is listening on this socket (unexpected reply)\n`, beforeTimeout: true };
  expect({
    '-n': await beforeSilenceTimeout(() => runDt(['-n', banner, ...program], options)),
    '-c': await beforeSilenceTimeout(() => dtInTerminal(['-c', banner, ...program])),
  }).toMatchObject({ '-n': notDt, '-c': notDt });

  // It accepts and says nothing: said once a client would give up waiting, not sooner, and not a hang.
  const started = Date.now();
  const [detached, attached] = await Promise.all([
    runDt(['-n', silent, ...program], options),
    dtInTerminal(['-c', silent, ...program], 'silent'),
  ]);
  const silence = `dt: ${silent}: this socket is in use: no reply in 5 s: not a dt session, or its master is not answering\n`;
  expect({ detached, attached }).toMatchObject({ detached: { code: 1, stdout: '', stderr: silence }, attached: { code: 1, stderr: silence } });
  expect(Date.now() - started).toBeGreaterThanOrEqual(HELLO_REPLY_TIMEOUT_MS);

  // Both programs' sockets are as they were, and still theirs.
  expect([fs.statSync(banner).ino, fs.statSync(silent).ino]).toEqual(inodes);
  expect(await firstReply(banner)).toBe('SSH-2.0-OpenSSH_9.6\r\n');
  expect(bannerServer.connections()).toBeGreaterThanOrEqual(5); // a probe and a hello per command, and ours
  expect(silentServer.connections()).toBeGreaterThanOrEqual(4);
  expect(entries()).toEqual(before);
  await expectNoMasterLeft(sandbox);
  expect(await listSessions(sandbox, false)).toBe('No sessions.\n');
});

it('an attached client whose output fails (stdout /dev/full, stdin the terminal): the reason on stderr, status 1, the terminal restored, the session attachable', async () => {
  const socket = sandbox.path('s');
  const { masterPid } = await startSession(socket);
  const modes = await freshTerminalModes(sandbox);
  // The shell reports once dt has left: its status and the terminal's modes (stty reads its stdin, the terminal).
  const client = sandbox.run('/bin/sh', ['-c', `"${process.execPath}" "${DT}" -a "${socket}" -r none >/dev/full; echo "STATUS $?"; echo "MODES $(stty -g)"`]);
  // It may fail on the first bytes of its attach; if it is still attached, the program is made to write.
  await waitUntil(async () => client.text.includes('STATUS') || (await masterInfo(socket)).clients === 1, 'the client to attach or leave');
  if (!client.text.includes('STATUS')) {
    expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'x' })).toMatchObject({ code: 0 });
  }
  const report = await shellReport(client);
  // stderr is the terminal: the reason is there, once, on a line of its own.
  expect(report.shown.match(/\[dt: [^\]]*\]/g)).toEqual(['[dt: the terminal failed: No space left on device]']);
  expect(report.shown).toMatch(/\[dt: the terminal failed: No space left on device\]\r\n$/);
  expect(report.status).toBe(1);
  expect(report.modes, 'the terminal modes after dt left').toBe(modes);

  // The session goes on, with nobody attached, and the next client is served.
  await waitForViewers(socket, 0);
  await expectSessionIntact(socket, masterPid);
});

it('an attached client whose output is a pipe whose reader left (dt -a s | head -c 1): it ends as SIGPIPE would, quietly, status 141, the terminal restored, the session attachable', async () => {
  const socket = sandbox.path('s');
  const { masterPid } = await startSession(socket);
  const modes = await freshTerminalModes(sandbox);
  const client = sandbox.run('/bin/bash', ['--norc', '--noprofile', '-c',
    `"${process.execPath}" "${DT}" -a "${socket}" -r none | head -c 1 >/dev/null; echo "STATUS \${PIPESTATUS[0]}"; echo "MODES $(stty -g)"`]);
  await waitUntil(async () => (await masterInfo(socket)).clients === 1, () => `the client to attach; its terminal: ${JSON.stringify(client.text)}`);
  // head leaves after the first byte: the program is made to write until dt meets the closed pipe.
  let typed = 0;
  await waitUntil(async () => {
    if (client.text.includes('STATUS')) return true;
    expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'x' })).toMatchObject({ code: 0 });
    typed++;
    return false;
  }, 'the client to meet the closed pipe');
  const report = await shellReport(client);
  expect({ typed: typed >= 1, shown: report.shown, status: report.status }).toEqual({ typed: true, shown: '', status: 128 + 13 });
  expect(report.modes, 'the terminal modes after dt left').toBe(modes);

  // The session goes on, with nobody attached, and the next client is served.
  await waitForViewers(socket, 0);
  await expectSessionIntact(socket, masterPid);
});

it('a stale socket that cannot be removed (its directory is not the user\'s to write): said, status 1, the socket left', async (context) => {
  if (!CAN_RUN_AS_NOBODY) return context.skip(AS_NOBODY_NEEDS);
  const asNobody = nobodyRunner();
  // A socket no program listens on, that the user nobody may connect to (and so finds stale), in `closed`.
  const socket = sandbox.path('closed/s');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(sandbox.path('closed/listening'), resolve));
  fs.linkSync(sandbox.path('closed/listening'), socket);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.chmodSync(socket, 0o666);
  expect(await asNobody(['-n', socket, 'sh', '-c', 'echo ran > ran']))
    .toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: cannot remove the stale socket: Permission denied\n` });
  expect(fs.readdirSync(sandbox.path('closed'))).toEqual(['s']);
  expect(fs.existsSync(sandbox.path('ran'))).toBe(false);
  await expectNoMasterLeft(sandbox);
});

it('-p whose standard input cannot be read (write-only, a directory): said, status 1, the session untouched', async () => {
  const socket = sandbox.path('s');
  const { masterPid } = await startSession(socket);
  // Open for writing only: every read of it fails (EBADF).
  const input = fs.openSync(sandbox.path('write-only'), 'w');
  cleanups.push(() => fs.closeSync(input));
  const push = spawnTracked(process.execPath, [DT, '-p', socket], {
    cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() }, stdio: [input, 'pipe', 'pipe'],
  });
  expect({ code: await push.closed(), stderr: push.stderr }).toEqual({ code: 1, stderr: 'dt: cannot read standard input: Bad file descriptor\n' });
  // A directory (Node would take it for an empty input, and the push for a success).
  const directory = fs.openSync(sandbox.dir, 'r');
  cleanups.push(() => fs.closeSync(directory));
  const fromDirectory = spawnTracked(process.execPath, [DT, '-p', socket], {
    cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() }, stdio: [directory, 'pipe', 'pipe'],
  });
  expect({ code: await fromDirectory.closed(), stderr: fromDirectory.stderr }).toEqual({ code: 1, stderr: 'dt: cannot read standard input: Is a directory\n' });
  await waitForClients(socket, 0);
  await expectSessionIntact(socket, masterPid);
});

it('the output of --help, --version and -l that cannot be written (a full disk): said on stderr, status 1; a reader that left ends them quietly, with their status', async () => {
  const full = fs.openSync('/dev/full', 'w');
  cleanups.push(() => fs.closeSync(full));
  const options = { cwd: sandbox.dir, env: sandbox.env(), stdout: full };
  for (const args of [['--help'], ['--version'], ['-l'], ['-l', '--json']]) {
    expect({ args, ...(await runDt(args, options)) })
      .toMatchObject({ args, code: 1, stderr: 'dt: cannot write standard output: No space left on device\n' });
  }
  for (const args of [['--help'], ['-l']]) {
    const spawned = spawnTracked(process.execPath, [DT, ...args], { cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() } });
    // Closed long before dt, a Node start later, writes: its write meets EPIPE.
    spawned.child.stdout!.destroy();
    expect({ args, code: await spawned.closed(), stderr: spawned.stderr }).toEqual({ args, code: 0, stderr: '' });
  }
});
