// The program's output, read from the pty's descriptor by dt itself, and the descriptor's
// end: it is closed here, once the output has been read or the program has been gone a while.

import fs from 'node:fs';
import type net from 'node:net';
import tty from 'node:tty';
import { LentReads } from '../common/lent-reads.js';

/** How long after the program exits a pty that is still held open by a background job is kept. */
const EXIT_GRACE_MS = 200;
/**
 * Size of the one buffer every read of the pty lands in. A pty hands over at most about
 * 4 KiB per read; more room costs nothing and serves the leftover reads at hang-up too.
 */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * libuv before 1.52 (Node 20) takes POLLHUP on a pty for the end of the stream after one
 * short read, and stops reading while the program's last output may still be in the pty
 * (libuv/libuv#4992): about half the runs of `cat` of 1 MiB lost their last kilobytes. On
 * that end, and before the descriptor is closed, this reads the rest: the descriptor is
 * non-blocking, and read(2) says EIO once the pty is empty. Each read is lent to emit, as
 * a view of `buffer`.
 */
function readLeftoverOutput(fd: number, buffer: Buffer, emit: (data: Buffer) => void): void {
  for (;;) {
    let count: number;
    try {
      count = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch {
      return; // EIO: the pty is empty and closed; EAGAIN: a background job still holds it
    }
    if (count === 0) return;
    emit(buffer.subarray(0, count));
  }
}

export class PtyOutput {
  /** Reads the descriptor without libuv's thread pool; closing it closes the descriptor. */
  private readonly stream: tty.ReadStream;
  private paused = false;
  private closeWhenResumed = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private closedAlready = false;
  /** A read that came in after pause(): kept (copied) until resume(). */
  private held: Buffer | undefined;

  /**
   * onData gets each read as a view of one reused buffer, valid only until it returns: what is
   * kept must be copied. Node's stream would allocate a Buffer for every read of at most about
   * 4 KiB and pass it through its stream machinery; this is libuv reading into our memory.
   * onClosed: every byte has gone to onData, and the descriptor is closed.
   */
  constructor(private readonly fd: number, private readonly onData: (data: Buffer) => void, onClosed: () => void) {
    const { buffer, onread } = new LentReads(READ_BUFFER_BYTES, (read) => this.onRead(read));
    this.stream = new tty.ReadStream(fd, { onread } as net.SocketConstructorOpts);
    this.stream.resume();
    // At the end nothing stays held: it goes first, then the rest of the pty, in order.
    this.stream.on('end', () => {
      this.releaseHeld();
      readLeftoverOutput(this.fd, buffer, onData);
    });
    // EIO is how a pty says the program's side is closed and empty: the normal end.
    this.stream.on('error', () => { /* the stream closes next */ });
    this.stream.on('close', () => {
      this.releaseHeld();
      this.closedAlready = true;
      clearTimeout(this.graceTimer);
      onClosed();
    });
  }

  get closed(): boolean {
    return this.closedAlready;
  }

  /**
   * Whether the descriptor is still open. Node closes it as the stream is destroyed (at the end
   * of the output, on a read error, after the grace) but says 'close' only later in that turn
   * of the event loop, after the I/O of others: a client connection accepted meanwhile gets the
   * same number. Until `closed`, writes and sizes for the pty must ask this.
   */
  get descriptorOpen(): boolean {
    return !this.stream.destroyed;
  }

  /**
   * Reads go to onData, not through the stream's buffer, so the stream's own pausing is not
   * exact: a read already under way when pause() stops reading (or that a resume() earlier in
   * the same tick lets through) still comes. It is held here, for resume(): the program's first
   * output waits for the creating client so, and a slow viewer's limit is kept.
   */
  private onRead(data: Buffer): boolean {
    if (!this.paused) {
      this.onData(data);
      return true;
    }
    this.held = this.held ? Buffer.concat([this.held, data]) : Buffer.from(data);
    return false; // reading stops
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = undefined;
    if (held) this.onData(held);
  }

  /** Stop reading the program's output: the kernel then blocks the program's writes. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.stream.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.releaseHeld();
    if (this.paused) return; // what was held filled the viewers up again
    this.stream.resume();
    if (this.closeWhenResumed) {
      this.closeWhenResumed = false;
      this.closeAfterGrace();
    }
  }

  /**
   * The program has exited. Its output ends when the pty is empty and closed on its side, but
   * a background job may hold it open: the pty is then kept EXIT_GRACE_MS, and closed. While
   * reads are held back for a slow viewer, that wait starts only once reading resumes, so the
   * output still in the pty is not lost.
   */
  programExited(): void {
    if (!this.closedAlready) this.closeAfterGrace();
  }

  private closeAfterGrace(): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => {
      if (this.paused) this.closeWhenResumed = true;
      else this.stream.destroy();
    }, EXIT_GRACE_MS);
  }
}
