// Small writes straight to a stream's descriptor. A keystroke or its echo is a few bytes that
// a socket or a terminal takes at once; handed to the stream, each also passes Node's writable
// machinery (write, writeOrBuffer, _write, writeGeneric, a callback on the next tick): time on
// every key's way, and a dozen functions V8 compiles while the first thousands are typed.

import fs from 'node:fs';
import type net from 'node:net';

/**
 * Writes `bytes` to the stream: with write(2), at once, while nothing waits in the stream's
 * queue (so the order of bytes is kept); what the descriptor does not take then goes to
 * stream.write, with `onQueuedWritten` as its callback. As with stream.write, `bytes` must
 * stay as it is until written. A failed write (EPIPE, EIO) also goes to stream.write, which
 * meets the same error and reports it the stream's way ('error', then 'close'), as if this
 * function were not there. A terminal's descriptor is blocking (Node makes it so): the write
 * then waits, as the stream's own would.
 */
export function writeAtOnce(stream: net.Socket, bytes: Buffer, onQueuedWritten?: () => void): void {
  const written = writeDirectly(stream, bytes);
  if (written < bytes.length) stream.write(bytes.subarray(written), onQueuedWritten);
}

/** writeAtOnce of bytes the caller reuses at once: what must wait in the stream's queue is copied. */
export function writeLentAtOnce(stream: net.Socket, bytes: Buffer): void {
  const written = writeDirectly(stream, bytes);
  if (written < bytes.length) stream.write(Buffer.from(bytes.subarray(written)));
}

/**
 * What writeAtOnce writes at once, and nothing more: the number of bytes the descriptor took,
 * 0 when the stream has a queue, no descriptor, or the write failed. The rest is the caller's
 * to hand to stream.write (which also reports a failure), in memory that stays as it is.
 */
export function writeDirectly(stream: net.Socket, bytes: Buffer): number {
  const fd = descriptorOf(stream);
  if (fd === undefined || stream.writableLength > 0 || stream.writableEnded || stream.destroyed) return 0;
  try {
    return fs.writeSync(fd, bytes);
  } catch {
    return 0; // EAGAIN: the stream waits for room; any other error is the stream's to report
  }
}

/**
 * The descriptor of a socket, or of a listening server (which Node passes to a child only by
 * its number), if it has one (a socket still connecting has none).
 */
export function descriptorOf(stream: net.Socket | net.Server): number | undefined {
  const fd = (stream as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  return fd !== undefined && fd >= 0 ? fd : undefined;
}
