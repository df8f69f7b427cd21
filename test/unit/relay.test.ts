// The relay's fan-out over real descriptors: output is gathered in one reused area and written
// from there at once; what a socket does not take waits as a copy. Each viewer's bytes are
// judged by what its reading end received, decoded frame by frame, against what was sent.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FrameDecoder, FrameType, HEADER_BYTES } from '../../src/common/protocol.js';
import { Relay } from '../../src/master/relay.js';

let dir: string;
let server: net.Server;
const opened: net.Socket[] = [];
let relay: Relay;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-relay-'));
  server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(path.join(dir, 's'), resolve));
  relay = new Relay({ pause: () => {}, resume: () => {} }, false, () => {}, () => {});
});

afterEach(async () => {
  relay.close();
  for (const socket of opened) socket.destroy();
  opened.length = 0;
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A connected unix socket pair: the viewer's end (the master's) and the reading end, paused. */
async function socketPair(): Promise<{ viewer: net.Socket; reader: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const reader = net.createConnection(path.join(dir, 's'));
  reader.pause();
  const viewer = await accepted;
  opened.push(viewer, reader);
  return { viewer, reader };
}

/** A FIFO as a viewer: a pipe takes a write only as far as its 64 KiB have room, so it takes part of a frame. */
function fifoPair(): { viewer: net.Socket; reader: net.Socket } {
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
  reader.pause();
  const viewer = new net.Socket({ fd: writeFd, readable: false, writable: true });
  opened.push(viewer, reader);
  return { viewer, reader };
}

/** How long the bytes sent may take to arrive: a failure limit. */
const RECEIVE_TIMEOUT_MS = 10_000;

/** The output the reading end receives, decoded, once `length` bytes of output have come. */
function receiveOutput(reader: net.Socket, length: number): Promise<Buffer> {
  const decoder = new FrameDecoder();
  const payloads: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${received} of ${length} bytes of output received`)), RECEIVE_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (frame.type !== FrameType.Output) throw new Error(`a frame of type ${frame.type}`);
          payloads.push(Buffer.from(frame.payload));
          received += frame.payload.length;
        }
      } catch (error) {
        reader.off('data', onData);
        return reject(error as Error);
      }
      if (received < length) return;
      clearTimeout(timer);
      reader.off('data', onData);
      resolve(Buffer.concat(payloads));
    };
    reader.on('data', onData);
    reader.resume();
  });
}

/**
 * Sends `piece` as the pty would lend it: the relay must copy it, so the buffer is written
 * over at once. Full reads are gathered: flush sends them now, as the gathering timer would.
 */
function broadcastLent(piece: Buffer): void {
  const lent = Buffer.from(piece);
  relay.broadcast(lent);
  relay.flush();
  lent.fill(0xee);
}

it('a viewer that reads late gets every byte in order, as it was sent, although the reused area was written over meanwhile', async () => {
  const { viewer, reader } = await socketPair();
  relay.addViewer(viewer);
  const sent: Buffer[] = [];
  let queuedInSocket = 0;
  // Pieces of every size the pty gives: keystroke echoes, full reads gathered, frames of 64 KiB.
  for (let round = 0; round < 60; round++) {
    const piece = randomBytes([7, 3_999, 30_000, 65_536][round % 4]!);
    sent.push(piece);
    broadcastLent(piece);
    queuedInSocket = Math.max(queuedInSocket, viewer.writableLength);
  }
  expect(queuedInSocket, 'bytes the socket did not take, waiting in its queue').toBeGreaterThan(0);
  const all = Buffer.concat(sent);
  const got = await receiveOutput(reader, all.length);
  expect(got.length).toBe(all.length);
  expect(got.equals(all)).toBe(true);
});

it('a socket that takes part of a frame gets the rest after it, from a copy, then whole frames again', async () => {
  const { viewer, reader } = fifoPair();
  relay.addViewer(viewer);
  const first = randomBytes(40_000);
  broadcastLent(first);
  expect(viewer.writableLength, 'the first frame went to the pipe at once').toBe(0);
  const second = randomBytes(40_000);
  broadcastLent(second);
  // The pipe had room for part of the second frame: the rest waits in the stream.
  expect(viewer.writableLength).toBeGreaterThan(0);
  expect(viewer.writableLength).toBeLessThan(HEADER_BYTES + second.length);
  const third = randomBytes(30_000); // written over the area while the second's rest waits
  broadcastLent(third);
  const all = Buffer.concat([first, second, third]);
  expect((await receiveOutput(reader, all.length)).equals(all)).toBe(true);
  // Once the pipe has drained, a frame goes out at once again.
  await new Promise<void>((resolve) => { if (viewer.writableLength === 0) resolve(); else viewer.once('drain', resolve); });
  const fourth = randomBytes(1_000);
  const more = receiveOutput(reader, fourth.length);
  broadcastLent(fourth);
  expect(viewer.writableLength).toBe(0);
  expect((await more).equals(fourth)).toBe(true);
});

it('two viewers, one reading as output comes, one with a backlog: each gets every byte, in order', async () => {
  const fast = await socketPair();
  const slow = await socketPair();
  relay.addViewer(fast.viewer);
  relay.addViewer(slow.viewer);
  const sent: Buffer[] = [];
  for (let round = 0; round < 40; round++) sent.push(randomBytes(round % 3 === 0 ? 65_536 : 20_000 + round));
  const all = Buffer.concat(sent);
  const fastGot = receiveOutput(fast.reader, all.length);
  let slowQueued = 0;
  for (const piece of sent) {
    broadcastLent(piece);
    slowQueued = Math.max(slowQueued, slow.viewer.writableLength);
    await new Promise((resolve) => setImmediate(resolve)); // the fast viewer reads
  }
  // More than the slow viewer's socket is given at a time (128 KiB) was sent past its kernel buffer: it had a backlog.
  expect(slowQueued, 'the slow viewer\'s socket queue').toBeGreaterThan(100 * 1024);
  expect((await fastGot).equals(all)).toBe(true);
  const slowGot = await receiveOutput(slow.reader, all.length);
  expect(slowGot.equals(all)).toBe(true);
});

/** Hands the relay a full pty read (one that says more is coming), lent as the pty lends it. */
function broadcastFullRead(): Buffer {
  const piece = randomBytes(4_000);
  const lent = Buffer.from(piece);
  relay.broadcast(lent);
  lent.fill(0xee);
  return piece;
}

it('full reads are sent by the gathering timer, each time it is armed again, also while a disarmed one is pending', async () => {
  const { viewer, reader } = await socketPair();
  relay.addViewer(viewer);
  // Armed, fired, armed again: the timer that already fired must fire again.
  for (let round = 0; round < 3; round++) {
    const piece = broadcastFullRead();
    const got = await receiveOutput(reader, piece.length);
    reader.pause();
    expect(got.equals(piece), `round ${round}`).toBe(true);
  }
  // Armed, disarmed by a short read while pending, armed again at once.
  const sent = [broadcastFullRead(), Buffer.from('$ ')];
  relay.broadcast(Buffer.from(sent[1]!));
  sent.push(broadcastFullRead());
  const all = Buffer.concat(sent);
  const got = await receiveOutput(reader, all.length);
  expect(got.equals(all)).toBe(true);
});

it('output held for the first viewer is read once nobody is coming for it; later viewers change nothing about that', async () => {
  const flow: string[] = [];
  const held = new Relay({ pause: () => flow.push('pause'), resume: () => flow.push('resume') }, true, () => {}, () => {});
  try {
    expect(flow).toEqual(['pause']);
    held.releaseHold();
    expect(flow).toEqual(['pause', 'resume']);
    // Let go once: again, or after a viewer came and left, it stays read as when nobody is attached.
    held.releaseHold();
    const { viewer } = await socketPair();
    held.addViewer(viewer);
    held.removeViewer(viewer);
    held.releaseHold();
    expect(flow).toEqual(['pause', 'resume']);
  } finally {
    held.close();
  }
});
