// Session lifecycle, part 3: dt -p pushing bytes into the program, socket paths given
// relative to the working directory or longer than sun_path allows, and DT_SESSION.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  DT, FIXTURES, Peer, Sandbox, anonymousResidentBytes, blockedWriting, hasEnded, socketCount, waitForChildNamed, waitForNoEcho, waitForViewers,
  waitUntil, type Term,
} from './harness.js';
import {
  FrameDecoder, FrameType, HelloFeature, PROTOCOL_VERSION, RedrawMethod,
  decodeExit, decodeHello, decodeInputWritten, encodeAttach, encodeDataFrames, encodeHello, type Frame,
} from '../../src/common/protocol.js';
import { HEXECHO, expectStatusLine, hexReceived, killTracked, readPidFile, run, runDt, spawnTracked, trackPid } from './lifecycle-helpers.js';

const MiB = 1024 * 1024;
const HEXLOG = [process.execPath, `${FIXTURES}/hexlog.mjs`];

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** Waits until hexecho has reported exactly `expected` since offset `from` (over any number of reads). */
async function expectReceived(term: Term, from: number, expected: Buffer): Promise<void> {
  await term.until(() => hexReceived(term, from).length >= expected.length, `hexecho to receive ${expected.length} bytes`);
  expect(hexReceived(term, from).toString('hex')).toBe(expected.toString('hex'));
}

/** A fixed, reproducible byte sequence covering every byte value. */
function patternBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = 12345;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = (state >>> 16) & 0xff;
  }
  return bytes;
}

it('dt -p copies its standard input into the program byte for byte, NUL and 0xff included', async () => {
  sandbox.leavesMaster('only the bytes the program received are checked');
  const socket = sandbox.path('s');
  // -r none: no ^L redraw is sent, so the program receives exactly what is pushed.
  const term = sandbox.dt(['-c', socket, '-r', 'none', ...HEXECHO]);
  const ready = await term.waitFor('READY');
  await sandbox.trackMaster(socket);
  // Control bytes the terminal would act on in cooked mode, dt's detach key, and bytes
  // that are not UTF-8: the program's terminal is raw, so all must arrive unchanged.
  const payload = Buffer.from([0x00, 0xff, 0x1c, 0x03, 0x04, 0x11, 0x13, 0x1a, 0x7f, 0x0d, 0x0a, 0x80, 0x1b, 0x00, 0x41]);
  const pushed = await runDt(['-p', socket], { cwd: sandbox.dir, input: payload });
  expect(pushed).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await expectReceived(term, ready, payload);
  expect(term.exited).toBeUndefined();
});

it('dt -p delivers more than 64 KiB complete and unaltered', async () => {
  const socket = sandbox.path('s');
  const payload = patternBytes(300 * 1024);
  const term = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, `${FIXTURES}/stdin-digest.mjs`], {
    env: { DIGEST_BYTES: String(payload.length) },
  });
  await term.waitFor('READY');
  await sandbox.trackMaster(socket);
  const pushed = await runDt(['-p', socket], { cwd: sandbox.dir, input: payload });
  expect(pushed).toMatchObject({ code: 0, stderr: '' });
  const digest = createHash('sha256').update(payload).digest('hex');
  await term.waitFor(`GOT ${payload.length} SHA256 ${digest}\r`);
  // The fixture then exits 0, and so does the client.
  expect((await term.waitForExit()).exitCode).toBe(0);
});

it('several dt -p at once, each from a file of 64 KiB: every file reaches the program whole, never mixed with another', async () => {
  const socket = sandbox.path('s');
  const received = sandbox.path('received');
  const created = await runDt(['-n', socket, '/bin/sh', '-c', 'stty raw -echo; exec cat > received'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitForNoEcho(socket);
  const PIECE = 64 * 1024; // one read of a file on dt -p's standard input
  const letters = 'ABCDEFGH';
  const files = [...letters].map((letter) => {
    const file = sandbox.path(`in-${letter}`);
    fs.writeFileSync(file, Buffer.alloc(PIECE, letter));
    return file;
  });
  const pushed = await Promise.all(files.map((file) =>
    run('/bin/sh', ['-c', 'exec "$0" "$1" -p "$2" < "$3"', process.execPath, DT, socket, file], { cwd: sandbox.dir, env: sandbox.env() })));
  for (const result of pushed) expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
  const size = (): number => (fs.existsSync(received) ? fs.statSync(received).size : 0);
  await waitUntil(() => size() >= letters.length * PIECE, `the program to receive ${letters.length * PIECE} bytes (it has ${size()})`);
  const runs = fs.readFileSync(received, 'latin1').match(/(.)\1*/g)!;
  expect(runs.map((part) => `${part[0]}x${part.length}`).sort()).toEqual([...letters].map((letter) => `${letter}x${PIECE}`));
  expect(await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
  await waitUntil(() => hasEnded(masterPid), 'the master to end with its program');
});

it('dt -p into a program that is not reading is held back after 1 MiB + 1 MiB: master memory stays bounded, every byte arrives once it reads', async () => {
  const socket = sandbox.path('s');
  const release = sandbox.path('release');
  const payload = patternBytes(16 * MiB);
  const payloadFile = sandbox.path('payload');
  fs.writeFileSync(payloadFile, payload);
  const term = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, `${FIXTURES}/stdin-digest.mjs`], {
    env: { DIGEST_BYTES: String(payload.length), DIGEST_HOLD_UNTIL: release },
  });
  await term.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  const baseline = anonymousResidentBytes(masterPid);

  // cat feeds dt -p through a pipe; its file position is how far the push has got.
  const pusher = spawnTracked('/bin/sh', ['-c', `cat '${payloadFile}' | '${process.execPath}' '${DT}' -p '${socket}'`], { cwd: sandbox.dir, stdio: 'ignore' });
  const cat = await waitForChildNamed(pusher.child.pid!, 'cat');
  trackPid(cat);
  let peak = baseline;
  const pushed = (): number => {
    peak = Math.max(peak, anonymousResidentBytes(masterPid));
    if (hasEnded(cat)) return payload.length; // cat has read it all and gone
    try {
      return Number(/^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${cat}/fdinfo/3`, 'latin1'))![1]);
    } catch {
      return 0; // cat has not opened the file yet
    }
  };
  // Held back: past the 1 MiB the master queues for the program, the push stops short of the
  // whole payload, with cat waiting to write (the same position over several looks).
  let last = -1;
  let unchangedLooks = 0;
  await waitUntil(() => {
    const now = pushed();
    unchangedLooks = now === last && blockedWriting(cat) ? unchangedLooks + 1 : 0;
    last = now;
    return (now > MiB && unchangedLooks >= 5) || now >= payload.length;
  }, 'the push to stall, or to finish without the program reading', 30_000);
  const held = pushed();
  console.log(`push held after ${(held / MiB).toFixed(1)} of ${payload.length / MiB} MiB; master RssAnon ${(baseline / MiB).toFixed(1)} -> ${(peak / MiB).toFixed(1)} MiB`);
  // 1 MiB queued for the program and 1 MiB held in the connection, plus what the kernel's pipe,
  // socket and pty buffers and one read of each side hold: well under 1 MiB more.
  expect(held, 'bytes dt -p took while the program read nothing').toBeGreaterThanOrEqual(2 * MiB);
  expect(held, 'bytes dt -p took while the program read nothing').toBeLessThan(3 * MiB);
  // What it holds (2 MiB, in queues that grew to 2 MiB each) and the garbage of its intake
  // since the last collection: 6 to 7 MiB. It grew 11 to 15 MiB when no collection came
  // while input was held back, and 45 MiB when it took all 16 MiB.
  expect(peak - baseline, 'master memory growth').toBeLessThan(10 * MiB);

  fs.writeFileSync(release, '');
  const digest = createHash('sha256').update(payload).digest('hex');
  await term.waitFor(`GOT ${payload.length} SHA256 ${digest}\r`, { timeoutMs: 60_000 });
  expect(await pusher.closed(), 'dt -p status').toBe(0);
  expect((await term.waitForExit()).exitCode).toBe(0);
});

it('a viewer that pastes more than a busy program takes and then goes away stops being counted, and its input still arrives', async () => {
  const socket = sandbox.path('s');
  const release = sandbox.path('release');
  const payload = patternBytes(1.5 * MiB);
  const term = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, `${FIXTURES}/stdin-digest.mjs`], {
    env: { DIGEST_BYTES: String(payload.length), DIGEST_HOLD_UNTIL: release },
  });
  await term.waitFor('READY');
  await sandbox.trackMaster(socket);
  const peer = await Peer.connect(socket);
  peer.socket.write(encodeAttach({ cols: 80, rows: 24, redraw: RedrawMethod.None, readOnly: false }));
  for (const frame of encodeDataFrames(FrameType.Input, payload)) peer.socket.write(frame);
  await waitForViewers(socket, 2);
  // Everything is on its way once the peer's socket has nothing left to send.
  await waitUntil(() => peer.socket.writableLength === 0, 'the peer to hand all its input to the master');
  peer.close();
  await waitForViewers(socket, 1);

  fs.writeFileSync(release, '');
  const digest = createHash('sha256').update(payload).digest('hex');
  await term.waitFor(`GOT ${payload.length} SHA256 ${digest}\r`, { timeoutMs: 30_000 });
  expect((await term.waitForExit()).exitCode).toBe(0);
});

it('dt -p whose input comes only later than the master closes a connection that says nothing still delivers it', async () => {
  // The master closes a quiet connection that is neither viewing nor writing after 60 s; shortened here.
  const env = { ...sandbox.env(), DT_TEST_IDLE_CONNECTION_TIMEOUT_MS: '1000' };
  const socket = sandbox.path('s');
  const got = sandbox.path('got');
  const program = ['/bin/sh', '-c', 'stty -echo; read line; echo "$line" > "$0"; exit 0', got];
  expect(await runDt(['-n', socket, ...program], { cwd: sandbox.dir, env })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => socketCount(masterPid) === 1, 'the master to have no connection');
  // As `tail -f commands | dt -p s`: standard input open, nothing on it yet.
  const writer = spawnTracked(process.execPath, [DT, '-p', socket], { cwd: sandbox.dir, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  await waitUntil(() => socketCount(masterPid) === 2, 'dt -p to connect');
  // A connection that said hello after the writer did, and nothing since, is closed: the writer has been quiet longer.
  const quiet = await Peer.connect(socket);
  await waitUntil(() => quiet.closed, 'the master to close the quiet connection', 20_000);
  writer.child.stdin!.end('late\n');
  expect(await writer.closed(), writer.stderr).toBe(0);
  expect(writer.stderr).toBe('');
  await waitUntil(() => fs.existsSync(got) && fs.readFileSync(got, 'utf8') === 'late\n', 'the program to receive the late line');
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
});

/** hexlog's log (HEXLOG_SIGNALS=1): its reads as one hex string, the signals it handled marked where they came. */
function readHexlog(log: string): string {
  return fs.readFileSync(log, 'latin1').split('\n').filter(Boolean).map((line) => (line.startsWith('SIG') ? `<${line}>` : line)).join('');
}

/** How far a process has read its standard input, a file: its position there. */
function stdinPosition(pid: number): number {
  try {
    return Number(/^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/0`, 'latin1'))![1]);
  } catch {
    return -1; // it has ended
  }
}

it('dt -p returns once its input is in the program\'s terminal, even when a redraw held it: a dt -k after it comes after it', async () => {
  const socket = sandbox.path('s');
  const log = sandbox.path('log');
  // hexlog does not answer the redraw's size changes: input is held for their timeouts, about 1 s.
  expect(await runDt(['-n', socket, ...HEXLOG, log], { cwd: sandbox.dir, env: sandbox.env({ HEXLOG_SIGNALS: '1' }) })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  await waitUntil(() => fs.existsSync(log), 'hexlog to be in raw mode');
  // dt -p of a terminal, connected before the attach: a line typed there and ^D push at once.
  const pusher = sandbox.dt(['-p', socket]);
  await waitUntil(() => socketCount(masterPid) === 2, 'dt -p to connect');
  const client = sandbox.dt(['-a', socket]);
  await waitUntil(() => readHexlog(log).includes('<SIGWINCH>'), 'the attach\'s redraw to change the window size');
  pusher.write('save\r\x04');
  expect((await pusher.waitForExit()).exitCode).toBe(0);
  expect(await runDt(['-k', socket, 'INT'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => readHexlog(log).includes('<SIGINT>'), 'the program to handle SIGINT');
  expect(readHexlog(log).replace(/<SIGWINCH>/g, '')).toBe(`${Buffer.from('save\n').toString('hex')}<SIGINT>`);

  expect(await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
  expect((await client.waitForExit()).exitCode).toBe(128 + 9);
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
});

it.each([
  ['the program is killed', 'program'],
  ['the session is terminated (SIGTERM to its master)', 'master'],
] as const)('dt -p whose input the program has not taken when %s exits 1: the session ended before all input was sent', async (_what, ended) => {
  const socket = sandbox.path('s');
  // More than the master queues for the program (1 MiB): the rest is held in its connection.
  const payloadFile = sandbox.path('payload');
  fs.writeFileSync(payloadFile, patternBytes(1.5 * MiB));
  const program = [process.execPath, `${FIXTURES}/stdin-digest.mjs`];
  const env = sandbox.env({ DIGEST_BYTES: String(2 * MiB), DIGEST_HOLD_UNTIL: sandbox.path('never') }); // reads nothing
  expect(await runDt(['-n', socket, '-r', 'none', ...program], { cwd: sandbox.dir, env })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  // Every byte value is pushed: in the cooked terminal the program starts in, a ^C among them
  // would end it (seen on a loaded machine, where it set raw mode after the push had begun).
  await waitForNoEcho(socket);
  const pusher = spawnTracked(process.execPath, [DT, '-p', socket], { cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() }, stdio: [fs.openSync(payloadFile, 'r'), 'ignore', 'pipe'] });
  // All of it read, and so sent (nothing stops the master from taking 1.5 MiB): the program has taken none.
  await waitUntil(() => pusher.status !== undefined || stdinPosition(pusher.child.pid!) === 1.5 * MiB, 'dt -p to read all its input');
  if (ended === 'program') {
    expect(await runDt(['-k', socket, 'KILL'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  } else {
    process.kill(masterPid, 'SIGTERM');
  }
  expect({ status: await pusher.closed(), stderr: pusher.stderr }).toEqual({ status: 1, stderr: `dt: ${socket}: the session ended before all input was sent\n` });
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
});

it.each([
  ['offers InputWritten in its hello (dt -p) is told how much was written, before the status', HelloFeature.InputWritten, [FrameType.InputWritten, FrameType.Exit]],
  ['does not (an attaching client, an older dt -p) gets the status alone', 0, [FrameType.Exit]],
] as const)('a client whose last input ends the program before it asks whether it was written: one that %s', async (_what, features, expected) => {
  // dt -p of a command that ends the program: its input and its question are two writes, and
  // the program may have read the one and ended before the master reads the other.
  const socket = sandbox.path('s');
  const program = ['/bin/sh', '-c', 'stty -echo; read line; exit 3'];
  expect(await runDt(['-n', socket, '-r', 'none', ...program], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const peer = await Peer.connect(socket, false);
  peer.socket.write(encodeHello({ version: PROTOCOL_VERSION, pid: 0, features }));
  await waitUntil(() => peer.frames.length > 0, 'the master\'s hello');
  expect(decodeHello(peer.frames[0]!.payload).features & HelloFeature.InputWritten).toBe(HelloFeature.InputWritten);
  for (const frame of encodeDataFrames(FrameType.Input, Buffer.from('stop\n'))) peer.socket.write(frame);
  await waitUntil(() => peer.closed, 'the master to close the connection once the program ended');
  const told = peer.frames.slice(1);
  expect(told.map((frame) => frame.type)).toEqual(expected);
  if (features !== 0) expect(decodeInputWritten(told[0]!.payload)).toBe(5);
  expect(decodeExit(told.at(-1)!.payload)).toEqual({ code: 3, signal: 0 });
  await waitUntil(() => hasEnded(masterPid), 'the session to end');
});

it('dt -p to a master that does not confirm input (an older dt) returns 0 once the master has taken it, as it did', async () => {
  // The older master: its hello offers no features, and it closes the connection at the client's end.
  const socket = sandbox.path('old');
  const received: Frame[] = [];
  const server = net.createServer((connection) => {
    const decoder = new FrameDecoder();
    connection.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk)));
    connection.on('end', () => connection.end());
    connection.write(encodeHello({ version: PROTOCOL_VERSION, pid: process.pid }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    expect(await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'stop\n' })).toMatchObject({ code: 0, stderr: '' });
    // No InputWritten frame: such a master would refuse it and drop the connection.
    expect(received.map((frame) => frame.type).filter((type) => type !== FrameType.Info)).toEqual([FrameType.Hello, FrameType.Input]);
    expect(received.find((frame) => frame.type === FrameType.Input)?.payload.toString('latin1')).toBe('stop\n');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/**
 * The whole life of a session addressed by `socketArg` (as typed, from `cwd`): -n creates it,
 * -a attaches, -p pushes, the program ends and the socket is gone. `socketFile` is where the
 * socket must really be; the program records the DT_SESSION it was given.
 */
async function fullLifecycle(socketArg: string, socketFile: string, cwd: string): Promise<void> {
  const sessionFile = path.join(sandbox.dir, 'dt_session');
  const pidFile = path.join(sandbox.dir, 'program.pid');
  const program = ['sh', '-c', 'echo $$ > "$0"; printf "%s\\n" "$DT_SESSION" > "$1"; exec "$2" "$3"', pidFile, sessionFile, ...HEXECHO];
  const created = await runDt(['-n', socketArg, ...program], { cwd, env: { HEXECHO_EXIT_ON_EOT: '1' } });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  expect(fs.statSync(socketFile).isSocket()).toBe(true);
  await readPidFile(pidFile);
  // Found by its title, `dt master <absolute socket path>`, even when that path is long.
  const masters = sandbox.findMasters();
  expect(masters).toHaveLength(1);
  sandbox.addMaster(masters[0]!);
  await waitUntil(() => fs.existsSync(sessionFile) && fs.readFileSync(sessionFile, 'utf8').endsWith('\n'), 'the program to record DT_SESSION');
  expect(fs.readFileSync(sessionFile, 'utf8')).toBe(`${socketFile}\n`);

  const term = sandbox.dt(['-a', socketArg, '-r', 'none'], { cwd });
  const typed = term.text.length;
  term.write('t');
  await expectReceived(term, typed, Buffer.from('t'));

  const pushedAt = term.text.length;
  const pushed = await runDt(['-p', socketArg], { cwd, input: 'pq' });
  expect(pushed).toMatchObject({ code: 0, stderr: '' });
  await expectReceived(term, pushedAt, Buffer.from('pq'));

  // ^D ends the fixture: the session ends and takes its socket with it.
  const endAt = term.text.length;
  const ended = await runDt(['-p', socketArg], { cwd, input: '\x04' });
  expect(ended.code).toBe(0);
  expect((await term.waitForExit()).exitCode).toBe(0);
  expectStatusLine(term.text.slice(endAt), '[program exited with status 0]');
  await waitUntil(() => !fs.existsSync(socketFile), `the socket ${socketFile} to be removed`);
}

it('a socket path relative to the working directory works for -n, -a and -p, and DT_SESSION is absolute', async () => {
  // With a '/', as in dtach: a bare word would name a session in the session directory.
  await fullLifecycle('./s', sandbox.path('s'), sandbox.dir);
});

it('a socket path longer than sun_path (107 bytes) works for -n, -a and -p', async () => {
  const directory = path.join(sandbox.dir, 'a'.repeat(60), 'b'.repeat(60));
  fs.mkdirSync(directory, { recursive: true });
  const socket = path.join(directory, 'session-socket');
  expect(Buffer.byteLength(socket)).toBeGreaterThan(107);
  await fullLifecycle(socket, socket, sandbox.dir);
});

it('dt -c gives the program DT_SESSION, the absolute path of a socket named relatively', async () => {
  sandbox.leavesMaster('only the program environment is checked');
  const term = sandbox.dt(['-c', './rel', 'sh', '-c', 'printf "SESSION=[%s]" "$DT_SESSION"; exec cat']);
  await term.waitFor(`SESSION=[${sandbox.path('rel')}]`);
  await sandbox.trackMaster(sandbox.path('rel'));
});
