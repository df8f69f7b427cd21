// What dt adds to dtach, end to end: dt -l (table and --json) with live, exited and stale
// sessions; the status of a program that ended while nobody was attached; read-only viewers
// (-R), enforced by the master; and dt -k.

import fs from 'node:fs';
import net from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION, decodeExit, encodeAttach, encodeDataFrames, encodeFrame, encodeHello, encodeRedraw, FrameType, RedrawMethod,
} from '../../src/common/protocol.js';
import { DT, FIXTURES, Peer, Sandbox, childPids, hasEnded, hexReceived, masterInfo, masterPidOf, statusLinePattern, waitForViewers, waitUntil, type Term } from './harness.js';
import { HEXECHO, killTracked, trackPid, listSessions, readPidFile, run, runDt } from './lifecycle-helpers.js';

const SETPRIV = '/usr/bin/setpriv';

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
  command: string[];
  clients?: number;
  cols?: number;
  rows?: number;
  foreground?: string;
  note?: string;
  terminatedBy?: string;
  exitCode?: number;
  exitSignal?: string;
}

async function listJson(): Promise<Listed[]> {
  return await listSessions(sandbox, true) as Listed[];
}

function listTable(): Promise<string> {
  return listSessions(sandbox, false);
}

it('dt -l lists a live session with its master, program, clients, size and state, in a table and as JSON', async () => {
  sandbox.leavesMaster('a live session is listed: that is what is checked');
  const socket = sandbox.path('s');
  const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created.code).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);

  let [session] = await listJson();
  expect(session).toMatchObject({ socket, masterPid, state: 'detached', command: HEXECHO, clients: 0 });

  const viewer = sandbox.dt(['-a', socket, '-r', 'none'], { cols: 91, rows: 33 });
  await waitForViewers(socket, 1);
  [session] = await listJson();
  expect(session).toMatchObject({ socket, state: 'attached', clients: 1, cols: 91, rows: 33, foreground: 'node' });
  const table = await listTable();
  expect(table).toMatch(/^SESSION\s+PID\s+COMMAND\s+FOREGROUND\s+STARTED\s+CLIENTS\s+SIZE\s+STATE\n/);
  expect(table).toContain(socket);
  expect(table).toMatch(new RegExp(`${masterPid}\\s.*\\s1\\s+91x33\\s+attached\\n`));
  viewer.write('\x1c');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
});

it('a session whose master was killed is listed as stale, never as live', async () => {
  const socket = sandbox.path('s');
  expect((await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  process.kill(masterPid, 'SIGKILL');
  await waitUntil(() => hasEnded(masterPid), 'the master to die');
  expect(await listTable()).toMatch(new RegExp(`^${socket}\\s+${masterPid}\\s.*\\sstale \\(master gone; dt -A or -c replaces it\\)\\n`, 'm'));
  // Once reported, the dead entry is cleaned up: never shown as live.
  expect((await listJson()).filter((session) => session.state !== 'stale')).toEqual([]);
});

it('a live session whose socket was deleted and taken by a new session stays listed, and says how to get it back', async () => {
  const socket = sandbox.path('s');
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  expect((await runDt(['-n', socket, ...HEXECHO], options)).code).toBe(0);
  const oldMaster = await sandbox.trackMaster(socket);
  fs.unlinkSync(socket); // a /tmp cleaner, say
  expect((await runDt(['-n', socket, ...HEXECHO], options)).code).toBe(0);
  const newMaster = await sandbox.trackMaster(socket);
  expect(newMaster).not.toBe(oldMaster);

  const taken = `socket taken by master ${newMaster}'s session; kill -USR1 ${oldMaster} recreates it once that one ends`;
  expect(await listJson()).toMatchObject([
    { socket, masterPid: oldMaster, state: 'unreachable', note: taken },
    { socket, masterPid: newMaster, state: 'detached' },
  ]);
  const table = await listTable();
  expect(table).toMatch(new RegExp(`^${socket}\\s+${oldMaster}\\s.*\\sunreachable \\(socket taken by master ${newMaster}'s session; kill -USR1 ${oldMaster} recreates it once that one ends\\)\\n`, 'm'));
  expect(table).toMatch(new RegExp(`^${socket}\\s+${newMaster}\\s.*\\sdetached\\n`, 'm'));

  // SIGUSR1 leaves the new session's socket alone while it runs.
  process.kill(oldMaster, 'SIGUSR1');
  expect(await masterPidOf(socket)).toBe(newMaster);
  process.kill(newMaster, 'SIGTERM');
  await waitUntil(() => hasEnded(newMaster), 'the new session to end');
  const [old] = (await listJson()).filter((session) => session.masterPid === oldMaster);
  expect(old).toMatchObject({ state: 'unreachable', note: `socket missing; kill -USR1 ${oldMaster} recreates it` });
  process.kill(oldMaster, 'SIGUSR1');
  await waitUntil(() => fs.existsSync(socket), 'the socket to be recreated');
  expect(await masterPidOf(socket)).toBe(oldMaster);
  expect((await listJson()).filter((session) => session.masterPid === oldMaster)).toMatchObject([{ state: 'detached' }]);
  process.kill(oldMaster, 'SIGTERM');
  await waitUntil(() => hasEnded(oldMaster), 'the old session to end');
});

it('a live session whose socket path now holds a stale socket, something else\'s socket or a plain file is listed as such, not as not answering', async () => {
  const socket = sandbox.path('s');
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  expect((await runDt(['-n', socket, ...HEXECHO], options)).code).toBe(0);
  const oldMaster = await sandbox.trackMaster(socket);
  fs.unlinkSync(socket); // a /tmp cleaner, say
  // A newer session there, whose master is then killed outright: its socket file stays, and nobody listens on it.
  expect((await runDt(['-n', socket, ...HEXECHO], options)).code).toBe(0);
  const newMaster = await sandbox.trackMaster(socket);
  process.kill(newMaster, 'SIGKILL');
  await waitUntil(() => hasEnded(newMaster), 'the newer master to be gone');
  const listedOld = async (): Promise<Listed | undefined> => (await listJson()).find((session) => session.masterPid === oldMaster);
  const recreate = `kill -USR1 ${oldMaster} recreates it`;
  expect(await listedOld()).toMatchObject({ state: 'unreachable', note: `socket replaced by a stale one nobody listens on; ${recreate} once that file is removed` });

  // Another program's socket, which answers as no dt session does.
  fs.unlinkSync(socket);
  const connections = new Set<net.Socket>();
  const other = net.createServer((connection) => {
    connections.add(connection);
    connection.on('error', () => { /* dt -l closes it as soon as it has read that this is no dt session */ });
    connection.end('SSH-2.0-OpenSSH_9.6\r\n');
  });
  await new Promise<void>((resolve) => other.listen(socket, resolve));
  try {
    expect(await listedOld()).toMatchObject({ state: 'unreachable', note: `socket taken by something that is not a dt session; ${recreate} once that file is removed` });
  } finally {
    const closed = new Promise((resolve) => other.close(resolve));
    for (const connection of connections) connection.destroy();
    await closed;
  }

  fs.writeFileSync(socket, '');
  expect(await listedOld()).toMatchObject({ state: 'unreachable', note: `socket replaced by a file that is not a socket; ${recreate} once that file is removed` });
  fs.unlinkSync(socket);
  process.kill(oldMaster, 'SIGUSR1');
  await waitUntil(() => fs.existsSync(socket), 'the socket to be recreated');
  expect(await listedOld()).toMatchObject({ state: 'detached' });
  process.kill(oldMaster, 'SIGTERM');
  await waitUntil(() => hasEnded(oldMaster), 'the old session to end');
});

it('a session whose master was terminated and whose program ignores the hangup is listed as ending, not as a socket SIGUSR1 recreates', async () => {
  const socket = sandbox.path('s');
  const programPidFile = sandbox.path('program.pid');
  // The master waits for the program as long as the test needs (3 s otherwise).
  const options = { cwd: sandbox.dir, env: sandbox.env({ DT_TEST_TERMINATE_GRACE_MS: '60000' }) };
  const program = ['sh', '-c', `trap '' HUP; echo $$ > "${programPidFile}"; exec sleep 600`];
  expect((await runDt(['-n', socket, ...program], options)).code).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const programPid = await readPidFile(programPidFile);
  process.kill(masterPid, 'SIGTERM');
  await waitUntil(() => !fs.existsSync(socket), 'the master to remove its socket');

  expect(await listJson()).toMatchObject([{ socket, masterPid, state: 'ending', terminatedBy: 'SIGTERM', note: 'terminated by SIGTERM' }]);
  expect(await listTable()).toMatch(new RegExp(`^${socket}\\s+${masterPid}\\s.*\\sending \\(terminated by SIGTERM\\)\n`, 'm'));
  expect(await runDt(['-k', socket, '0'], options)).toMatchObject({
    code: 1, stderr: `dt: ${socket}: the session is ending: its master was terminated by SIGTERM\n`,
  });
  process.kill(programPid, 'SIGKILL');
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
  expect(await listJson()).toEqual([]);
});

it('a live session whose socket was deleted with its directory says that the directory must come back first', async () => {
  const directory = sandbox.path('sessions');
  const socket = `${directory}/s`;
  const options = { cwd: sandbox.dir, env: sandbox.env() };
  fs.mkdirSync(directory, { mode: 0o700 });
  expect((await runDt(['-n', socket, ...HEXECHO], options)).code).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  fs.rmSync(directory, { recursive: true }); // a /tmp cleaner, say
  expect(await listJson()).toMatchObject([
    { socket, masterPid, state: 'unreachable', note: `socket missing; kill -USR1 ${masterPid} recreates it once ${directory} is made again` },
  ]);
  fs.mkdirSync(directory, { mode: 0o700 });
  process.kill(masterPid, 'SIGUSR1');
  await waitUntil(() => fs.existsSync(socket), 'the socket to be recreated');
  expect(await listJson()).toMatchObject([{ socket, masterPid, state: 'detached' }]);
  process.kill(masterPid, 'SIGTERM');
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
});

it('a program that ends while nobody is attached keeps its status: dt -l shows it, dt -a reports it once, then dt -A starts afresh', async () => {
  sandbox.leavesMaster('dt -A starts a fresh session at the end, as checked');
  const socket = sandbox.path('s');
  const masterPid = await startLineReader(socket);
  await sendLine(socket);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
  expect(fs.existsSync(socket), 'the socket, removed as with dtach').toBe(false);

  const [session] = await listJson();
  expect(session).toMatchObject({ socket, masterPid, state: 'exited', exitCode: 3 });
  expect(await listTable()).toMatch(/exited \(status 3, /);

  const attached = await runDt(['-a', socket], { cwd: sandbox.dir, env: sandbox.env() });
  expect(attached.code).toBe(3);
  expect(attached.stdout).toMatch(/^\[program exited with status 3\] at \d{4}-\d\d-\d\d \d\d:\d\d, while detached\n$/);
  // Reported once: the status is then forgotten, and -a says what dtach says.
  expect(await listJson()).toEqual([]);
  const again = sandbox.dt(['-a', socket]);
  expect((await again.waitForExit()).exitCode).toBe(1);
  expect(again.text).toContain(`dt: ${socket}: No such file or directory`);

  // -A on a socket whose program ended creates a new session there, as dtach -A does.
  const fresh = sandbox.dt(['-A', socket, '-r', 'none', ...HEXECHO]);
  await fresh.waitFor('READY');
  const [live] = await listJson();
  expect(live).toMatchObject({ socket, state: 'attached' });
  expect(live!.masterPid).not.toBe(masterPid);
  sandbox.addMaster(live!.masterPid);
  fresh.write('\x1c');
  expect((await fresh.waitForExit()).exitCode).toBe(0);
});

it('dt -k and dt -p on a session whose program ended unwatched say so and how to see its status, exit 1, and keep the status', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startLineReader(socket);
  await sendLine(socket);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');

  const ended = `dt: ${socket}: the session's program has ended: dt -a or dt -w shows its exit status and forgets it\n`;
  // Signal 0 too, as kill -0: the program is not there, and its status stays kept.
  for (const [args, input] of [[['-k', socket], ''], [['-k', socket, '-9'], ''], [['-k', socket, '0'], ''], [['-p', socket], 'more\n']] as const) {
    const result = await runDt([...args], { cwd: sandbox.dir, env: sandbox.env(), input });
    expect({ args, ...result }).toMatchObject({ args, code: 1, stdout: '', stderr: ended });
  }
  // Kept for whoever asks for it, as before.
  expect(await listJson()).toMatchObject([{ socket, masterPid, state: 'exited', exitCode: 3 }]);
  expect((await runDt(['-w', socket], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(3);
  expect(await listJson()).toEqual([]);
});

it('dt -k, dt -p, dt -w and dt -a queued on the socket as the program ends, before the master accepts them, are answered, not reset', async () => {
  const socket = sandbox.path('s');
  const heldMaster = sandbox.path('master');
  const holdAtEnd = { NODE_OPTIONS: `--require ${FIXTURES}/hold-at-end.cjs`, HOLD_AT_END_FILE: heldMaster };
  const masterPid = await startLineReader(socket, holdAtEnd);
  // Told its input is written perhaps only with the status, after the master is let go.
  const go = runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'go\n' });
  // The master has kept the status and is held before its next turn: whoever connects now waits in the socket's queue.
  await waitUntil(() => fs.existsSync(`${heldMaster}.waiting`), 'the master to keep the program\'s status');
  const kill = runDt(['-k', socket], { cwd: sandbox.dir, env: sandbox.env(holdAfterConnect(sandbox.path('k'))) });
  const push = runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(holdAfterConnect(sandbox.path('p'))), input: 'more\n' });
  const wait = runDt(['-w', socket], { cwd: sandbox.dir, env: sandbox.env(holdAfterConnect('w')) });
  const attach = sandbox.dt(['-a', socket], { env: holdAfterConnect('a') });
  const clients = ['k', 'p', 'w', 'a'].map((name) => sandbox.path(name));
  await waitUntil(() => clients.every((release) => fs.existsSync(`${release}.waiting`)), 'the clients to connect');
  fs.writeFileSync(heldMaster, '');
  for (const release of clients) fs.writeFileSync(release, '');

  expect((await go).code).toBe(0);
  const ended = `dt: ${socket}: the session's program has ended: dt -a or dt -w shows its exit status and forgets it\n`;
  expect(await kill).toMatchObject({ code: 1, stdout: '', stderr: ended });
  expect(await push).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: the session ended before all input was sent\n` });
  expect(await wait).toMatchObject({ code: 3, stdout: '', stderr: '' });
  expect((await attach.waitForExit()).exitCode).toBe(3);
  expect(attach.text).toMatch(statusLinePattern('[program exited with status 3]'));
  await waitUntil(() => hasEnded(masterPid), 'the master to end');
  // Told: nothing is kept.
  expect(await listJson()).toEqual([]);
});

it('dt -k the master accepted just before the program ended says its signal reached no program, exit 1, as after the end', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startLineReader(socket);
  // Connected, then held before it reads the master's hello, so before it sends its signal.
  const release = sandbox.path('k');
  const kill = runDt(['-k', socket, 'TERM'], {
    cwd: sandbox.dir, env: sandbox.env(holdAfterConnect(release)),
  });
  await waitUntil(() => fs.existsSync(`${release}.waiting`), 'dt -k to connect');
  // Queued before dt -p's connection, dt -k's is accepted first: the program ends with it among the clients.
  await sendLine(socket);
  await waitUntil(() => !fs.existsSync(socket), 'the program to end');
  fs.writeFileSync(release, '');

  expect(await kill).toMatchObject({
    code: 1, stdout: '', stderr: `dt: ${socket}: the session's program has ended: dt -a or dt -w shows its exit status and forgets it\n`,
  });
  await waitUntil(() => hasEnded(masterPid), 'the master to end');
  expect(await listJson()).toMatchObject([{ socket, masterPid, state: 'exited', exitCode: 3 }]);
});

it.each([
  ['dt -a <socket>', (socket: string) => ['-a', socket], 0],
  // Found in the registry, without a connect.
  ['dt -a (the only session)', () => ['-a'], 0],
  // -A's first connect asks whether the session is live; it is.
  ['dt -A', (socket: string) => ['-A', socket, 'true'], 1],
])('%s reports the kept status of a program that ended between its look at the session and its connect', async (_what, args, connectsBefore) => {
  const socket = sandbox.path('s');
  const held = sandbox.path('connect');
  const masterPid = await startLineReader(socket);
  // The client finds the session running, then is held just before it connects to attach.
  const client = sandbox.dt(args(socket), {
    env: { ...holdConnect(held), HOLD_CONNECT_AFTER: String(connectsBefore) },
  });
  await waitUntil(() => fs.existsSync(`${held}.waiting`), 'the client to reach its connect');
  await sendLine(socket);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
  fs.writeFileSync(held, '');
  expect((await client.waitForExit()).exitCode).toBe(3);
  expect(client.text).toMatch(/^\[program exited with status 3\] at \d{4}-\d\d-\d\d \d\d:\d\d, while detached\r\n$/);
  // Reported once: the status is then forgotten.
  expect(await listJson()).toEqual([]);
});

it('dt -k on a program that has exited, its end not yet reported (its output held for dt -c still to attach), says so, exit 1, and signals no process', async () => {
  const socket = sandbox.path('s');
  const exited = sandbox.path('exited');
  const held = sandbox.path('connect');
  // Its output, read and held for the creating client, keeps the master from reading the end of the pty.
  const creator = sandbox.dt(['-c', socket, '/bin/sh', '-c', 'echo output; : > "$0"; exit 3', exited], {
    env: holdConnect(held),
  });
  await waitUntil(() => fs.existsSync(`${held}.waiting`), 'the creating client to reach its connect');
  const masterPid = await sandbox.trackMaster(socket);
  // Reaped by the master; the session ends once its output, held for the creating client, is read.
  await waitUntil(() => fs.existsSync(exited) && childPids(masterPid).length === 0, 'the program to exit and be reaped');
  // The creating client may still come and see the status: nothing is said of one kept.
  // Signal 0 asks whether the program runs: it does not.
  for (const word of ['TERM', '0']) {
    expect({ word, ...await runDt(['-k', socket, word], { cwd: sandbox.dir, env: sandbox.env() }) })
      .toMatchObject({ word, code: 1, stdout: '', stderr: `dt: ${socket}: the session's program has ended\n` });
  }
  // Still running: it was told by the session, not by the registry of one that had ended.
  expect(fs.existsSync(socket)).toBe(true);
  fs.writeFileSync(held, '');
  expect((await creator.waitForExit()).exitCode).toBe(3);
  expect(creator.text).toContain('output');
  await waitUntil(() => hasEnded(masterPid), 'the master to end');
  expect(await listJson()).toEqual([]);
});

it('dt -l run as the program ends lists the session as exited with its status, never as unreachable', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startLineReader(socket);
  // Both have read the registry, with the session running: one is held before its connect,
  // the other right after it (the master has it among its clients as the program ends).
  const before = sandbox.path('before');
  const after = sandbox.path('after');
  const listBefore = runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env(holdConnect(before)) });
  const listAfter = runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env(holdAfterConnect(after)) });
  await waitUntil(() => fs.existsSync(`${before}.waiting`) && fs.existsSync(`${after}.waiting`), 'both listings to reach the session');
  await sendLine(socket);
  await waitUntil(() => !fs.existsSync(socket), 'the program to end');
  fs.writeFileSync(before, '');
  fs.writeFileSync(after, '');
  for (const listing of [await listBefore, await listAfter]) {
    expect(listing).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(listing.stdout)).toMatchObject([{ socket, masterPid, state: 'exited', exitCode: 3 }]);
  }
  await waitUntil(() => hasEnded(masterPid), 'the master to end');
});

it('a client whose hello the master has not read when the program ends reads the session\'s hello, then the status, once it asks', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startLineReader(socket);
  // Connected, its hello not sent yet: as a client whose hello the master is about to read.
  const early = await Peer.connect(socket, false);
  await sendLine(socket);
  await waitUntil(() => !fs.existsSync(socket), 'the program to end');
  // What it asks decides what it is told (a dt -k: that its signal reaches no program).
  early.socket.write(Buffer.concat([encodeHello({ version: PROTOCOL_VERSION, pid: 0 }), encodeFrame(FrameType.Info)]));
  await waitUntil(() => early.closed, 'the master to close the connection');
  // A client reads the session's hello before anything else: an exit without one is garbage to it.
  expect(early.frames.map((frame) => frame.type)).toEqual([FrameType.Hello, FrameType.Exit]);
  expect(early.masterPid).toBe(masterPid);
  expect(decodeExit(early.frames[1]!.payload)).toMatchObject({ code: 3, signal: 0 });
  await waitUntil(() => hasEnded(masterPid), 'the master to end');
});

/** A session of hexecho in an 80x24 terminal that has attached and typed nothing yet. */
/** The program of startLineReader: it reads a line, then exits 3. */
/** A client held just before it connects (hold-connect.cjs) until `file` exists; `file`.waiting says it is there. */
function holdConnect(file: string): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--require ${FIXTURES}/hold-connect.cjs`, HOLD_CONNECT_FILE: file };
}

/** A client held right after it connects (hold-after-connect.cjs) until `file` exists; `file`.waiting says it is there. */
function holdAfterConnect(file: string): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--require ${FIXTURES}/hold-after-connect.cjs`, HOLD_AFTER_CONNECT_FILE: file };
}

const LINE_READER = ['/bin/sh', '-c', 'read line; exit 3'];

/** Starts a detached session of LINE_READER (the master's environment given `env` too); resolves with its master's pid. */
async function startLineReader(socket: string, env?: NodeJS.ProcessEnv): Promise<number> {
  expect((await runDt(['-n', socket, ...LINE_READER], { cwd: sandbox.dir, env: sandbox.env(env) })).code).toBe(0);
  return sandbox.trackMaster(socket);
}

/** The line LINE_READER waits for, sent with dt -p: the program then exits 3. */
async function sendLine(socket: string): Promise<void> {
  expect((await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'go\n' })).code).toBe(0);
}

async function hexechoSession(): Promise<{ socket: string; writer: Term }> {
  const socket = sandbox.path('s');
  const writer = sandbox.dt(['-c', socket, '-r', 'none', ...HEXECHO], { cols: 80, rows: 24 });
  await writer.waitFor('READY');
  await sandbox.trackMaster(socket);
  return { socket, writer };
}

/** The program's window size, as the master reports it. */
async function programSize(socket: string): Promise<{ cols: number; rows: number }> {
  const { cols, rows } = await masterInfo(socket);
  return { cols, rows };
}

it('a -R viewer sees the output but its keys and window size never reach the program', async () => {
  sandbox.leavesMaster('read-only viewing is checked; the end is tested elsewhere');
  const { socket, writer } = await hexechoSession();
  const from = writer.text.length;
  // ctrl_l would type a ^L into this raw, no-echo program: not from a read-only viewer.
  const reader = sandbox.dt(['-a', '-R', socket, '-r', 'ctrl_l'], { cols: 120, rows: 50 });
  await waitForViewers(socket, 2);
  expect(await programSize(socket), 'the size after a read-only attach').toEqual({ cols: 80, rows: 24 });

  reader.write('r');
  reader.resize(100, 40);
  writer.write('w');
  // The writer's key arrives and both see it; the reader's never did, before or after.
  await writer.waitFor('HEX 77', { from });
  await reader.waitFor('HEX 77');
  expect(writer.text.slice(from)).not.toContain('HEX 72');
  expect(writer.text.slice(from), 'a redraw caused by the read-only viewer').not.toContain('HEX 0c');
  expect(await programSize(socket), 'the size after a read-only resize').toEqual({ cols: 80, rows: 24 });

  // The reader can still detach.
  reader.write('\x1c');
  expect((await reader.waitForExit()).exitCode).toBe(0);
  writer.write('\x1c');
  expect((await writer.waitForExit()).exitCode).toBe(0);
});

it('the master enforces read-only: a peer that attached read-only and sends input, resize, redraw and kill frames changes nothing', async () => {
  sandbox.leavesMaster('the session must go on: that is what is checked');
  const { socket, writer } = await hexechoSession();
  const peer = await Peer.connect(socket);
  const from = writer.text.length;
  // ctrl_l at attach and in a Redraw frame would type a ^L into this raw, no-echo program.
  peer.socket.write(encodeAttach({ cols: 132, rows: 43, redraw: RedrawMethod.CtrlL, readOnly: true }));
  peer.socket.write(Buffer.concat([
    ...encodeDataFrames(FrameType.Input, Buffer.from('peer')),
    Buffer.from([FrameType.Resize, 0, 0, 0, 4, 0, 132, 0, 43]),
    encodeRedraw(RedrawMethod.CtrlL),
    Buffer.from([FrameType.Kill, 0, 0, 0, 1, 15]),
  ]));
  // Once the master has answered the peer's next request, it has handled all of the above.
  peer.socket.write(Buffer.from([FrameType.Info, 0, 0, 0, 0]));
  await waitUntil(() => peer.frames.some((frame) => frame.type === FrameType.Info), 'the master to answer the read-only peer');
  // Redraw frames from a connection that is not read-only type a ^L each: the ones expected. A
  // redraw asks stty first; two in turn give the read-only peer's, had there been one, time to land.
  const control = await Peer.connect(socket);
  for (let redraw = 1; redraw <= 2; redraw++) {
    control.socket.write(encodeRedraw(RedrawMethod.CtrlL));
    await waitUntil(() => hexReceived(writer.text.slice(from)).split('0c').length > redraw, `the control's redraw ${redraw}`);
  }
  control.close();
  writer.write('w');
  await writer.waitFor('HEX 77', { from });
  // The peer sees output like any viewer, and the program got nothing from it.
  await waitUntil(() => peer.output().includes('HEX 77'), 'the read-only peer to see the output');
  expect(writer.text.slice(from)).not.toMatch(/HEX 70/);
  // The control's two ^L, then the w: nothing from the read-only peer's attach or Redraw frame.
  expect(hexReceived(writer.text.slice(from))).toBe('0c0c77');
  expect(await programSize(socket)).toEqual({ cols: 80, rows: 24 });
  expect(writer.exited, 'the program, not killed').toBeUndefined();
  peer.close();
  writer.write('\x1c');
  expect((await writer.waitForExit()).exitCode).toBe(0);
});

it.each([
  [[], 'SIGTERM', 143],
  [['INT'], 'SIGINT', 130],
  [['9'], 'SIGKILL', 137],
])('dt -k sock %o signals the program; attached clients report %s and exit %i', async (signal, name, code) => {
  const socket = sandbox.path('s');
  const viewer = sandbox.dt(['-c', socket, '-r', 'none', ...HEXECHO]);
  await viewer.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  const killed = await runDt(['-k', socket, ...signal], { cwd: sandbox.dir, env: sandbox.env() });
  expect(killed).toMatchObject({ code: 0, stderr: '' });
  expect((await viewer.waitForExit()).exitCode).toBe(code);
  expect(viewer.text).toMatch(statusLinePattern(`[program killed by ${name}]`));
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
});

it('dt -k sock RTMIN+1 reaches a program that traps it, and RTMAX, which it does not trap, kills it', async () => {
  const socket = sandbox.path('s');
  const program = ['bash', '-c', "trap 'echo got RT1' RTMIN+1; echo READY; while :; do read -r line; done"];
  const viewer = sandbox.dt(['-c', socket, '-r', 'none', ...program]);
  await viewer.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  expect(await runDt(['-k', socket, 'RTMIN+1'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  await viewer.waitFor('got RT1');
  expect(await runDt(['-k', socket, 'sigrtmax'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  expect((await viewer.waitForExit()).exitCode).toBe(128 + 64);
  expect(viewer.text).toMatch(statusLinePattern('[program killed by SIGRTMAX]'));
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
});

it('dt -k sock 0 (-0, -s 0), as kill -0: status 0 and nothing said while the program runs, and nothing sent to it', async () => {
  const socket = sandbox.path('s');
  // Reports every signal it may be sent by mistake (the default TERM among them); WINCH, which an attach may send, is not asked about.
  const trapped = ['HUP', 'INT', 'QUIT', 'TERM', 'USR1', 'USR2', 'ALRM', 'CONT', 'RTMIN'];
  const traps = trapped.map((name) => `trap 'echo got ${name}' ${name}`).join('; ');
  // A trapped signal interrupts read (status above 128): it reads on. The end of its input
  // (the terminal gone: the test failed and the master was ended) ends it, HUP being trapped.
  const readOn = 'while :; do read -r line || [ $? -gt 128 ] || exit; done';
  const viewer = sandbox.dt(['-c', socket, '-r', 'none', 'bash', '-c', `${traps}; echo READY; ${readOn}`]);
  await viewer.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  trackPid((await masterInfo(socket)).programPid);
  const from = viewer.text.length;
  for (const args of [[socket, '0'], [socket, '-0'], [socket, '-s', '0'], ['-0', socket], ['-s', '0', socket]]) {
    expect({ args, ...await runDt(['-k', ...args], { cwd: sandbox.dir, env: sandbox.env() }) }).toMatchObject({ args, code: 0, stdout: '', stderr: '' });
  }
  // A signal sent after them arrives first: none of them sent one.
  expect(await runDt(['-k', socket, 'USR1'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  await viewer.waitFor('got USR1', { from });
  expect(viewer.text.slice(from).match(/got \w+/g)).toEqual(['got USR1']);
  expect(viewer.exited).toBeUndefined();
  expect(await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  expect((await viewer.waitForExit()).exitCode).toBe(128 + 9);
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
  // The attached client saw the status, so nothing is kept: no session.
  expect(await runDt(['-k', socket, '0'], { cwd: sandbox.dir, env: sandbox.env() }))
    .toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: No such file or directory\n` });
});

it('dt -k on a program of another user (su, sudo -i in the foreground) says it may not, status 1; the session goes on, and SIGTERM still ends it', async (context) => {
  if (process.getuid!() !== 0 || !fs.existsSync(SETPRIV)) return context.skip(`needs root and ${SETPRIV} (util-linux)`);
  const socket = sandbox.path('s');
  // A master without CAP_KILL, as any user's is; its program runs as another user (nobody), as
  // su or sudo -i would in the foreground: the kernel refuses the signal (EPERM).
  const service = run(SETPRIV, ['--bounding-set=-kill', process.execPath, DT, '-N', socket,
    SETPRIV, '--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sleep', '1000'], { cwd: sandbox.dir, env: sandbox.env(), timeoutMs: 30_000 });
  await waitUntil(() => fs.existsSync(socket), 'the session to listen');
  const masterPid = await sandbox.trackMaster(socket);
  let programPid = 0;
  await waitUntil(async () => {
    programPid = (await masterInfo(socket)).programPid;
    return fs.readFileSync(`/proc/${programPid}/comm`, 'latin1').trim() === 'sleep';
  }, 'the program to run as nobody');

  const killed = await runDt(['-k', socket, 'INT'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(killed).toMatchObject({
    code: 1, stderr: `dt: ${socket}: cannot send SIGINT to the program's foreground process group ${programPid} (sleep): Operation not permitted\n`,
  });
  // As kill -0 would: the program exists, but may not be signalled.
  expect(await runDt(['-k', socket, '0'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({
    code: 1, stderr: `dt: ${socket}: cannot send signal 0 to the program's foreground process group ${programPid} (sleep): Operation not permitted\n`,
  });
  // The session is as it was: its master answers, its program runs.
  expect((await masterInfo(socket)).programPid).toBe(programPid);
  expect(hasEnded(programPid)).toBe(false);
  // The hangup it cannot send either: closing the terminal hangs the program up.
  process.kill(masterPid, 'SIGTERM');
  expect(await service).toMatchObject({ code: null, signal: 'SIGTERM', stderr: '' });
  await waitUntil(() => hasEnded(programPid), 'the program to be hung up');
});

it('dt -k with an unknown signal or on a missing session fails clearly and signals nothing', async () => {
  sandbox.leavesMaster('the session must go on: that is what is checked');
  const socket = sandbox.path('s');
  const viewer = sandbox.dt(['-c', socket, '-r', 'none', ...HEXECHO]);
  await viewer.waitFor('READY');
  await sandbox.trackMaster(socket);
  const bad = await runDt(['-k', socket, 'NOSUCH'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/^dt: .*NOSUCH/);
  // The kernel has a signal 32, but the C library keeps it: it would kill any program.
  const reserved = await runDt(['-k', socket, '32'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(reserved).toMatchObject({
    code: 2, stderr: "dt: Invalid signal '32' (32 and 33 are the C library's own; real-time signals are 34 to 64, RTMIN to RTMAX)\nTry 'dt --help' for more information.\n",
  });
  const missing = await runDt(['-k', sandbox.path('none')], { cwd: sandbox.dir, env: sandbox.env() });
  expect(missing).toMatchObject({ code: 1, stderr: `dt: ${sandbox.path('none')}: No such file or directory\n` });
  const from = viewer.text.length;
  viewer.write('a');
  await viewer.waitFor('HEX 61', { from });
  expect(viewer.exited).toBeUndefined();
  viewer.write('\x1c');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
});
