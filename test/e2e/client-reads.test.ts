// The master reads every client's connection into one buffer they all share: what it keeps of
// a read (an unfinished frame) must be its own copy before another client's read lands there.
// What the program received is read from hexlog's file.

import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIXTURES, Peer, Sandbox, waitUntil } from './harness.js';
import { FrameType, HEADER_BYTES, encodeFrame } from '../../src/common/protocol.js';

const HEXLOG = `${FIXTURES}/hexlog.mjs`;

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('the session goes on; its end is tested in lifecycle and faults');
});
afterEach(async () => { await sandbox.teardown(); });

/** Everything the program has read so far, as one hex string (from hexlog's file). */
function received(log: string): string {
  return fs.existsSync(log) ? fs.readFileSync(log, 'latin1').split('\n').join('') : '';
}

/** Printable bytes that differ from one position to the next, so that an overwritten stretch shows. */
function letters(length: number, from: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => 0x41 + ((from + i) % 26)));
}

it("an input frame cut in two reaches the program whole, though another client's input was read between its halves", async () => {
  const socket = sandbox.path('s');
  const log = sandbox.path('received.log');
  expect((await sandbox.dt(['-n', socket, process.execPath, HEXLOG, log]).waitForExit()).exitCode).toBe(0);
  await sandbox.trackMaster(socket);
  await waitUntil(() => fs.existsSync(log), 'hexlog to be in raw mode');

  const first = await Peer.connect(socket);
  const second = await Peer.connect(socket);
  // Larger than half the master's read buffer: kept as it lies unless copied.
  const long = letters(60_000, 0);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(FrameType.Input, 0);
  header.writeUInt32BE(long.length, 1);
  // A whole frame first: once the program has it, the master has read what came with it.
  first.socket.write(Buffer.concat([encodeFrame(FrameType.Input, Buffer.from('x')), header, long.subarray(0, 40_000)]));
  await waitUntil(() => received(log).startsWith('78'), 'the first whole frame to reach the program');
  const other = Buffer.alloc(3000, 'b');
  second.socket.write(encodeFrame(FrameType.Input, other));
  const expectedSoFar = Buffer.concat([Buffer.from('x'), other]).toString('hex');
  await waitUntil(() => received(log).length >= expectedSoFar.length, "the second client's input to reach the program");
  first.socket.write(long.subarray(40_000));
  const expected = Buffer.concat([Buffer.from('x'), other, long]).toString('hex');
  // A frame spoilt by the other client's read is refused (the connection dropped) or arrives wrong.
  await waitUntil(() => received(log).length >= expected.length || first.closed, 'the whole long frame to reach the program');
  expect(first.closed, 'the first client dropped by the master').toBe(false);
  expect(received(log)).toBe(expected);
  first.close();
  second.close();
});
