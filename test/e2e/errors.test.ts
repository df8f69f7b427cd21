// Errors about what is at the socket path: nothing, a regular file, a live session, a stale
// socket. Each: the message on stderr, the exit status, and nothing created or disturbed.
// Where dtach 0.9 has the same case it runs alongside and must agree on the exit status.
// See errors-start.test.ts for programs that cannot run, missing terminals and bad options.

import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, Sandbox, isAlive, masterPidOf, waitUntil, type Term } from './harness.js';
import {
  HEXECHO, DTACH, HAVE_DTACH, hexReceived, isRunning, isSocketFile, killTracked, modeOf, readPidFile, run, runDt,
  expectNoMasterLeft, runInTerminal, sessionInfo, trackPid, trackProcessesMentioning, waitForClients,
} from './lifecycle-helpers.js';

if (!HAVE_DTACH) console.warn(`errors.test.ts: no ${DTACH} (Debian package dtach); the comparisons with dtach 0.9 are skipped`);

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** Runs dt in a terminal; resolves with its exit status and what it wrote on stderr. */
async function dtInTerminal(args: string[], name = 'dt'): Promise<{ code: number; stderr: string; term: Term }> {
  const stderrFile = sandbox.path(`${name}.stderr`);
  const term = runInTerminal(sandbox, stderrFile, process.execPath, [DT, ...args]);
  const { exitCode } = await term.waitForExit();
  return { code: exitCode, stderr: fs.readFileSync(stderrFile, 'utf8'), term };
}

/** Exit status of dtach run in a terminal, or null when dtach is not installed. */
async function dtachInTerminal(args: string[]): Promise<number | null> {
  if (!HAVE_DTACH) return null;
  const term = runInTerminal(sandbox, sandbox.path('dtach.stderr'), DTACH, args);
  return (await term.waitForExit()).exitCode;
}

async function dtachExitCode(args: string[]): Promise<number | null> {
  return HAVE_DTACH ? (await run(DTACH, args, { cwd: sandbox.dir })).code : null;
}

/** dt must exit like dtach did (when dtach is there to ask). */
function expectSameAsDtach(dtCode: number | null, dtachCode: number | null): void {
  if (dtachCode !== null) expect(dtCode).toBe(dtachCode);
}

/** The sandbox's entries, apart from the stderr files these tests write. */
function entries(): string[] {
  return fs.readdirSync(sandbox.dir).filter((name) => !name.endsWith('.stderr')).sort();
}

/** A stale socket: the file of a session whose master was killed. */
async function makeStaleSocket(socket: string): Promise<void> {
  expect((await runDt(['-n', socket, 'sleep', '1000'], { cwd: sandbox.dir })).code).toBe(0);
  const { masterPid, programPid } = await sessionInfo(socket);
  trackPid(programPid);
  process.kill(masterPid, 'SIGKILL');
  await waitUntil(() => !isRunning(masterPid), `the killed master ${masterPid} to be gone`);
  expect(isSocketFile(socket)).toBe(true);
}

it('-a and -p on a missing socket: "No such file or directory", status 1, nothing created', async () => {
  const socket = sandbox.path('missing');
  const before = entries();
  const { code, stderr } = await dtInTerminal(['-a', socket]);
  expect(stderr).toBe(`dt: ${socket}: No such file or directory\n`);
  expect(code).toBe(1);
  const push = await runDt(['-p', socket], { cwd: sandbox.dir, input: 'data' });
  expect(push).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: No such file or directory\n` });
  expect(entries()).toEqual(before);
  expectSameAsDtach(code, await dtachInTerminal(['-a', socket]));
  expectSameAsDtach(push.code, await dtachExitCode(['-p', socket]));
});

it('-n with the socket in a missing directory says the directory is missing, status 1', async () => {
  const socket = sandbox.path('no-such-directory/s');
  const created = await runDt(['-n', socket, 'true'], { cwd: sandbox.dir });
  // Not "Permission denied": libuv reports bind(2)'s ENOENT as EACCES, and dt must not repeat that.
  expect(created).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: No such file or directory\n` });
  expect(fs.existsSync(sandbox.path('no-such-directory'))).toBe(false);
  await expectNoMasterLeft(sandbox);
  expectSameAsDtach(created.code, await dtachExitCode(['-n', socket, 'true']));
});

it('-a and -p on a regular file: "Not a socket", status 1, the file untouched', async () => {
  const file = sandbox.path('plain');
  fs.writeFileSync(file, 'keep me\n', { mode: 0o640 });
  const before = entries();

  const attach = await dtInTerminal(['-a', file]);
  expect(attach.stderr).toBe(`dt: ${file}: Not a socket\n`);
  expect(attach.code).toBe(1);
  const push = await runDt(['-p', file], { cwd: sandbox.dir, input: 'data' });
  expect(push.stderr).toBe(`dt: ${file}: Not a socket\n`);
  expect(push.code).toBe(1);

  expect(fs.readFileSync(file, 'utf8')).toBe('keep me\n');
  expect(modeOf(file)).toBe(0o640);
  expect(entries()).toEqual(before);
  expectSameAsDtach(attach.code, await dtachInTerminal(['-a', file]));
  expectSameAsDtach(push.code, await dtachExitCode(['-p', file]));
});

it('-n and -A on a regular file refuse to replace it, status 1', async () => {
  const file = sandbox.path('plain');
  fs.writeFileSync(file, 'keep me\n', { mode: 0o640 });
  const before = entries();
  const expected = `dt: ${file}: File exists and is not a socket\n`;

  const detached = await runDt(['-n', file, 'sh', '-c', 'echo ran > ran'], { cwd: sandbox.dir });
  expect(detached).toMatchObject({ code: 1, stdout: '', stderr: expected });
  const attachOrCreate = await dtInTerminal(['-A', file, 'sh', '-c', 'echo ran > ran']);
  expect(attachOrCreate).toMatchObject({ code: 1, stderr: expected });

  expect(fs.readFileSync(file, 'utf8')).toBe('keep me\n');
  expect(modeOf(file)).toBe(0o640);
  expect(entries()).toEqual(before);
  await expectNoMasterLeft(sandbox);
  expectSameAsDtach(detached.code, await dtachExitCode(['-n', file, 'true']));
  expectSameAsDtach(attachOrCreate.code, await dtachInTerminal(['-A', file, 'true']));
  expect(fs.readFileSync(file, 'utf8')).toBe('keep me\n');
});

it('-n and -c on a live session are refused and the session goes on, same master, undisturbed', async () => {
  sandbox.leavesMaster('the session must go on: that is what is checked');
  const socket = sandbox.path('live');
  expect((await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir })).code).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const expected = `dt: ${socket}: a session is already running on this socket\n`;

  const detached = await runDt(['-n', socket, 'sh', '-c', 'echo ran > ran-n'], { cwd: sandbox.dir });
  expect(detached).toMatchObject({ code: 1, stdout: '', stderr: expected });
  const attached = await dtInTerminal(['-c', socket, 'sh', '-c', 'echo ran > ran-c']);
  expect(attached).toMatchObject({ code: 1, stderr: expected });

  expect(fs.existsSync(sandbox.path('ran-n')) || fs.existsSync(sandbox.path('ran-c'))).toBe(false);
  expect(await masterPidOf(socket)).toBe(masterPid);
  expect(modeOf(socket)).toBe(0o600);
  await waitForClients(socket, 0);
  const term = sandbox.dt(['-a', socket]);
  term.write('k');
  await term.until(() => hexReceived(term).includes('k'), 'the live session to answer');
  expect(sandbox.findMasters()).toEqual([masterPid]);

  if (HAVE_DTACH) {
    const dtachSocket = sandbox.path('dtach-live');
    expect(await dtachExitCode(['-n', dtachSocket, 'sh', '-c', 'echo $$ > dtach.pid; exec cat'])).toBe(0);
    await readPidFile(sandbox.path('dtach.pid'));
    trackProcessesMentioning(dtachSocket);
    expectSameAsDtach(detached.code, await dtachExitCode(['-n', dtachSocket, 'true']));
    expectSameAsDtach(attached.code, await dtachInTerminal(['-c', dtachSocket, 'true']));
  }
});

it('-a and -p on a stale socket say the session is gone, status 1, and leave the file', async () => {
  const socket = sandbox.path('stale');
  await makeStaleSocket(socket);
  const inode = fs.statSync(socket).ino;
  const expected = `dt: ${socket}: the session is gone (nobody is listening on this socket)\n`;
  const { code, stderr } = await dtInTerminal(['-a', socket]);
  expect(stderr).toBe(expected);
  expect(code).toBe(1);
  const push = await runDt(['-p', socket], { cwd: sandbox.dir, input: 'data' });
  expect(push).toMatchObject({ code: 1, stdout: '', stderr: expected });
  expect(fs.statSync(socket).ino).toBe(inode);
  expectSameAsDtach(code, await dtachInTerminal(['-a', socket]));
  expectSameAsDtach(push.code, await dtachExitCode(['-p', socket]));
  expect(fs.statSync(socket).ino).toBe(inode);
});

it('-n replaces a stale socket with a new session', async () => {
  sandbox.leavesMaster('the replacing session is the point; its end is tested elsewhere');
  const socket = sandbox.path('stale');
  await makeStaleSocket(socket);
  const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  expect(isAlive(masterPid)).toBe(true);
  const term = sandbox.dt(['-a', socket]);
  term.write('r');
  await term.until(() => hexReceived(term).includes('r'), 'the new session to answer');
});

it('-c replaces a stale socket with a new session and attaches to it', async () => {
  sandbox.leavesMaster('the replacing session is the point; its end is tested elsewhere');
  const socket = sandbox.path('stale');
  await makeStaleSocket(socket);
  const term = sandbox.dt(['-c', socket, ...HEXECHO]);
  await term.waitFor('READY');
  await sandbox.trackMaster(socket);
  term.write('c');
  await term.until(() => hexReceived(term).includes('c'), 'the new session to answer');
});
