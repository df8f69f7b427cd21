// Churn: viewers attaching and leaving, one after another and many at once, while the program
// writes. The master must end up exactly where it started (descriptors) or close to it
// (memory), and every viewer that stayed must have received every byte from its arrival on.

import net from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  FIXTURES, PatternChecker, Sandbox, checkPattern, hasEnded, masterInfo, openDescriptorCount, patternOffsetOf,
  anonymousResidentBytes, socketCount, waitForNoEcho, waitForViewers, waitUntil,
} from './harness.js';
import {
  FrameDecoder, FrameType, PROTOCOL_VERSION, RedrawMethod, encodeAttach, encodeFrame, encodeHello,
} from '../../src/common/protocol.js';

const PATTERN = `${FIXTURES}/pattern.mjs`;
const KiB = 1024;
const MiB = 1024 * KiB;
/** Failure limits, not delays: a 2-core machine shared with other work can be many times slower than an idle one. */
const STEP_TIMEOUT_MS = 30_000;
const CHURN_TIMEOUT_MS = 240_000;

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => { await sandbox.teardown(); });

type Leaving = 'detach' | 'end' | 'destroy';

/**
 * A viewer speaking the protocol: hello, attach (with the default redraw, as dt -a sends), and
 * a running check of the pattern from wherever in the stream it arrived.
 */
class Viewer {
  checker: PatternChecker | undefined;
  private early: Buffer[] = [];
  private readonly decoder = new FrameDecoder();
  private readonly waiters = new Set<() => void>();
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) if (frame.type === FrameType.Output) this.receive(frame.payload);
      this.notify();
    });
    socket.on('error', () => { /* reported by close */ });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** Resolves as soon as `condition` holds (checked on every event); fails after a timeout. */
  until(condition: () => boolean, what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (received ${this.received} bytes)`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  static async attach(socketPath: string): Promise<Viewer> {
    const socket = net.createConnection(socketPath);
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.write(encodeHello({ version: PROTOCOL_VERSION, pid: 0 }));
    socket.write(encodeAttach({ cols: 80, rows: 24, redraw: RedrawMethod.Unspecified, readOnly: false }));
    return new Viewer(socket);
  }

  /** Bytes of the pattern received in order (0 until the first whole line told where it joined). */
  get received(): number {
    return this.checker?.matched ?? 0;
  }

  leave(how: Leaving): void {
    if (how === 'detach') this.socket.end(encodeFrame(FrameType.Detach));
    else if (how === 'end') this.socket.end();
    else this.socket.destroy();
  }

  private receive(data: Buffer): void {
    if (this.checker) return this.checker.push(data);
    this.early.push(data);
    const joined = Buffer.concat(this.early);
    const start = patternOffsetOf(joined);
    if (start < 0) return;
    this.checker = new PatternChecker(start);
    this.early = [];
    this.checker.push(joined);
  }
}

it('100 attach/detach cycles and 50 concurrent viewers while the program writes: no leak, no byte lost', async () => {
  const socket = sandbox.path('s');
  // A program that writes about 1.6 MB/s for as long as the churn lasts, then stops on `q`. The
  // stayer's terminal is read by this process, a pty read of at most 4 KiB per turn of its loop
  // while it also serves 50 viewers: at 6 MB/s, on a loaded machine, the stayer fell 8 MiB
  // behind them and was cut off (4 runs of 10 beside two busy loops).
  const create = sandbox.dt(['-n', socket, process.execPath, PATTERN, 'forever'],
    { env: { PATTERN_STAY: '1', PATTERN_PAUSE_MS: '10', PATTERN_WRITE_BYTES: String(16 * KiB) } });
  expect((await create.waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const stayer = sandbox.dt(['-a', socket, '-r', 'none']);
  const stayerCheck = checkPattern(stayer);
  await waitForViewers(socket, 1, STEP_TIMEOUT_MS);
  // Quiet: the listening socket and the stayer's connection, nothing else.
  await waitUntil(() => socketCount(masterPid) === 2, 'the master to hold only its listening socket and the stayer', STEP_TIMEOUT_MS);
  const baseline = { fds: openDescriptorCount(masterPid), rss: anonymousResidentBytes(masterPid) };
  await waitForNoEcho(socket);
  stayer.write('g');
  await waitUntil(() => stayerCheck.matched >= 256 * KiB, 'the stream to flow', STEP_TIMEOUT_MS);
  const startedAt = Date.now();

  // 95 sequential cycles by protocol: attach, see output, leave one of three ways.
  const leavings: Leaving[] = ['detach', 'end', 'destroy'];
  for (let cycle = 0; cycle < 95; cycle++) {
    const viewer = await Viewer.attach(socket);
    await viewer.until(() => viewer.received > 0, `viewer ${cycle} to receive output`);
    viewer.leave(leavings[cycle % 3]!);
    await viewer.until(() => viewer.closed, `viewer ${cycle} to be closed`);
    expect(viewer.checker!.ended, `viewer ${cycle} received something out of order`).toBe(false);
  }
  const protocolCyclesDoneAt = Date.now();
  // 5 more by real clients that detach with ^\.
  for (let cycle = 0; cycle < 5; cycle++) {
    const client = sandbox.dt(['-a', socket, '-r', 'none']);
    let shown = 0;
    let last = '';
    client.onOutput((chunk) => {
      shown += chunk.length;
      last = (last + chunk.toString('latin1')).slice(-200);
    });
    await waitUntil(() => shown >= 64 * KiB, `real client ${cycle} to show output`, STEP_TIMEOUT_MS);
    client.write('\x1c');
    await waitUntil(() => last.includes('[detached]'), `real client ${cycle} to detach`, STEP_TIMEOUT_MS)
      .catch((error: Error) => { throw new Error(`${error.message}; its terminal showed last: ${JSON.stringify(last)}`); });
    expect((await client.waitForExit()).exitCode).toBe(0);
  }
  const cyclesDoneAt = Date.now();

  // 50 at once: 40 leave after a while (each after its own amount), 10 stay to the end.
  const crowd = await Promise.all(Array.from({ length: 50 }, () => Viewer.attach(socket)));
  const leavers = crowd.slice(0, 40);
  const stayers = crowd.slice(40);
  await Promise.all(leavers.map(async (viewer, index) => {
    await viewer.until(() => viewer.received >= (index + 1) * 8 * KiB, `leaver ${index} to receive ${(index + 1) * 8} KiB`);
    viewer.leave(leavings[index % 3]!);
    await viewer.until(() => viewer.closed, `leaver ${index} to be closed`);
  }));
  await waitUntil(() => stayers.every((viewer) => viewer.received >= 64 * KiB), 'the crowd\'s stayers to receive 64 KiB', STEP_TIMEOUT_MS);
  stayer.write('q');
  await waitUntil(() => stayerCheck.ended, 'the stream to end', STEP_TIMEOUT_MS);
  const total = stayerCheck.matched;
  console.log(`churn: 95 protocol cycles in ${protocolCyclesDoneAt - startedAt} ms, 5 dt -a cycles in ${cyclesDoneAt - protocolCyclesDoneAt} ms, 50 concurrent viewers in ${Date.now() - cyclesDoneAt} ms; ` +
    `${(total / MiB).toFixed(1)} MiB streamed`);

  expect(stayerCheck.tail).toBe(`END ${total}\n`);
  for (const viewer of leavers) expect(viewer.checker!.ended, 'a leaver received something out of order').toBe(false);
  await waitUntil(() => stayers.every((viewer) => viewer.checker!.ended), 'the crowd\'s stayers to see the end', STEP_TIMEOUT_MS);
  for (const viewer of stayers) {
    // Everything from where it joined up to the end, in order, then the END line.
    expect(viewer.checker!.start + viewer.checker!.matched).toBe(total);
    expect(viewer.checker!.tail).toBe(`END ${total}\n`);
    viewer.leave('detach');
  }

  await waitForViewers(socket, 1, STEP_TIMEOUT_MS);
  await waitUntil(() => openDescriptorCount(masterPid) === baseline.fds,
    `the master's descriptors back to ${baseline.fds} (now ${openDescriptorCount(masterPid)})`);
  const rss = anonymousResidentBytes(masterPid);
  console.log(`master: ${baseline.fds} descriptors before and after; RssAnon ${(baseline.rss / MiB).toFixed(1)} MiB before, ` +
    `${(rss / MiB).toFixed(1)} MiB after`);
  expect(rss - baseline.rss).toBeLessThan(32 * MiB);
  expect((await masterInfo(socket)).clients).toBe(1);
  stayer.write('x'); // the program ends, and with it the session
  expect((await stayer.waitForExit(STEP_TIMEOUT_MS)).exitCode).toBe(0);
  await waitUntil(() => hasEnded(masterPid), 'the master to exit', STEP_TIMEOUT_MS);
}, CHURN_TIMEOUT_MS);
