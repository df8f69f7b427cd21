// writeAtOnce and writeLentAtOnce over a real unix socket pair: the bytes arrive in order,
// a lent buffer may be reused at once even when the socket is full, and errors take the
// stream's own way. The receiving side is judged by what it read, not by the code under test.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { writeAtOnce, writeLentAtOnce } from '../../src/common/write-at-once.js';

let dir: string;
let server: net.Server;
let sender: net.Socket;
let receiver: net.Socket;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-write-'));
  const socketPath = path.join(dir, 's');
  const accepted = new Promise<net.Socket>((resolve) => { server = net.createServer({ pauseOnConnect: true }, resolve); });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  sender = net.createConnection(socketPath);
  await new Promise((resolve) => sender.once('connect', resolve));
  receiver = await accepted;
});

afterEach(async () => {
  sender.destroy();
  receiver.destroy();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Everything the receiver reads until `length` bytes have come. */
function receive(length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve) => {
    receiver.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= length) resolve(Buffer.concat(chunks));
    });
    receiver.resume();
  });
}

it('a small write goes to the descriptor at once: nothing waits in the stream', async () => {
  writeAtOnce(sender, Buffer.from('key'));
  expect(sender.writableLength).toBe(0);
  expect((await receive(3)).toString()).toBe('key');
});

it('a lent buffer reused at once, also once the socket is full, still arrives as it was, in order', async () => {
  const lent = Buffer.alloc(64 * 1024);
  const expected: Buffer[] = [];
  // The receiver reads nothing yet: the kernel's buffer fills, and the rest waits in the stream.
  for (let round = 0; round < 64; round++) {
    lent.fill(round);
    expected.push(Buffer.from(lent));
    writeLentAtOnce(sender, lent);
  }
  expect(sender.writableLength, 'bytes waiting in the stream once the socket is full').toBeGreaterThan(0);
  lent.fill(0xee); // what a reused buffer holds next must not reach the socket
  const all = Buffer.concat(expected);
  const got = await receive(all.length);
  expect(got.length).toBe(all.length);
  expect(got.equals(all)).toBe(true);
});

it('writeAtOnce keeps the order behind bytes waiting in the stream, and calls back once they are written', async () => {
  // Corked: 'first' waits in the stream while the socket has room; written at once, 'second' would pass it.
  sender.cork();
  sender.write(Buffer.from('first'));
  let calledBack = false;
  writeAtOnce(sender, Buffer.from('second'), () => { calledBack = true; });
  sender.uncork();
  expect((await receive(11)).toString()).toBe('firstsecond');
  await new Promise((resolve) => setImmediate(resolve));
  expect(calledBack).toBe(true);
});

it('a write to a peer that is gone is reported by the stream, as stream.write would', async () => {
  receiver.destroy();
  const error = new Promise<NodeJS.ErrnoException>((resolve) => sender.once('error', resolve));
  // The first write may still be taken by the kernel before it notices; the peer's end shows soon.
  const deadline = Date.now() + 5_000;
  let failure: NodeJS.ErrnoException | undefined;
  void error.then((e) => { failure = e; });
  while (failure === undefined && Date.now() < deadline) {
    writeAtOnce(sender, Buffer.from('lost'));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(['EPIPE', 'ECONNRESET']).toContain(failure?.code);
});
