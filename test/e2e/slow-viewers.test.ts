// The slow-viewer policy of src/relay.ts, end to end: a viewer that stops reading must neither
// slow down the others nor grow the master's memory without bound, nor block the program for
// ever; it is cut off with a message once it has received what was queued for it.

import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  FIXTURES, PatternChecker, Peer, Sandbox, hasEnded, attachThenReport, checkPattern, childPids, freshTerminalModes, masterInfo, processState,
  anonymousResidentBytes, statusLinePattern, waitForNoEcho, waitForViewers, waitUntil, type Term,
} from './harness.js';
import { runDt } from './lifecycle-helpers.js';
import { FrameType, RedrawMethod, encodeAttach, encodeFrame } from '../../src/common/protocol.js';
import { MAX_VIEWER_BACKLOG_BYTES, STALLED_VIEWER_TIMEOUT_MS } from '../../src/master/relay.js';

const PATTERN = `${FIXTURES}/pattern.mjs`;
const MiB = 1024 * 1024;
const FELL_BEHIND = `[dt: this terminal fell more than ${MAX_VIEWER_BACKLOG_BYTES / MiB} MiB behind the program]`;
/** The stall timeout of the test that waits for it, shortened: the product's would be sat out. */
const SHORT_STALL_MS = 2_000;
const READ_NOTHING = `[dt: this terminal read nothing for ${SHORT_STALL_MS / 1000} s while the program waited]`;
/**
 * For the tests that check a cut-off viewer gets its whole backlog once continued: the master
 * keeps it a minute instead of CUT_OFF_FLUSH_MS. On a loaded machine the normal viewer's 32 MiB
 * took up to 13 s, and the stopped one, continued after that, got 3 to 7 MiB of its 8.
 */
const KEEP_BACKLOG = { DT_TEST_CUT_OFF_FLUSH_MS: '60000' };
/** For the test that needs the time a cut-off viewer's backlog is kept to pass: 2 s instead of 10. */
const SHORT_FLUSH_MS = 2_000;

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => { await sandbox.teardown(); });

/** A detached session running the pattern fixture; resolves with the master's pid once a typed `g` starts the stream. */
async function startPatternSession(socket: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const create = sandbox.dt(['-n', socket, process.execPath, PATTERN, ...args], { env });
  expect((await create.waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  await waitForNoEcho(socket);
  return masterPid;
}

/** dt -a in a shell that reports dt's status and the terminal's modes (attachThenReport), checked from the start. */
function attachWithReport(socket: string, size?: { cols: number; rows: number }): { term: Term; checker: PatternChecker } {
  const term = attachThenReport(sandbox, socket, size);
  return { term, checker: checkPattern(term) };
}

/** The pid of the dt client a shell runs (see attachWithReport). */
async function clientPidOf(shell: Term): Promise<number> {
  let pid = 0;
  await waitUntil(() => (pid = childPids(shell.pid)[0] ?? 0) > 0, 'the shell to start dt');
  return pid;
}

/** What a client that was SIGSTOPped, cut off, then continued shows: a prefix, a status line, 1, restored modes. */
async function expectCutOff(viewer: { term: Term; checker: PatternChecker }, reason: string, modesBefore: string): Promise<void> {
  await waitUntil(() => /MODES \S+\r\n/.test(viewer.checker.tail), 'the continued client to finish and report', 20_000);
  const tail = viewer.checker.tail;
  // Right after the prefix: the mode resets, then the status line.
  expect(tail, 'what followed the in-order prefix').toMatch(new RegExp(`^[^\\n]*${statusLinePattern(reason).source}`));
  expect(tail, "dt's exit status").toMatch(/STATUS 1\r\nMODES /);
  expect(tail.slice(tail.indexOf('MODES ') + 6).trim(), 'the terminal modes after dt left').toBe(modesBefore);
}

/**
 * A session that will stream `total` bytes of the pattern (once `g` is typed) to a normal
 * viewer and to a viewer whose client is SIGSTOPped (both dt -a in a reporting shell).
 */
async function besideStoppedViewer(total: number, env?: NodeJS.ProcessEnv) {
  const socket = sandbox.path('s');
  const masterPid = await startPatternSession(socket, [String(total)], env);
  const modesBefore = await freshTerminalModes(sandbox);
  const { term: normal, checker: normalCheck } = attachWithReport(socket);
  const stopped = attachWithReport(socket);
  await waitForViewers(socket, 2);
  const stoppedPid = await clientPidOf(stopped.term);
  await clientPidOf(normal); // its dt reads the terminal: typing now reaches the program
  sandbox.stopProcess(stoppedPid);
  await waitUntil(() => processState(stoppedPid) === 'T', 'the client to be stopped');
  return { socket, masterPid, modesBefore, normal, normalCheck, stopped, stoppedPid };
}

it('a stopped viewer beside a normal one: the normal one gets every byte, master memory stays bounded, the stopped one is cut off after an in-order prefix', async () => {
  sandbox.leavesMaster('the program stays after its stream, so that the flush of the cut-off viewer does not race its exit');
  const TOTAL = 32 * MiB;
  // The program stays after its stream, so that the cut-off viewer's flush does not race its exit.
  const { socket, masterPid, modesBefore, normal, normalCheck, stopped, stoppedPid } =
    await besideStoppedViewer(TOTAL, { PATTERN_STAY: '1', ...KEEP_BACKLOG });
  const baselineRss = anonymousResidentBytes(masterPid);
  let peakRss = baselineRss;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, anonymousResidentBytes(masterPid)); }, 10);
  const startedAt = Date.now();
  try {
    normal.write('g');
    // The stopped viewer is cut off once it is 8 MiB behind: the master counts one viewer.
    await waitForViewers(socket, 1, 20_000);
    await waitUntil(() => normalCheck.ended, 'the normal viewer to receive the whole stream', 30_000);
  } finally {
    clearInterval(sampler);
  }
  console.log(`${TOTAL / MiB} MiB to the normal viewer in ${Date.now() - startedAt} ms; master RssAnon ` +
    `${(baselineRss / MiB).toFixed(1)} MiB before, peak ${(peakRss / MiB).toFixed(1)} MiB`);
  expect(normalCheck.matched).toBe(TOTAL);
  expect(normalCheck.tail).toBe(`END ${TOTAL}\n`);
  // Bounded by about one viewer's backlog, plus garbage the collector has not reclaimed yet.
  expect(peakRss).toBeLessThan(150 * MiB);
  expect(peakRss - baselineRss).toBeLessThan(MAX_VIEWER_BACKLOG_BYTES + 32 * MiB);

  process.kill(stoppedPid, 'SIGCONT');
  await expectCutOff(stopped, FELL_BEHIND, modesBefore);
  // It got what was queued for it when it was cut off: its 8 MiB backlog and what the kernel
  // buffers held (well under 1 MiB), in order, and nothing after.
  console.log(`the stopped viewer received ${stopped.checker.matched} bytes before the cut-off`);
  expect(stopped.checker.matched).toBeGreaterThanOrEqual(MAX_VIEWER_BACKLOG_BYTES);
  expect(stopped.checker.matched).toBeLessThan(MAX_VIEWER_BACKLOG_BYTES + MiB);
  // The normal viewer is still attached and the session still running.
  expect((await masterInfo(socket)).clients).toBe(1);
});

// dt bug: when the program exits, the master's finish() calls socket.end(exit frame) on every
// connection, including one already ended by a cut-off; Node treats that as a write after end
// and destroys the socket, dropping the backlog the cut-off promised to deliver.
it('a viewer cut off for falling behind still gets its backlog and the reason when the program then exits', async () => {
  const TOTAL = 32 * MiB;
  const { normal, normalCheck, stopped, stoppedPid, modesBefore } = await besideStoppedViewer(TOTAL, KEEP_BACKLOG);
  normal.write('g');
  await waitUntil(() => /STATUS \d+\r\n/.test(normalCheck.tail), 'the normal viewer to see the program exit', 30_000);
  expect(normalCheck.matched).toBe(TOTAL);
  expect(normalCheck.tail).toMatch(new RegExp(`^END ${TOTAL}\\n[^\\n]*${statusLinePattern('[program exited with status 0]').source}`));
  expect(normalCheck.tail).toMatch(/STATUS 0\r\n/);

  process.kill(stoppedPid, 'SIGCONT');
  await expectCutOff(stopped, FELL_BEHIND, modesBefore);
  expect(stopped.checker.matched).toBeGreaterThanOrEqual(MAX_VIEWER_BACKLOG_BYTES);
});

it('a stopped viewer alone does not block the program for ever: it is cut off after the stall timeout', async () => {
  sandbox.leavesMaster('the program stays after its stream, so that the flush of the cut-off viewer does not race its exit');
  const TOTAL = 4 * MiB; // far more than the high-water mark and the kernel buffers hold
  const socket = sandbox.path('s');
  const done = sandbox.path('done');
  // The backlog is kept as long as by default: the client is continued only once the stream is done.
  await startPatternSession(socket, [String(TOTAL)], {
    PATTERN_STAY: '1', PATTERN_DONE_FILE: done,
    DT_TEST_STALLED_VIEWER_TIMEOUT_MS: String(SHORT_STALL_MS), DT_TEST_CUT_OFF_FLUSH_MS: String(STALLED_VIEWER_TIMEOUT_MS),
  });
  const modesBefore = await freshTerminalModes(sandbox);
  const stopped = attachWithReport(socket);
  await waitForViewers(socket, 1);
  const stoppedPid = await clientPidOf(stopped.term);
  sandbox.stopProcess(stoppedPid);
  await waitUntil(() => processState(stoppedPid) === 'T', 'the client to be stopped');

  // Start the stream from a connection that types without attaching.
  const typist = await Peer.connect(socket);
  const startedAt = Date.now();
  typist.socket.write(encodeFrame(FrameType.Input, Buffer.from('g')));
  await waitUntil(() => fs.existsSync(done), 'the program to finish its stream', SHORT_STALL_MS + 10_000);
  const elapsed = Date.now() - startedAt;
  console.log(`the program finished ${elapsed} ms after it started, the only viewer being stopped`);
  // It was held back while the viewer could still catch up, then let go.
  expect(elapsed).toBeGreaterThanOrEqual(SHORT_STALL_MS);
  expect((await masterInfo(socket)).clients).toBe(0);
  typist.close();

  process.kill(stoppedPid, 'SIGCONT');
  await expectCutOff(stopped, READ_NOTHING, modesBefore);
  expect(stopped.checker.matched).toBeGreaterThan(0);
  expect(stopped.checker.matched).toBeLessThan(TOTAL);
});

it('a viewer stopped past the time its backlog is kept after its cut-off, while another reads a flood, is told why it was cut off and the master lives on', async () => {
  const TOTAL = 32 * MiB;
  const { socket, masterPid, modesBefore, normal, normalCheck, stopped, stoppedPid } =
    await besideStoppedViewer(TOTAL, { PATTERN_STAY: '1', DT_TEST_CUT_OFF_FLUSH_MS: String(SHORT_FLUSH_MS) });
  normal.write('g');
  await waitForViewers(socket, 1, 20_000);
  const cutOffSeenAt = Date.now();
  await waitUntil(() => normalCheck.ended, 'the normal viewer to receive the whole stream', 30_000);
  expect(normalCheck.matched).toBe(TOTAL);
  // Continued only once the master has stopped keeping its backlog: the time must pass (nothing
  // outside the master shows the drop), from when the cut-off was seen, after it began.
  await waitUntil(() => Date.now() > cutOffSeenAt + SHORT_FLUSH_MS + 1_000, 'the cut-off viewer\'s backlog to be dropped', SHORT_FLUSH_MS + 10_000);
  process.kill(stoppedPid, 'SIGCONT');
  await expectCutOff(stopped, FELL_BEHIND, modesBefore);
  console.log(`the viewer continued after the flush time received ${stopped.checker.matched} bytes, then why it was cut off`);
  // An in-order prefix: what its socket and the kernel held, not the backlog that was dropped.
  expect(stopped.checker.matched).toBeGreaterThan(0);
  expect(stopped.checker.matched).toBeLessThan(MAX_VIEWER_BACKLOG_BYTES);
  expect(stopped.checker.tail).not.toContain('lost the session');
  // The master lives on, serving the normal viewer; the program ends on x.
  expect((await masterInfo(socket)).masterPid).toBe(masterPid);
  normal.write('x');
  await waitUntil(() => /STATUS 0\r\n/.test(normalCheck.tail), 'the normal viewer to see the program exit');
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
}, 60_000);

/** The sizes the program was given, as `stty size` printed them in it, one `<rows> <cols>` a line. */
function sizesSeen(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '') : [];
}

// A client continued after its cut-off (a laptop that woke up) asks to attach again before it
// reads that it was cut off: the master gave the program that client's window size, until its
// connection closed, and the other viewers' screens were drawn for a window that was gone.
it.each([
  ['while its backlog is still kept for it', KEEP_BACKLOG],
  ['once its backlog was dropped and the reason sent', { DT_TEST_CUT_OFF_FLUSH_MS: '1' }],
])('a viewer cut off and then continued does not size the program (%s)', async (_when, env) => {
  const socket = sandbox.path('s');
  const sizes = sandbox.path('sizes');
  const masterPid = await startPatternSession(socket, ['forever'], { PATTERN_STAY: '1', PATTERN_SIZE_FILE: sizes, ...env });
  const modesBefore = await freshTerminalModes(sandbox);
  const stopped = attachWithReport(socket, { cols: 100, rows: 30 });
  await waitForViewers(socket, 1);
  const { term: normal, checker: normalCheck } = attachWithReport(socket);
  await waitForViewers(socket, 2);
  // The normal viewer attached last: the program has its size.
  await waitUntil(() => sizesSeen(sizes).at(-1) === '24 80', `the program to get the normal viewer's size (it saw ${sizesSeen(sizes).join(', ')})`);
  const stoppedPid = await clientPidOf(stopped.term);
  await clientPidOf(normal);
  sandbox.stopProcess(stoppedPid);
  await waitUntil(() => processState(stoppedPid) === 'T', 'the client to be stopped');
  const startedAt = Date.now();
  normal.write('g');
  await waitForViewers(socket, 1, 20_000);
  normal.write('q');
  await waitUntil(() => normalCheck.ended, 'the normal viewer to receive the whole stream', 20_000);
  const sizesBefore = sizesSeen(sizes).length;

  process.kill(stoppedPid, 'SIGCONT'); // it sends its attach request again at once
  await expectCutOff(stopped, FELL_BEHIND, modesBefore);
  // The normal viewer's window changes: the program's next size is that one, and none came before it.
  normal.resize(90, 25);
  await waitUntil(() => sizesSeen(sizes).includes('25 90'), `the program to see the normal viewer resize (it saw ${sizesSeen(sizes).join(', ')})`);
  console.log(`cut off and continued in ${Date.now() - startedAt} ms`);
  expect(sizesSeen(sizes).slice(sizesBefore), 'the sizes the program got once the cut-off viewer was continued').toEqual(['25 90']);

  normal.write('x');
  await waitUntil(() => /STATUS 0\r\n/.test(normalCheck.tail), 'the normal viewer to see the program exit');
  await waitUntil(() => hasEnded(masterPid), 'the master to exit');
});

/** A viewer over the protocol, attached at `size`; its hello was answered. */
async function attachPeer(socket: string, size: { cols: number; rows: number }): Promise<Peer> {
  const peer = await Peer.connect(socket);
  peer.socket.write(encodeAttach({ ...size, redraw: RedrawMethod.None, readOnly: false }));
  return peer;
}

/** The bytes the pattern program has read (PATTERN_INPUT_FILE). */
function inputRead(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
}

/**
 * A session streaming 16 MiB of the pattern to a viewer that reads (80x24) and to one attached
 * after it that reads nothing, as a stopped client does (100x30, so the program has its size),
 * until that one is cut off for falling behind. Both are protocol peers: what the cut-off one
 * sends after its cut-off is exactly what the test says. The program stays, and records the
 * sizes it is given and the bytes it reads.
 */
async function withCutOffViewer({ env = {}, typedBefore }: { env?: NodeJS.ProcessEnv; typedBefore?: Buffer } = {}) {
  const socket = sandbox.path('s');
  const sizes = sandbox.path('sizes');
  const input = sandbox.path('input');
  const masterPid = await startPatternSession(socket, [String(16 * MiB)],
    { PATTERN_STAY: '1', PATTERN_SIZE_FILE: sizes, PATTERN_INPUT_FILE: input, ...env });
  const reader = await attachPeer(socket, { cols: 80, rows: 24 });
  await waitForViewers(socket, 1);
  const stalled = await attachPeer(socket, { cols: 100, rows: 30 });
  stalled.socket.pause();
  await waitForViewers(socket, 2);
  // What the viewer about to be cut off typed before it stopped reading, once the program has read it.
  if (typedBefore) {
    stalled.socket.write(encodeFrame(FrameType.Input, typedBefore));
    await waitUntil(() => inputRead(input) === typedBefore.toString('latin1'), `the program to read ${JSON.stringify(typedBefore.toString('latin1'))}`);
  }
  await waitUntil(() => sizesSeen(sizes).at(-1) === '30 100', `the program to get the last viewer's size (it saw ${sizesSeen(sizes).join(', ')})`);
  const sizesBefore = sizesSeen(sizes).length;
  const startedAt = Date.now();
  reader.socket.write(encodeFrame(FrameType.Input, Buffer.from('g')));
  await waitForViewers(socket, 1);
  console.log(`a viewer reading nothing was cut off ${Date.now() - startedAt} ms after the stream started`);
  /** Ends the session: the program exits on x, and the master with it (at once: the viewer that reads nothing is gone). */
  const end = async (): Promise<void> => {
    stalled.close();
    reader.socket.write(encodeFrame(FrameType.Input, Buffer.from('x')));
    await waitUntil(() => hasEnded(masterPid), 'the master to exit');
    reader.close();
  };
  return { socket, sizes, sizesBefore, input, reader, stalled, end };
}

// A laptop that woke up: its client, cut off while it slept, sends what its user types at the
// stale screen before it reads why it was cut off. The program got those keys.
it('keys sent by a viewer after it was cut off do not reach the program; a dt -p after it is not affected', async () => {
  const { socket, input, stalled, end } = await withCutOffViewer();
  stalled.socket.end(encodeFrame(FrameType.Input, Buffer.from('A')));
  stalled.socket.resume();
  await waitUntil(() => stalled.closed, 'the cut-off viewer\'s connection to close');
  // Sent after the master read the cut-off viewer's key: it reaches the program after that key would have.
  const push = await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'B' });
  expect(push).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => inputRead(input).includes('B'), `the program to read dt -p's input (it read ${JSON.stringify(inputRead(input))})`);
  expect(inputRead(input)).toBe('gB');
  await end();
});

// A viewer cut off in the middle of a bracketed paste (its laptop slept while a long paste
// went out) never sends the paste's end, and its keys are dropped from the cut-off on: the
// program took every key the other viewers typed as pasted text until that connection closed,
// all night for a stopped client. The end is sent for it as it is cut off.
it('a viewer cut off in the middle of a bracketed paste has the paste ended for the program at once', async () => {
  const pasteStart = Buffer.from('\x1b[200~pasted', 'latin1');
  const { socket, input, stalled, end } = await withCutOffViewer({ env: { PATTERN_BRACKETED_PASTE: '1' }, typedBefore: pasteStart });
  expect(stalled.closed, 'the cut-off viewer\'s connection, which it has not read').toBe(false);
  const push = await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'B' });
  expect(push).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => inputRead(input).endsWith('B'), `the program to read dt -p's input (it read ${JSON.stringify(inputRead(input))})`);
  expect(inputRead(input)).toBe('\x1b[200~pastedg\x1b[201~B');
  await end();
});

// The cut-off viewer's connection stays open until its client reads why (all night, for a
// client stopped with its laptop): the program kept that viewer's size all that time, and
// drew for a window that was gone on the screen of the viewer still attached.
it('a viewer cut off while the program has its window size hands it on at once to the viewer still attached', async () => {
  const { sizes, sizesBefore, stalled, end } = await withCutOffViewer();
  await waitUntil(() => sizesSeen(sizes).at(-1) === '24 80', `the program to get the remaining viewer's size (it saw ${sizesSeen(sizes).join(', ')})`);
  expect(stalled.closed, 'the cut-off viewer\'s connection, which it has not read').toBe(false);
  expect(sizesSeen(sizes).slice(sizesBefore), 'the sizes the program got since the cut-off').toEqual(['24 80']);
  await end();
});

// ^Z on a client cut off before it read why sends Detach, and fg attaches again: the Detach
// undid the cut-off, so that the client was never told why (its connection stayed open, a
// viewer of nothing), and its attach was taken as a new viewer's.
it('a viewer cut off that then detaches and attaches again (^Z, fg) stays cut off: it is told why, and sizes nothing', async () => {
  const { socket, sizes, sizesBefore, stalled, end } = await withCutOffViewer();
  await waitUntil(() => sizesSeen(sizes).at(-1) === '24 80', `the program to get the remaining viewer's size (it saw ${sizesSeen(sizes).join(', ')})`);
  stalled.socket.write(Buffer.concat([encodeFrame(FrameType.Detach), encodeAttach({ cols: 100, rows: 30, redraw: RedrawMethod.None, readOnly: false })]));
  stalled.socket.resume();
  await waitUntil(() => stalled.closed, `the cut-off viewer to be told why and closed (its last frame: ${stalled.frames.at(-1)?.type})`);
  const lastFrame = stalled.frames.at(-1);
  expect(lastFrame?.type).toBe(FrameType.Error);
  expect(`[dt: ${lastFrame?.payload.toString()}]`).toBe(FELL_BEHIND);
  expect((await masterInfo(socket)).clients, 'viewers once it attached again').toBe(1);
  expect(sizesSeen(sizes).slice(sizesBefore), 'the sizes the program got since the cut-off').toEqual(['24 80']);
  await end();
});
