// Input for the program, written to the pty's descriptor by dt itself.

import fs from 'node:fs';
import { ByteQueue } from './byte-queue.js';

/** How often input is offered again to a program that is not reading it: at first... */
const INPUT_RETRY_MIN_MS = 2;
/** ...and at the least, once it has not read for a while. */
const INPUT_RETRY_MAX_MS = 100;

/** Waits for the input up to a position to be written (see whenWritten). */
interface WrittenWaiter {
  position: number;
  written: () => void;
}

export class PtyInput {
  private readonly pending = new ByteQueue();
  private readonly drainedListeners: Array<() => void> = [];
  private retryScheduled = false;
  private retryDelay = 0;
  private closed = false;
  /** Bytes given to write() so far: the position in the program's input after the last one. */
  private received = 0;
  /** Bytes written to the pty so far, up to the first one lost (see lose()): no position beyond is ever reached. */
  private written = 0;
  private lost = false;
  private readonly writtenWaiters = new Set<WrittenWaiter>();

  /** `descriptorOpen`: false once `fd` is closed, before close() is called (see PtyOutput.descriptorOpen). */
  constructor(private readonly fd: number, private readonly descriptorOpen: () => boolean) {}

  /**
   * Written at once with write(2) on the non-blocking pty: a write through libuv's thread
   * pool (node-pty's way) is a thread hand-off on every keystroke. What the pty cannot take
   * now (the program is not reading) waits here, in order. Returns the position in the
   * program's input after `data`, for whenWritten.
   */
  write(data: Buffer): number {
    this.received += data.length;
    if (data.length === 0) return this.received;
    if (this.closed) {
      this.lose(); // nowhere to go: dropped
      return this.received;
    }
    if (this.pending.length === 0) {
      const written = this.writeNow(data);
      if (written === data.length) return this.received;
      data = data.subarray(written);
    }
    this.pending.append(data);
    if (!this.retryScheduled) this.retryLater(false);
    return this.received;
  }

  /** Whether the program's input up to `position` (as write() returned it) is written to the pty. */
  hasWritten(position: number): boolean {
    return position <= this.written;
  }

  /**
   * Calls `written` once the program's input up to `position` (as write() returned it) is
   * written to the pty: at once if it is, never if some of it was lost (the descriptor closed,
   * the program's side of the terminal gone). Returns how to stop waiting.
   */
  whenWritten(position: number, written: () => void): () => void {
    if (this.hasWritten(position)) {
      written();
      return () => {};
    }
    if (this.lost) return () => {};
    const waiter = { position, written };
    this.writtenWaiters.add(waiter);
    return () => { this.writtenWaiters.delete(waiter); };
  }

  /** Bytes of input the program has not taken yet. */
  get pendingLength(): number {
    return this.pending.length;
  }

  /** Called whenever the program has taken all pending input, or it can take no more. */
  onDrained(listener: () => void): void {
    this.drainedListeners.push(listener);
  }

  /** The descriptor is closed: its number may soon belong to something else. */
  close(): void {
    this.closed = true;
    if (this.pending.length === 0) return;
    this.pending.clear();
    this.lose();
    this.notifyDrained();
  }

  /** Writes what the pty takes now; returns how much that was (all of it, when it is lost). */
  private writeNow(data: Buffer): number {
    if (this.closed || !this.descriptorOpen()) {
      this.lose(); // nowhere to go: dropped
      return data.length;
    }
    try {
      const count = fs.writeSync(this.fd, data);
      if (!this.lost) this.written += count;
      return count;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      // EIO: the program's side of the terminal is closed; input for it has nowhere to go.
      this.lose();
      return data.length;
    }
  }

  /** Input was dropped: nobody waiting for it to be written will be told it was. */
  private lose(): void {
    this.lost = true;
    this.writtenWaiters.clear();
  }

  private notifyWritten(): void {
    for (const waiter of this.writtenWaiters) {
      if (waiter.position > this.written) continue;
      this.writtenWaiters.delete(waiter);
      waiter.written();
    }
  }

  /**
   * The pty's input buffer was full. Offer the rest again at once while the program is taking
   * it (a large paste, `dt -p` of a file); while it is not (busy, or stopped with ^Z), back off
   * from INPUT_RETRY_MIN_MS to INPUT_RETRY_MAX_MS, so a program that never reads costs no CPU.
   */
  private retryLater(tookSome: boolean): void {
    this.retryScheduled = true;
    this.retryDelay = tookSome ? 0 : Math.min(Math.max(this.retryDelay * 2, INPUT_RETRY_MIN_MS), INPUT_RETRY_MAX_MS);
    const retry = (): void => {
      this.retryScheduled = false;
      const before = this.pending.length;
      this.pending.consume(this.writeNow(this.pending.peek()));
      if (this.pending.length < before) this.notifyWritten();
      if (this.pending.length > 0) return this.retryLater(this.pending.length < before);
      this.retryDelay = 0;
      this.notifyDrained();
    };
    if (tookSome) setImmediate(retry);
    else setTimeout(retry, this.retryDelay).unref();
  }

  private notifyDrained(): void {
    for (const listener of this.drainedListeners) listener();
  }
}
