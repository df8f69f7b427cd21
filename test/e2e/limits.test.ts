// The kernel's limits, met exactly: a command line as long as exec(2) accepts, and socket
// paths and names longer than a socket address can hold. What the program receives is read
// from outside, in /proc.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Sandbox, waitUntil, type Term } from './harness.js';
import { HEXECHO, expectStatusLine, hexReceived, isSocketFile, killTracked, runDt, sessionInfo, trackPid } from './lifecycle-helpers.js';

/** sun_path: a socket address holds a path of at most this many bytes. */
const MAX_SOCKET_ADDRESS_BYTES = 107;
/** NAME_MAX: the longest name a directory entry can have. */
const MAX_NAME_BYTES = 255;

/** exec(2) refuses a single argument of this many bytes or more (MAX_ARG_STRLEN, with its NUL). */
const MAX_ARGUMENT_BYTES = 128 * 1024;

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** A program's argv as the kernel holds it. */
function commandLineOf(pid: number): Buffer {
  return fs.readFileSync(`/proc/${pid}/cmdline`);
}

it('a command line as long as exec accepts reaches the program whole: 1 MiB, the longest argument, 20,000 words', async () => {
  const socket = sandbox.path('s');
  const longest = 'x'.repeat(MAX_ARGUMENT_BYTES - 1);
  const words = Array.from({ length: 20_000 }, (_, index) => `word-${index}`);
  // sh waits on `read`, so its argv stays as dt gave it.
  const command = ['sh', '-c', 'read line', 'sh', ...Array<string>(7).fill(longest), ...words];
  const created = await runDt(['-n', socket, ...command], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  await waitUntil(() => commandLineOf(programPid).length > MAX_ARGUMENT_BYTES, 'the program to be exec-ed');
  const expected = Buffer.from(`${command.join('\0')}\0`);
  expect(expected.length).toBeGreaterThan(1024 * 1024);
  // argv[0] too is as given ("sh", not the path exec found).
  expect(commandLineOf(programPid).equals(expected)).toBe(true);
  // The session describes itself within a frame's limit: dt -l shows it live.
  const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect((JSON.parse(listed.stdout) as Array<{ state: string }>).map((session) => session.state)).toEqual(['detached']);
});

/** Types a key in an attached hexecho session and waits until the program has seen it. */
async function typeAndSee(term: Term, key: string): Promise<void> {
  const from = term.text.length;
  term.write(key);
  await term.until(() => hexReceived(term, from).includes(key), `hexecho to receive ${JSON.stringify(key)}`);
}

/**
 * Every mode on one socket path: -n creates, a second -n is refused, -l lists it, -a and -A
 * attach, -p pushes, -k ends it, -c creates again. dt is run from `cwd` with `socketArg`;
 * connecting may need a symbolic link in TMPDIR, which must be gone afterwards.
 */
async function everyModeOn(socketArg: string, socketFile: string): Promise<void> {
  const tmp = sandbox.path('tmp');
  fs.mkdirSync(tmp);
  const env = sandbox.env({ TMPDIR: tmp });
  const options = { cwd: sandbox.dir, env };

  expect(await runDt(['-n', socketArg, ...HEXECHO], options)).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect(isSocketFile(socketFile)).toBe(true);
  const [masterPid] = sandbox.findMasters();
  expect(masterPid).toBeGreaterThan(0);
  sandbox.addMaster(masterPid!);
  const again = await runDt(['-n', socketArg, ...HEXECHO], options);
  expect(again).toMatchObject({ code: 1, stderr: `dt: ${socketFile}: a session is already running on this socket\n` });

  const listed = await runDt(['-l', '--json'], options);
  expect(JSON.parse(listed.stdout)).toMatchObject([{ socket: socketFile, masterPid, state: 'detached' }]);

  const attached = sandbox.dt(['-a', socketArg, '-r', 'none'], { env });
  await typeAndSee(attached, 'a');
  const pushedAt = attached.text.length;
  expect(await runDt(['-p', socketArg], { ...options, input: 'p' })).toMatchObject({ code: 0, stderr: '' });
  await attached.until(() => hexReceived(attached, pushedAt).includes('p'), 'the pushed byte to arrive');
  const attachedOrCreated = sandbox.dt(['-A', socketArg, '-r', 'none', 'sh', '-c', 'echo created > created'], { env });
  await typeAndSee(attachedOrCreated, 'A');
  expect(fs.existsSync(sandbox.path('created'))).toBe(false);

  const endAt = attached.text.length;
  expect(await runDt(['-k', socketArg, 'TERM'], options)).toMatchObject({ code: 0, stderr: '' });
  expect((await attached.waitForExit()).exitCode).toBe(143);
  expectStatusLine(attached.text.slice(endAt), '[program killed by SIGTERM]');
  expect((await attachedOrCreated.waitForExit()).exitCode).toBe(143);
  await waitUntil(() => !fs.existsSync(socketFile), 'the ended session to remove its socket');

  const created = sandbox.dt(['-c', socketArg, '-r', 'none', ...HEXECHO], { env });
  await created.waitFor('READY');
  await typeAndSee(created, 'c');
  sandbox.addMaster(sandbox.findMasters()[0]!);
  created.write('\x1c');
  expect((await created.waitForExit()).exitCode).toBe(0);
  expect(await runDt(['-k', socketArg, 'KILL'], options)).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => !fs.existsSync(socketFile), 'the killed session to remove its socket');
  // Whatever connecting needed in TMPDIR is gone.
  expect(fs.readdirSync(tmp)).toEqual([]);
}

it('a socket whose name alone is too long for a socket address (255 bytes) works in every mode', async () => {
  const directory = path.join(sandbox.dir, 'd'.repeat(60));
  fs.mkdirSync(directory);
  const socket = path.join(directory, 'n'.repeat(MAX_NAME_BYTES));
  expect(`/proc/self/fd/9/${path.basename(socket)}`.length).toBeGreaterThan(MAX_SOCKET_ADDRESS_BYTES);
  await everyModeOn(socket, socket);
});

it('a socket path given relatively, whose name of 92 bytes is too long even for /proc/self/fd/N/name, works in every mode', async () => {
  fs.mkdirSync(sandbox.path('sub'));
  const name = 'm'.repeat(92);
  expect(`/proc/self/fd/3/${name}`.length).toBe(MAX_SOCKET_ADDRESS_BYTES + 1);
  expect(Buffer.byteLength(sandbox.path(`sub/${name}`))).toBeGreaterThan(MAX_SOCKET_ADDRESS_BYTES);
  await everyModeOn(`sub/${name}`, sandbox.path(`sub/${name}`));
});
