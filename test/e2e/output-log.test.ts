// dt -L FILE, end to end: what the program wrote, attached or not, is in FILE byte for byte;
// FILE is rotated at DT_LOG_LIMIT; unsafe files are refused before anything starts; a full
// disk or a removed directory never stops the session or its viewers, and the file says what
// it missed once it can be written again; dt -l shows the log.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  FIXTURES, PatternChecker, Sandbox, checkPattern, hasEnded, masterInfo, patternBytes, waitForNoEcho, waitForViewers, waitUntil, type Term,
} from './harness.js';
import { descriptorTargets, killTracked, modeOf, runDt, type RunResult } from './lifecycle-helpers.js';

const RAWWRITE = `${FIXTURES}/rawwrite.mjs`;
const HEXECHO = `${FIXTURES}/hexecho.mjs`;
const PATTERN = `${FIXTURES}/pattern.mjs`;
const MiB = 1024 * 1024;
const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));

interface ListedLog {
  socket: string;
  state: string;
  log?: { file: string; writing?: boolean; notLoggedBytes?: number; reason?: string };
}

let sandbox: Sandbox;
let mounted: string | undefined;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  // Lazily: a master still holding its log there must not keep the mount (teardown kills it).
  if (mounted) execFileSync('umount', ['-l', mounted]);
  mounted = undefined;
  await sandbox.teardown();
});

function dt(args: string[], env?: NodeJS.ProcessEnv, cwd = sandbox.dir): Promise<RunResult> {
  return runDt(args, { cwd, env: sandbox.env(env) });
}

async function listJson(): Promise<ListedLog[]> {
  const listed = await dt(['-l', '--json']);
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(listed.stdout) as ListedLog[];
}

async function logStatus(socket: string): Promise<ListedLog['log']> {
  return (await listJson()).find((session) => session.socket === socket)?.log;
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
}

async function waitForLog(file: string, expected: Buffer, what: string): Promise<void> {
  await waitUntil(() => readFile(file).length >= expected.length, `${file} to hold ${what} (${expected.length} bytes; it has ${readFile(file).length})`, 20_000);
  expect(readFile(file).toString('hex')).toBe(expected.toString('hex'));
}

function notice(bytes: number, reason: string): string {
  return `\r\n[dt: ${bytes} bytes were not logged: ${reason}]\r\n`;
}

it('what the program writes while detached, and then while watched, is in FILE byte for byte; viewers see the same', async () => {
  // Every byte value, and escape sequences and a UTF-8 character cut anywhere across writes.
  const parts = [
    Buffer.concat([Buffer.from('A'), EVERY_BYTE.subarray(0, 100)]), EVERY_BYTE.subarray(100),
    Buffer.from('\x1b[3', 'latin1'), Buffer.from('1mRED\x1b', 'latin1'), Buffer.from('[0m\xe2', 'latin1'),
    Buffer.from('\x82\xac\r\n<WATCHED>', 'latin1'), Buffer.from('\x1b]0;title\x07\x1b[?1049h\x1b[?1049l<END>', 'latin1'),
  ];
  fs.mkdirSync(sandbox.path('work'));
  const socket = sandbox.path('s');
  // A relative FILE is relative to the creating command's directory.
  const created = await dt(['-n', socket, '-L', 'out.log', process.execPath, RAWWRITE, ...parts.map((part) => part.toString('hex'))], undefined, sandbox.path('work'));
  expect(created).toMatchObject({ code: 0, stderr: '' });
  // The creating command opened FILE for the master: it is there once dt -n has returned.
  const file = sandbox.path('work/out.log');
  expect(modeOf(file)).toBe(0o600);
  const masterPid = await sandbox.trackMaster(socket);
  let expected = Buffer.from('READY\r\n');
  await waitForLog(file, expected, 'READY');

  // Detached: each key makes the program write the next part, and nobody sees it but the log.
  for (const part of parts.slice(0, 5)) {
    await pushKey(socket, 'w');
    expected = Buffer.concat([expected, part]);
    await waitForLog(file, expected, 'the parts written while detached');
  }

  // Watched: the viewer sees exactly what the program writes, and the log has it too.
  const viewer = sandbox.dt(['-a', socket, '-r', 'none']);
  await waitForViewers(socket, 1);
  const shownFrom = viewer.output.length;
  for (const part of parts.slice(5)) {
    await pushKey(socket, 'w');
    expected = Buffer.concat([expected, part]);
  }
  await viewer.waitFor('<END>', { from: shownFrom });
  expect(viewer.output.subarray(shownFrom).toString('hex')).toBe(Buffer.concat(parts.slice(5)).toString('hex'));
  await waitForLog(file, expected, 'everything');

  // The master holds FILE; the program does not inherit it.
  const { programPid } = await masterInfo(socket);
  expect(descriptorTargets(masterPid)).toContain(file);
  expect(descriptorTargets(programPid)).not.toContain(file);
  expect(await logStatus(socket)).toEqual({ file, writing: true, notLoggedBytes: 0 });
  viewer.write('\x1c');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
  await endSession(socket, masterPid);
});

it('the last output of a program that ends is in FILE before dt -N returns; an existing FILE is appended to', async () => {
  const file = sandbox.path('n.log');
  fs.writeFileSync(file, 'earlier\n', { mode: 0o640 });
  // A burst, then the last words: the log is still writing when the program has ended.
  const ran = await dt(['-N', sandbox.path('s'), '-L', file, '/bin/sh', '-c', 'stty raw; head -c 3000000 /dev/zero; printf "last words"; exit 3']);
  expect(ran).toMatchObject({ code: 3, stderr: '' });
  const logged = fs.readFileSync(file, 'latin1');
  expect(logged.length).toBe(8 + 3_000_000 + 10);
  expect(logged.startsWith('earlier\n\0')).toBe(true);
  expect(logged.endsWith('\0last words')).toBe(true);
  expect(modeOf(file)).toBe(0o640); // the user's file keeps its mode
  // The ended session is listed with its log.
  const [session] = await listJson();
  expect(session).toMatchObject({ state: 'exited', log: { file, writing: false } });
  const table = (await dt(['-l'])).stdout;
  expect(table).toMatch(/^SESSION\s+PID\s+COMMAND\s+FOREGROUND\s+STARTED\s+CLIENTS\s+SIZE\s+STATE\s+LOG\n/);
  expect(table).toMatch(new RegExp(`exited \\(status 3, [^)]*\\)\\s+${file}\\n`));
});

it('dt -w returns once the last output is in FILE, on a slow disk too: a script may read the log next', async () => {
  const file = sandbox.path('w.log');
  const socket = sandbox.path('s');
  // Each write to FILE starts 300 ms late in the master (a busy NFS server).
  const slow = { NODE_OPTIONS: `--require ${FIXTURES}/slow-log-writes.cjs`, SLOW_LOG_FILE: file };
  expect(await dt(['-n', socket, '-L', file, '/bin/sh', '-c', 'printf "last words"; exit 3'], slow)).toMatchObject({ code: 0, stderr: '' });
  await sandbox.trackMaster(socket);
  // Connected while the master ends, or after: either way it answers once FILE has it all.
  expect(await dt(['-w', socket])).toMatchObject({ code: 3, stderr: '' });
  expect(readFile(file).toString('latin1')).toBe('last words');
});

it('SIGTERM while the master waits for the log\'s last writes: the program ended first, and its status is kept as it would be', async () => {
  const file = sandbox.path('t.log');
  const socket = sandbox.path('s');
  const hold = sandbox.path('hold');
  // The log's close waits for the test: the program has ended, and nobody is told its status yet.
  const held = { NODE_OPTIONS: `--require ${FIXTURES}/hold-log-close.cjs`, HOLD_LOG_FILE: file, HOLD_LOG_CLOSE_FILE: hold };
  expect(await dt(['-n', socket, '-L', file, '/bin/sh', '-c', 'printf "last words"; exit 3'], held)).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => fs.existsSync(`${hold}.waiting`), 'the master to wait for the log\'s close');
  process.kill(masterPid, 'SIGTERM');
  await waitUntil(() => fs.existsSync(`${hold}.signalled`), 'the master to handle its SIGTERM');
  // Still there to be asked: its socket goes once the status is kept.
  expect(fs.existsSync(socket)).toBe(true);
  fs.writeFileSync(hold, '');
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  expect(readFile(file).toString('latin1')).toBe('last words');
  expect((await listJson()).find((session) => session.socket === socket)).toMatchObject({ state: 'exited' });
  expect(await dt(['-w', socket])).toMatchObject({ code: 3, stderr: '' });
});

it('dt -l lists a session whose master finishes the log after its program ended as ending, with its status', async () => {
  const file = sandbox.path('e.log');
  const socket = sandbox.path('s');
  const hold = sandbox.path('hold');
  // The log's close waits for the test (the master's own limit lengthened, for a loaded machine).
  const held = {
    NODE_OPTIONS: `--require ${FIXTURES}/hold-log-close.cjs`, HOLD_LOG_FILE: file, HOLD_LOG_CLOSE_FILE: hold, DT_TEST_LOG_CLOSE_TIMEOUT_MS: '60000',
  };
  expect(await dt(['-n', socket, '-L', file, '/bin/sh', '-c', 'printf "last words"; exit 3'], held)).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => fs.existsSync(`${hold}.waiting`), 'the master to wait for the log\'s close');

  const listed = (await listJson()).find((session) => session.socket === socket) as Record<string, unknown> | undefined;
  expect(listed).toMatchObject({ masterPid, state: 'ending', exitCode: 3, note: 'finishing the log', clients: 0, log: { file } });
  expect(listed).not.toHaveProperty('programPid');
  expect(listed).not.toHaveProperty('foreground');
  const table = await dt(['-l']);
  expect(table).toMatchObject({ code: 0, stderr: '' });
  expect(table.stdout).toMatch(/ ending \(status 3, finishing the log\) /);

  fs.writeFileSync(hold, '');
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  expect(readFile(file).toString('latin1')).toBe('last words');
  expect((await listJson()).find((session) => session.socket === socket)).toMatchObject({ state: 'exited', exitCode: 3 });
  expect(await dt(['-w', socket])).toMatchObject({ code: 3, stderr: '' });
});

/** How many times the threads of `pid` have gone to sleep (each one woke before): /proc/PID/task/TID/status. */
function wakeups(pid: number): number {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
    total += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1] ?? 0);
  }
  return total;
}

it('a master with a log whose program is quiet stays asleep; FILE moved away meanwhile gets none of the next output', async () => {
  const file = sandbox.path('q.log');
  const socket = sandbox.path('s');
  expect(await dt(['-n', socket, '-L', file, '/bin/sh', '-c', 'stty -echo; while read line; do echo "got $line"; done'])).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  // Two seconds in which none of its threads wakes (looking at FILE every second woke it, and
  // left garbage no collection came for). Its start-up settles first: the deadline allows that.
  const quietMs = 2_000;
  let seen = wakeups(masterPid);
  let since = Date.now();
  await waitUntil(() => {
    const now = wakeups(masterPid);
    if (now !== seen) [seen, since] = [now, Date.now()];
    return Date.now() - since >= quietMs;
  }, `${quietMs} ms in which the master's threads do not wake`, 15_000);
  // Moved away by a log rotator while the program is quiet: what it writes next goes to a new FILE.
  fs.renameSync(file, `${file}.moved`);
  expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'next\n' })).toMatchObject({ code: 0, stderr: '' });
  await waitForLog(file, Buffer.from('got next\r\n'), 'the answer in a new FILE');
  expect(readFile(`${file}.moved`).toString('latin1')).toBe('');
  expect(await dt(['-k', socket])).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it('at DT_LOG_LIMIT FILE becomes FILE.1 and a new FILE begins: together they end the stream exactly', async () => {
  const LIMIT = 4096;
  const TOTAL = 40_000; // then `END 40000\n`: 40010 bytes, not a multiple of the limit
  const socket = sandbox.path('s');
  const file = sandbox.path('r.log');
  fs.writeFileSync(`${file}.1`, 'an older FILE.1, replaced');
  const done = sandbox.path('done');
  const created = await dt(['-n', socket, '-L', file, process.execPath, PATTERN, String(TOTAL)], { DT_LOG_LIMIT: '4K', PATTERN_DONE_FILE: done, PATTERN_WRITE_BYTES: '1024' });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitForNoEcho(socket);
  await pushKey(socket, 'g');
  await waitUntil(() => hasEnded(masterPid), 'the program to end and the master with it', 20_000);
  const stream = Buffer.concat([patternBytes(0, TOTAL), Buffer.from(`END ${TOTAL}\n`)]);
  const current = fs.readFileSync(file);
  const previous = fs.readFileSync(`${file}.1`);
  expect(previous.length).toBe(LIMIT);
  expect(current.length).toBe(stream.length % LIMIT);
  expect(Buffer.concat([previous, current]).equals(stream.subarray(stream.length - LIMIT - current.length))).toBe(true);
  expect(modeOf(file)).toBe(0o600);
  expect(fs.readdirSync(sandbox.dir).filter((name) => name.startsWith('r.log')).sort()).toEqual(['r.log', 'r.log.1']);
});

it('FILE emptied in place by logrotate\'s copytruncate: its copy is left alone, and FILE holds what follows', async () => {
  const before = Buffer.alloc(900, 'a');
  const after = Buffer.alloc(300, 'b');
  const socket = sandbox.path('s');
  const file = sandbox.path('c.log');
  const created = await dt(['-n', socket, '-L', file, process.execPath, RAWWRITE, before.toString('hex'), after.toString('hex')], { DT_LOG_LIMIT: '1K' });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitForLog(file, Buffer.from('READY\r\n'), 'READY');
  await pushKey(socket, 'w');
  const copied = Buffer.concat([Buffer.from('READY\r\n'), before]);
  await waitForLog(file, copied, 'the first part');
  // What logrotate's copytruncate does: copy FILE to FILE.1, then truncate FILE.
  fs.copyFileSync(file, `${file}.1`);
  fs.truncateSync(file, 0);
  await pushKey(socket, 'w'); // 907 + 300 bytes: past the 1K limit, had the truncation been missed
  await waitForLog(file, after, 'the part written after the truncation');
  expect(fs.readFileSync(`${file}.1`).equals(copied)).toBe(true);
  expect(await logStatus(socket)).toEqual({ file, writing: true, notLoggedBytes: 0 });
  await endSession(socket, masterPid);
});

it.for([
  ['a symbolic link', (file: string) => fs.symlinkSync(sandbox.path('target'), file), 'is a symbolic link; dt writes a log only to a regular file'],
  ['a dangling symbolic link', (file: string) => fs.symlinkSync(sandbox.path('nowhere'), file), 'is a symbolic link; dt writes a log only to a regular file'],
  ['a directory', (file: string) => fs.mkdirSync(file), 'is not a regular file; dt writes a log only to a regular file'],
  ['a FIFO', (file: string) => execFileSync('mkfifo', [file]), 'is not a regular file; dt writes a log only to a regular file'],
  ['another user\'s file', (file: string) => {
    fs.writeFileSync(file, 'theirs\n');
    fs.chownSync(file, 65534, 65534);
  }, 'is owned by another user (uid 65534); dt writes a log only to your own file'],
] as const)('%s at FILE is refused before anything starts, in every creating mode', async ([, make, reason], context) => {
  if (reason.includes('another user') && process.getuid!() !== 0) return context.skip('only root can give a file away');
  fs.writeFileSync(sandbox.path('target'), 'untouched\n');
  const file = sandbox.path('log');
  make(file);
  const socket = sandbox.path('s');
  for (const mode of ['-n', '-N']) {
    const refused = await dt([mode, socket, '-L', file, '/bin/sh', '-c', 'echo ran > ran']);
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${file}: ${reason}\n` });
  }
  for (const mode of ['-c', '-A']) {
    const term = sandbox.dt([mode, socket, '-L', file, '/bin/sh', '-c', 'echo ran > ran']);
    expect(await term.waitForExit()).toEqual({ exitCode: 1, signal: 0 });
    expect(term.text).toBe(`dt: ${file}: ${reason}\r\n`);
  }
  // Nothing started, nothing created, nothing written through the link.
  expect(fs.existsSync(socket)).toBe(false);
  expect(fs.existsSync(sandbox.path('ran'))).toBe(false);
  expect(sandbox.findMasters()).toEqual([]);
  expect(fs.readFileSync(sandbox.path('target'), 'utf8')).toBe('untouched\n');
  expect(await listJson()).toEqual([]);
});

it('a full file system: the session and its viewer go on; once there is space the log says how much it missed', async (context) => {
  if (process.getuid!() !== 0) return context.skip();
  const disk = sandbox.path('disk');
  fs.mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0700', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (error) {
    return context.skip(`cannot mount a tmpfs here: ${(error as Error).message}`);
  }
  mounted = disk;
  // 16 KiB free: the log fills it, then the 4 MiB it holds back, then it drops.
  const filler = path.join(disk, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(6 * MiB - 16 * 1024));
  const TOTAL = 8 * MiB;
  const socket = sandbox.path('s');
  const file = path.join(disk, 'log');
  const done = sandbox.path('done');
  const created = await dt(['-n', socket, '-L', file, process.execPath, PATTERN, String(TOTAL)], { PATTERN_STAY: '1', PATTERN_DONE_FILE: done });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const viewer = sandbox.dt(['-a', socket, '-r', 'none']);
  const checker: PatternChecker = checkPattern(viewer);
  await waitForViewers(socket, 1);
  await waitForNoEcho(socket);
  await pushKey(socket, 'g');

  // The viewer receives every byte, in order, while the log cannot write.
  await waitUntil(() => checker.tail.includes(`END ${TOTAL}\n`), 'the viewer to receive the whole stream', 60_000);
  expect(checker.matched).toBe(TOTAL);
  const full = await logStatus(socket);
  expect(full).toMatchObject({ file, writing: false, reason: 'No space left on device' });
  expect(full!.notLoggedBytes).toBeGreaterThan(TOTAL - 4 * MiB - 64 * 1024);
  const table = (await dt(['-l'])).stdout;
  expect(table).toContain(`${file} (not written: No space left on device)`);

  // Space again: within a retry, the waiting output and a notice of the gap are written.
  fs.rmSync(filler);
  const stream = Buffer.concat([patternBytes(0, TOTAL), Buffer.from(`END ${TOTAL}\n`)]);
  const gap = /\r\n\[dt: (\d+) bytes were not logged: No space left on device\]\r\n$/;
  await waitUntil(() => gap.test(readFile(file).toString('latin1')), 'the notice of the gap in the log', 20_000);
  const logged = readFile(file);
  const missed = Number(gap.exec(logged.toString('latin1'))![1]);
  const kept = stream.length - missed;
  expect(logged.subarray(0, kept).equals(stream.subarray(0, kept))).toBe(true);
  expect(logged.subarray(kept).toString('latin1')).toBe(notice(missed, 'No space left on device'));
  expect(await logStatus(socket)).toEqual({ file, writing: true, notLoggedBytes: missed });
  expect((await dt(['-l'])).stdout).toContain(`${file} (${missed} bytes not logged)`);

  // The session is as it was: the viewer is still attached, the program still answers.
  viewer.write('x');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it('the directory of FILE removed under a running session: the session and its viewer go on; FILE is made again when the directory is back', async () => {
  const directory = sandbox.path('logs');
  fs.mkdirSync(directory);
  const file = path.join(directory, 'log');
  const socket = sandbox.path('s');
  expect(await dt(['-n', socket, '-L', file, process.execPath, HEXECHO])).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  // hexecho keeps the terminal's output processing: its \r\n arrives as \r\r\n.
  await waitForLog(file, Buffer.from('READY\r\r\n'), 'READY');
  const viewer: Term = sandbox.dt(['-a', socket, '-r', 'none']);
  await waitForViewers(socket, 1);

  fs.rmSync(directory, { recursive: true });
  await pushKey(socket, 'a');
  await viewer.waitFor('HEX 61\r\r\n');
  await waitUntil(async () => (await logStatus(socket))?.writing === false, 'dt -l to show the log is not written', 10_000);
  expect(await logStatus(socket)).toMatchObject({ file, writing: false, reason: `cannot open ${file}: No such file or directory` });
  await pushKey(socket, 'b');
  await viewer.waitFor('HEX 62\r\r\n');

  fs.mkdirSync(directory);
  await waitUntil(() => readFile(file).toString('latin1').endsWith('HEX 62\r\r\n'), 'the log to resume in the new directory', 10_000);
  // What went to the removed file since the log last saw FILE (it looks every second) is
  // counted: READY (8 bytes) and "HEX 61" (9), or one of them, or neither; "HEX 61" goes to
  // the new FILE when the log noticed the removal before it came.
  const resumed = readFile(file).toString('latin1');
  const outcomes = [
    '\r\n[dt: 17 bytes were not logged: the log file was removed]\r\nHEX 62\r\r\n',
    '\r\n[dt: 9 bytes were not logged: the log file was removed]\r\nHEX 62\r\r\n',
    '\r\n[dt: 8 bytes were not logged: the log file was removed]\r\nHEX 61\r\r\nHEX 62\r\r\n',
    'HEX 61\r\r\nHEX 62\r\r\n',
  ];
  expect(outcomes, JSON.stringify(resumed)).toContain(resumed);
  expect(modeOf(file)).toBe(0o600);
  expect(viewer.exited).toBeUndefined();
  viewer.write('\x1c');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
  await endSession(socket, masterPid);
});

it('a symbolic link put at FILE while the session runs is never written through: the log waits, then makes FILE again', async () => {
  const file = sandbox.path('log');
  const target = sandbox.path('target');
  fs.writeFileSync(target, 'untouched\n');
  const socket = sandbox.path('s');
  expect(await dt(['-n', socket, '-L', file, process.execPath, HEXECHO])).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitForLog(file, Buffer.from('READY\r\r\n'), 'READY');

  fs.rmSync(file);
  fs.symlinkSync(target, file);
  await pushKey(socket, 'a');
  const refused = `cannot open ${file}: is a symbolic link; dt writes a log only to a regular file`;
  await waitUntil(async () => (await logStatus(socket))?.reason === refused, 'dt -l to say why the log is not written', 10_000);
  expect(fs.readFileSync(target, 'utf8')).toBe('untouched\n');

  fs.rmSync(file);
  await pushKey(socket, 'b');
  await waitUntil(() => readFile(file).toString('latin1').endsWith('HEX 62\r\r\n'), 'the log to be made again', 10_000);
  expect(fs.lstatSync(file).isFile()).toBe(true);
  expect(modeOf(file)).toBe(0o600);
  expect(fs.readFileSync(target, 'utf8')).toBe('untouched\n');
  await endSession(socket, masterPid);
});

it('a FILE.1 that cannot be replaced (a directory is there): the session goes on, dt -l says why, and once it can be, FILE rotates and nothing is lost', async () => {
  const socket = sandbox.path('s');
  const file = sandbox.path('r.log');
  fs.mkdirSync(`${file}.1`);
  expect(await dt(['-n', socket, '-L', file, process.execPath, HEXECHO], { DT_LOG_LIMIT: '1K' })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitForLog(file, Buffer.from('READY\r\r\n'), 'READY');
  // hexecho answers 600 bytes with 1200 hex digits: FILE reaches its limit.
  await pushKey(socket, 'a'.repeat(600));
  const refused = `cannot rename ${file} to ${file}.1: Is a directory`;
  await waitUntil(async () => (await logStatus(socket))?.reason === refused, 'dt -l to say why FILE is not rotated', 10_000);
  expect(await logStatus(socket)).toMatchObject({ file, writing: false, reason: refused });
  expect(fs.statSync(`${file}.1`).isDirectory()).toBe(true);
  expect(await masterInfo(socket)).toMatchObject({ masterPid });

  fs.rmdirSync(`${file}.1`);
  await pushKey(socket, 'b');
  await waitUntil(() => readFile(file).toString('latin1').endsWith('HEX 62\r\r\n'), 'the log to go on in a new FILE', 10_000);
  const previous = readFile(`${file}.1`);
  expect(previous.length).toBe(1024);
  const stream = Buffer.concat([previous, readFile(file)]).toString('latin1');
  expect(stream).toMatch(/^READY\r\r\n(HEX (61)+\r\r\n)+HEX 62\r\r\n$/);
  expect(stream.match(/61/g)?.length).toBe(600);
  expect(await logStatus(socket)).toMatchObject({ file, writing: true });
  expect(await logStatus(socket)).not.toHaveProperty('reason');
  await endSession(socket, masterPid);
});

it('dt -A that attaches to a running session leaves -L alone: the log belongs to a new session', async () => {
  const socket = sandbox.path('s');
  expect(await dt(['-n', socket, process.execPath, HEXECHO])).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const viewer = sandbox.dt(['-A', socket, '-L', 'no/such/dir/log', '/bin/sh']);
  await waitForViewers(socket, 1);
  viewer.write('\x1c');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
  expect(fs.existsSync(sandbox.path('no'))).toBe(false);
  expect(await logStatus(socket)).toBeUndefined();
  await endSession(socket, masterPid);
});

/** Ends a session's program with SIGKILL (dt -k) and waits until its master is gone. */
async function endSession(socket: string, masterPid: number): Promise<void> {
  expect(await dt(['-k', socket, 'KILL'])).toMatchObject({ code: 0 });
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
}

/** Types a key into the program with dt -p. */
async function pushKey(socket: string, key: string): Promise<void> {
  expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: key })).toMatchObject({ code: 0 });
}
