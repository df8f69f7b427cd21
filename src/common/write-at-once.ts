// Small writes straight to a stream's descriptor. A keystroke or its echo is a few bytes that
// a socket or a terminal takes at once; handed to the stream, each also passes Node's writable
// machinery (write, writeOrBuffer, _write, writeGeneric, a callback on the next tick): time on
// every key's way, and a dozen functions V8 compiles while the first thousands are typed.

import fs from 'node:fs';
import type net from 'node:net';

/**
 * Writes `bytes` to the stream: with write(2), at once, while nothing waits in the stream's
 * queue (so the order of bytes is kept). `bytes` is lent: what the descriptor does not take
 * at once goes to stream.write as a copy, so the caller may reuse its buffer. A failed write
 * (EPIPE, EIO) also goes to stream.write, which meets the same error and reports it the
 * stream's way ('error', then 'close'), as if this function were not there.
 */
export function writeAtOnce(stream: net.Socket, bytes: Buffer): void {
  let written = 0;
  const fd = descriptorOf(stream);
  if (fd !== undefined && stream.writableLength === 0 && !stream.writableEnded && !stream.destroyed) {
    try {
      written = fs.writeSync(fd, bytes);
    } catch {
      // EAGAIN: the stream waits for room; any other error is the stream's to report.
    }
  }
  if (written < bytes.length) stream.write(Buffer.from(bytes.subarray(written)));
}

/** The stream's descriptor, if it has one (a socket still connecting has none). */
function descriptorOf(stream: net.Socket): number | undefined {
  const fd = (stream as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  return fd !== undefined && fd >= 0 ? fd : undefined;
}
