// What no client can make the master hold: input nobody reads, replies nobody reads, frames
// never finished, connections that do nothing. Memory is read from /proc (RssAnon), the
// connections the master keeps from its descriptors, what a client was told from its socket.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  DT, FIXTURES, Peer, Sandbox, checkPattern, hasEnded, masterInfo, openDescriptorCount, anonymousResidentBytes, waitForNoEcho, waitForViewers, waitUntil,
} from './harness.js';
import {
  FrameType, HEADER_BYTES, HelloFeature, MAX_FRAME_BYTES, PROTOCOL_VERSION, RedrawMethod, encodeAttach, encodeFrame, encodeHello,
} from '../../src/common/protocol.js';
import { killTracked, runDt, trackPid } from './lifecycle-helpers.js';
import { MAX_CONNECTIONS } from '../../src/master/session.js';

const MiB = 1024 * 1024;
/** The master's idle-connection timeout, shortened for these tests. */
const IDLE_TIMEOUT_MS = 1_000;
const ENV = { DT_TEST_IDLE_CONNECTION_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) };

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** A detached session whose program never reads its terminal; resolves with the master's pid. */
async function startNonReadingSession(socket: string, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const create = sandbox.dt(['-n', socket, '/bin/sh', '-c', 'stty raw -echo; exec sleep 600'], { env: { ...ENV, ...env } });
  expect((await create.waitForExit()).exitCode).toBe(0);
  return sandbox.trackMaster(socket);
}

/** Samples a process's RssAnon until stopped; returns the peak. */
function samplePeak(pid: number): () => number {
  let peak = anonymousResidentBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, anonymousResidentBytes(pid));
    } catch {
      // The master is gone: the test fails on its own terms.
    }
  }, 10);
  return () => {
    clearInterval(timer);
    return Math.max(peak, anonymousResidentBytes(pid));
  };
}

/** A raw connection that has said hello (unless told not to) and reads nothing unless told to. */
async function rawConnection(socket: string, hello = true): Promise<net.Socket> {
  for (let attempt = 0; ; attempt++) {
    const connection = net.createConnection(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        connection.once('connect', resolve);
        connection.once('error', reject);
      });
    } catch (error) {
      // EAGAIN: the listen backlog is full for a moment, as it is for any flood of connections.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    connection.on('error', () => {});
    connection.pause();
    if (hello) connection.write(encodeHello({ version: PROTOCOL_VERSION, pid: 0 }));
    return connection;
  }
}

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

it('SIGKILLed dt -p writers into a program that reads nothing pin a bounded amount of input, whatever their number', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startNonReadingSession(socket);
  const payload = sandbox.path('payload');
  fs.writeFileSync(payload, Buffer.alloc(4 * MiB, 0x61));
  const before = anonymousResidentBytes(masterPid);
  const peak = samplePeak(masterPid);
  const WRITERS = 20;
  // Four at a time, five times over: twenty started one after the other took more than half
  // the test's time limit on a loaded machine, each waiting for Node to start.
  const AT_ONCE = 4;
  const writeAndDie = async (writer: number): Promise<void> => {
    const child = spawn(process.execPath, [DT, '-p', socket], { cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() }, stdio: [fs.openSync(payload, 'r'), 'ignore', 'ignore'] });
    trackPid(child.pid!);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Until it is held back: its position in the file stops moving.
    let last = -1;
    let unchanged = 0;
    await waitUntil(() => {
      const position = Number(/^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${child.pid}/fdinfo/0`, 'latin1'))?.[1] ?? 0);
      unchanged = position === last && position > 0 ? unchanged + 1 : 0;
      last = position;
      return unchanged >= 5;
    }, `writer ${writer} to be held back`);
    child.kill('SIGKILL');
    await exited;
  };
  for (let first = 0; first < WRITERS; first += AT_ONCE) {
    await Promise.all(Array.from({ length: AT_ONCE }, (_, index) => writeAndDie(first + index)));
  }
  const highest = peak();
  console.log(`${WRITERS} SIGKILLed writers: master RssAnon ${mib(before)} MiB before, peak ${mib(highest)} MiB (was 48 -> 118 MiB for 30)`);
  // 1 MiB + 1 MiB queued for the program, 4 MiB held for all clients, a read per connection,
  // and up to 8 MiB of garbage between collections: far below 20 writers x 2 MiB.
  expect(highest - before).toBeLessThan(32 * MiB);
  expect((await masterInfo(socket)).masterPid, 'the master, still answering').toBe(masterPid);
  expect((await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it('Info requests sent without reading the replies: the master stops answering and drops the connection', async () => {
  const socket = sandbox.path('s');
  // Dropped connections are told why, and destroyed if they do not read it: after 1 s, not 10.
  const masterPid = await startNonReadingSession(socket, { DT_TEST_DROP_FLUSH_TIMEOUT_MS: '1000' });
  const before = anonymousResidentBytes(masterPid);
  const peak = samplePeak(masterPid);
  const requests = Buffer.alloc(HEADER_BYTES * 20_000);
  for (let index = 0; index < 20_000; index++) requests[index * HEADER_BYTES] = FrameType.Info;
  const connections = await Promise.all(Array.from({ length: 10 }, () => rawConnection(socket)));
  // Greeted: the master's hello is waiting in each one (a paused socket still takes its first read).
  await waitUntil(() => connections.every((connection) => connection.readableLength > 0), 'the master to greet the 10 connections');
  const withConnections = openDescriptorCount(masterPid);
  for (const connection of connections) connection.write(requests);
  // Dropped: the master no longer holds their descriptors (it closes a connection that never reads).
  await waitUntil(() => openDescriptorCount(masterPid) <= withConnections - connections.length, 'the master to drop the 10 connections', 30_000);
  const highest = peak();
  console.log(`10 x 20,000 unread Info requests: master RssAnon ${mib(before)} MiB before, peak ${mib(highest)} MiB (was 284 MiB, then 73-82)`);
  // About 10 MiB: each read is handled 256 frames at a time (all 13,000 of a read at once grew it by 26-36 MiB).
  expect(highest - before).toBeLessThan(20 * MiB);
  // What each one was sent: replies up to the limit (and what the kernel held), never 20,000.
  const replies = await Promise.all(connections.map(async (connection) => {
    const peer = new Peer(connection);
    connection.resume();
    await waitUntil(() => peer.closed, 'the dropped connection to reach its end');
    return peer.frames.filter((frame) => frame.type === FrameType.Info).reduce((sum, frame) => sum + frame.payload.length, 0);
  }));
  console.log(`Info reply bytes each connection got: ${replies.map((bytes) => `${(bytes / 1024).toFixed(0)} KiB`).join(', ')}`);
  // 64 KiB unread, what the kernel's socket buffer held, and one reply; all 20,000 would be 6 MB.
  for (const bytes of replies) expect(bytes).toBeLessThan(MiB);
  expect((await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it(`unfinished frames are bounded in total, connections beyond ${MAX_CONNECTIONS} are turned away with a reason, idle ones are closed`, async () => {
  const socket = sandbox.path('s');
  const masterPid = await startNonReadingSession(socket);
  const baselineFds = openDescriptorCount(masterPid);
  const before = anonymousResidentBytes(masterPid);
  const peak = samplePeak(masterPid);
  // Each announces a frame of the largest size and sends all of it but its last byte.
  const unfinished = Buffer.alloc(HEADER_BYTES + MAX_FRAME_BYTES - 1, 0x62);
  unfinished[0] = FrameType.Input;
  unfinished.writeUInt32BE(MAX_FRAME_BYTES, 1);
  const CONNECTIONS = MAX_CONNECTIONS + 44;
  const connections: Peer[] = [];
  for (let index = 0; index < CONNECTIONS; index++) {
    const connection = await rawConnection(socket);
    connection.write(unfinished);
    connections.push(new Peer(connection));
  }
  for (const peer of connections) peer.socket.resume();
  const turnedAway = `the session has ${MAX_CONNECTIONS} connections already`;
  await waitUntil(() => connections.filter((peer) => peer.frames.some((frame) => frame.type === FrameType.Error)).length >= CONNECTIONS - MAX_CONNECTIONS,
    'the connections beyond the limit to be told why');
  const told = connections.flatMap((peer) => peer.frames.filter((frame) => frame.type === FrameType.Error).map((frame) => frame.payload.toString()));
  expect(new Set(told)).toEqual(new Set([turnedAway]));
  const whileHeld = anonymousResidentBytes(masterPid);
  const heldAt = Date.now();
  // Left unfinished: closed once idle, with a reason.
  await waitUntil(() => openDescriptorCount(masterPid) <= baselineFds, 'the master to close the unfinished frames', 60_000);
  const highest = peak();
  console.log(`all closed ${Date.now() - heldAt} ms after the last was turned away`);
  console.log(`${CONNECTIONS} unfinished 256 KiB frames: master RssAnon ${mib(before)} MiB before, ${mib(whileHeld)} MiB while held, ` +
    `peak ${mib(highest)} MiB (was 315 MiB for 1,000)`);
  expect(highest - before).toBeLessThan(64 * MiB);
  for (const peer of connections) peer.close();
  expect((await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
}, 120_000);

it('a connection that says hello and nothing else is closed after the idle timeout; a viewer and a writer are not', async () => {
  const socket = sandbox.path('s');
  const create = sandbox.dt(['-n', socket, process.execPath, `${FIXTURES}/hexecho.mjs`], { env: { ...ENV, HEXECHO_EXIT_ON_EOT: '1' } });
  expect((await create.waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const viewer = sandbox.dt(['-a', socket, '-r', 'none']);
  await waitForViewers(socket, 1);
  const idle = await Peer.connect(socket);
  const writer = await Peer.connect(socket);
  writer.socket.write(Buffer.from([FrameType.Input, 0, 0, 0, 1, 0x77]));
  await viewer.waitFor('HEX 77');
  const startedAt = Date.now();
  await waitUntil(() => idle.closed, 'the idle connection to be closed', 10 * IDLE_TIMEOUT_MS);
  console.log(`the idle connection was closed after ${Date.now() - startedAt} ms`);
  // A second idle connection, opened after the writer and the viewer were last heard, closed in
  // turn: the timeout has passed for them too, and they are still served.
  const later = await Peer.connect(socket);
  await waitUntil(() => later.closed, 'the later idle connection to be closed', 10 * IDLE_TIMEOUT_MS);
  expect(writer.closed, 'the writer').toBe(false);
  expect(viewer.exited, 'the viewer').toBeUndefined();
  writer.socket.write(Buffer.from([FrameType.Input, 0, 0, 0, 1, 0x78]));
  await viewer.waitFor('HEX 78');
  writer.close();
  viewer.write('\x04');
  expect((await viewer.waitForExit()).exitCode).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it('a connection that keeps sending is not idle: it is closed only once it has been quiet for the idle timeout', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startNonReadingSession(socket);
  const talker = await Peer.connect(socket);
  // Three idle timeouts of detach requests (a no-op from a connection that is not a viewer), one
  // every fifth of a timeout: the pace of this client, not a wait for the master.
  const talkUntil = Date.now() + 3 * IDLE_TIMEOUT_MS;
  let lastSentAt = Date.now();
  while (Date.now() < talkUntil) {
    expect(talker.closed, `closed ${Date.now() - lastSentAt} ms after it last sent`).toBe(false);
    lastSentAt = Date.now();
    talker.socket.write(Buffer.from([FrameType.Detach, 0, 0, 0, 0]));
    await new Promise((resolve) => setTimeout(resolve, IDLE_TIMEOUT_MS / 5));
  }
  await waitUntil(() => talker.closed, 'the quiet connection to be closed', 10 * IDLE_TIMEOUT_MS);
  const quietMs = Date.now() - lastSentAt;
  console.log(`closed after ${quietMs} ms of quiet`);
  expect(quietMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS);
  expect((await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it('a connection that has asked for the session\'s description is kept however long it is quiet (a waiter suspended with ^Z)', async () => {
  const socket = sandbox.path('s');
  const masterPid = await startNonReadingSession(socket);
  const asker = await Peer.connect(socket);
  asker.socket.write(Buffer.from([FrameType.Info, 0, 0, 0, 0]));
  await waitUntil(() => asker.frames.some((frame) => frame.type === FrameType.Info), 'an info reply');
  // Connections opened after it and closed as idle: it has been quiet for longer, three times over.
  for (const turn of ['first', 'second', 'third']) {
    const quiet = await Peer.connect(socket);
    await waitUntil(() => quiet.closed, `the ${turn} quiet connection to be closed`, 10 * IDLE_TIMEOUT_MS);
  }
  expect(asker.closed).toBe(false);
  asker.close();
  expect((await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

/** Private memory (Private_Clean + Private_Dirty of smaps_rollup): what the process alone costs the machine. */
function privateBytes(pid: number): number {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(rollup)?.[1]) * 1024;
  return field('Private_Clean') + field('Private_Dirty');
}

/** The master's private memory may stay this much above what it was before a burst, once it is over. */
const AFTER_BURST_MARGIN_BYTES = 3 * MiB;
const BURST_BYTES = 48 * MiB;
const BURST_VIEWERS = 4;

it(`after a burst of ${BURST_BYTES / MiB} MiB through ${BURST_VIEWERS} viewers, the master gives back what the burst took once output stops`, async () => {
  const socket = sandbox.path('s');
  const create = sandbox.dt(['-n', socket, process.execPath, `${FIXTURES}/pattern.mjs`, String(BURST_BYTES)], { env: { PATTERN_STAY: '1' } });
  expect((await create.waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const viewers = Array.from({ length: BURST_VIEWERS }, () => sandbox.dt(['-a', socket, '-r', 'none']));
  const checks = viewers.map((viewer) => checkPattern(viewer));
  await waitForViewers(socket, BURST_VIEWERS);
  await waitForNoEcho(socket);
  const before = privateBytes(masterPid);
  viewers[0]!.write('g');
  await waitUntil(() => checks.every((check) => check.matched >= BURST_BYTES), 'every viewer to receive the whole burst', 120_000)
    .catch((error: Error) => {
      // Which viewers fell short, and what they were shown instead: a cut-off's reason, an echo.
      const each = checks.map((check, index) => `viewer ${index}: ${check.matched} bytes of the pattern, then ${JSON.stringify(check.tail.slice(0, 200))}`);
      throw new Error([error.message, ...each].join('\n'));
    });
  const peak = privateBytes(masterPid);
  let after = peak;
  await waitUntil(() => (after = privateBytes(masterPid)) <= before + AFTER_BURST_MARGIN_BYTES,
    `the master's private memory to come back near ${mib(before)} MiB (it was ${mib(peak)} MiB as the burst ended)`, 30_000)
    .catch((error: Error) => { throw new Error(`${error.message}; last ${mib(after)} MiB`); });
  console.log(`master private memory: ${mib(before)} MiB before, ${mib(peak)} MiB as the burst ended, ${mib(after)} MiB once quiet`);
  viewers[0]!.write('x');
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
}, 180_000);

/** Connections in the churn, and how many are open at once (a script's loop, a few in parallel). */
const CHURN_CONNECTIONS = 2_000;
const CHURN_AT_ONCE = 8;
/** The master's private memory may stay this much above what it was before the churn, once it is over. */
const AFTER_CHURN_MARGIN_BYTES = 3 * MiB;

/** One client of the churn: the kinds take turns. Resolves once its connection has closed. */
async function churnClient(socket: string, turn: number): Promise<void> {
  const peer = new Peer(await rawConnection(socket, false));
  const { socket: connection } = peer;
  const closed = new Promise<void>((resolve) => { if (peer.closed) resolve(); else connection.once('close', () => resolve()); });
  // Looked at as each read comes (after the peer has decoded it): polling would pace the churn.
  const replied = (type: FrameType): Promise<void> => new Promise((resolve) => {
    const check = (): void => {
      if (!peer.frames.some((frame) => frame.type === type) && !peer.closed) return;
      connection.off('data', check).off('close', check);
      resolve();
    };
    connection.on('data', check).on('close', check);
  });
  const hello = encodeHello({ version: PROTOCOL_VERSION, pid: 0, features: HelloFeature.InputWritten });
  connection.resume();
  switch (turn % 5) {
    case 0: // dt -p: input, then asks to be told it is written
      connection.write(Buffer.concat([hello, encodeFrame(FrameType.Input, Buffer.from(`line ${turn}\n`)), encodeFrame(FrameType.InputWritten)]));
      await replied(FrameType.InputWritten);
      connection.end();
      break;
    case 1: // dt -l, dt -w: the session's description
      connection.write(Buffer.concat([hello, encodeFrame(FrameType.Info)]));
      await replied(FrameType.Info);
      connection.end();
      break;
    case 2: // a viewer attaches (its Info reply tells the attach was handled), then detaches
      connection.write(Buffer.concat([hello, encodeAttach({ cols: 80, rows: 24, redraw: RedrawMethod.None, readOnly: false }), encodeFrame(FrameType.Info)]));
      await replied(FrameType.Info);
      connection.end(encodeFrame(FrameType.Detach));
      break;
    case 3: // a client killed as it connected
      connection.destroy();
      break;
    default: // half a hello, then gone
      connection.end(hello.subarray(0, 7));
  }
  await closed;
}

it(`after a churn of ${CHURN_CONNECTIONS} connections (dt -p, dt -l, viewers attaching and detaching, clients that vanish), the master gives back what they took once they stop`, async () => {
  const socket = sandbox.path('s');
  const create = sandbox.dt(['-n', socket, '/bin/sh', '-c', 'stty -echo; exec cat >/dev/null']);
  expect((await create.waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  // Measured once each kind of client has come by: the master has run (and compiled) what serves them.
  for (let turn = 0; turn < 10; turn++) await churnClient(socket, turn);
  const before = privateBytes(masterPid);
  const startedAt = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: CHURN_AT_ONCE }, async () => {
    while (next < CHURN_CONNECTIONS) await churnClient(socket, next++);
  }));
  const churned = privateBytes(masterPid);
  const churnMs = Date.now() - startedAt;
  let after = churned;
  await waitUntil(() => (after = privateBytes(masterPid)) <= before + AFTER_CHURN_MARGIN_BYTES,
    `the master's private memory to come back near ${mib(before)} MiB (it was ${mib(churned)} MiB as the churn ended)`, 15_000)
    .catch((error: Error) => { throw new Error(`${error.message}; last ${mib(after)} MiB`); });
  console.log(`master private memory: ${mib(before)} MiB before, ${mib(churned)} MiB after ${CHURN_CONNECTIONS} connections in ${churnMs} ms, ` +
    `${mib(after)} MiB ${Date.now() - startedAt - churnMs} ms later`);
  expect((await masterInfo(socket)).masterPid, 'the master, still answering').toBe(masterPid);
  expect((await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).code).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
}, 30_000);
