// A stream's reads in one reused buffer (the `onread` option of net.Socket, which tty.ReadStream
// takes too): no new Buffer and no stream machinery per read. Each read is lent to `take` as a
// view of the buffer, valid only until the next read: what is kept must be copied.

import type net from 'node:net';

export class LentReads {
  readonly buffer: Buffer;
  /** Gets each read; returns false to stop reading (the stream's resume() starts it again). */
  take: (read: Buffer) => boolean;
  readonly onread: net.OnReadOpts;

  /**
   * `memory`: the size of a buffer of its own, or a buffer that other streams' reads land in
   * too (each read is taken before the next one of any stream is made).
   */
  constructor(memory: number | Buffer, take: (read: Buffer) => boolean = () => true) {
    const buffer = (this.buffer = typeof memory === 'number' ? Buffer.allocUnsafe(memory) : memory);
    this.take = take;
    this.onread = { buffer, callback: (count: number): boolean => this.take(buffer.subarray(0, count)) };
  }
}
