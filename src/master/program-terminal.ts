// The program's terminal: node-pty with raw Buffers, plus what node-pty does not offer:
// the foreground process group, the line-discipline mode, and an exit that never drops
// output. The only module that loads node-pty, and only the master loads it.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type tty from 'node:tty';
import { spawn, type IPty } from 'node-pty';
import { ByteQueue } from './byte-queue.js';

/** How long after the program exits a pty that is still held open by a background job is kept. */
const EXIT_GRACE_MS = 200;

/** How often input is offered again to a program that is not reading it: at first... */
const INPUT_RETRY_MIN_MS = 2;
/** ...and at the least, once it has not read for a while. */
const INPUT_RETRY_MAX_MS = 100;

/** Read size for the output left in the pty when its reader stopped early. */
const LEFTOVER_READ_BYTES = 64 * 1024;

const ICANON = 0o2;
const ECHO = 0o10;
const VMIN = 6;

export interface ProgramExit {
  code: number;
  signal: number;
}

export interface ProgramOptions {
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
}

/** What node-pty keeps of the pty on Unix: its descriptor and the stream that reads it. */
function ptyInternals(term: IPty): { _fd: number; _socket: tty.ReadStream } {
  return term as unknown as { _fd: number; _socket: tty.ReadStream };
}

/**
 * libuv before 1.52 (Node 20) takes POLLHUP on a pty for the end of the stream after one
 * short read, and stops reading while the program's last output may still be in the pty
 * (libuv/libuv#4992): about half the runs of `cat` of 1 MiB lost their last kilobytes. On
 * that end, and before node-pty closes the descriptor and reports the exit, this reads the
 * rest: the descriptor is non-blocking, and read(2) says EIO once the pty is empty.
 */
export function readOutputLeftAtHangUp(term: IPty, emit: (data: Buffer) => void): void {
  const internals = ptyInternals(term);
  internals._socket.on('end', () => {
    const buffer = Buffer.allocUnsafe(LEFTOVER_READ_BYTES);
    for (;;) {
      let count: number;
      try {
        count = fs.readSync(internals._fd, buffer, 0, buffer.length, null);
      } catch {
        return; // EIO: the pty is empty and closed; EAGAIN: a background job still holds it
      }
      if (count === 0) return;
      emit(Buffer.from(buffer.subarray(0, count)));
    }
  });
}

export class ProgramTerminal {
  private readonly term: IPty;
  private readonly dataListeners: Array<(data: Buffer) => void> = [];
  private readonly inputDrainedListeners: Array<() => void> = [];
  private readonly pendingInput = new ByteQueue();
  private retryScheduled = false;
  private inputRetryDelay = 0;
  private closed = false;
  private paused = false;
  private destroyWhenResumed = false;

  constructor(file: string, args: string[], options: ProgramOptions) {
    this.term = spawn(file, args, {
      name: options.env['TERM'] ?? 'xterm',
      cols: options.cols,
      rows: options.rows,
      cwd: options.cwd,
      env: options.env,
      encoding: null,
    });
    this.term.onData((data) => this.emitData(data as unknown as Buffer));
    readOutputLeftAtHangUp(this.term, (data) => this.emitData(data));
    this.readStream.on('close', () => this.onClosed());
    this.keepOutputAfterExit();
  }

  get pid(): number {
    return this.term.pid;
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.term.cols, rows: this.term.rows };
  }

  onData(listener: (data: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  private emitData(data: Buffer): void {
    for (const listener of this.dataListeners) listener(data);
  }

  /** Fires once every byte the program wrote has been delivered through onData. */
  onExit(listener: (exit: ProgramExit) => void): void {
    this.term.onExit(({ exitCode, signal }) => listener({ code: exitCode, signal: signal ?? 0 }));
  }

  /**
   * Input for the program. Written at once with write(2) on the non-blocking pty: node-pty's
   * own write goes through libuv's thread pool, a thread hand-off on every keystroke. What the
   * pty cannot take now (the program is not reading) waits here, in order.
   */
  write(data: Buffer): void {
    if (data.length === 0 || this.closed) return;
    if (this.pendingInput.length === 0) {
      const written = this.writeNow(data);
      if (written === data.length) return;
      data = data.subarray(written);
    }
    this.pendingInput.append(data);
    if (!this.retryScheduled) this.retryInputLater(false);
  }

  /** Bytes of input the program has not taken yet. */
  get pendingInputLength(): number {
    return this.pendingInput.length;
  }

  /** Called whenever the program has taken all pending input, or it can take no more. */
  onInputDrained(listener: () => void): void {
    this.inputDrainedListeners.push(listener);
  }

  /** Writes what the pty takes now; returns how much that was. */
  private writeNow(data: Buffer): number {
    if (this.closed) return data.length; // nowhere to go: dropped
    try {
      return fs.writeSync(this.fd, data);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      // EIO: the program's side of the terminal is closed; input for it has nowhere to go.
      return data.length;
    }
  }

  /**
   * The pty's input buffer was full. Offer the rest again at once while the program is taking
   * it (a large paste, `dt -p` of a file); while it is not (busy, or stopped with ^Z), back off
   * from INPUT_RETRY_MIN_MS to INPUT_RETRY_MAX_MS, so a program that never reads costs no CPU.
   */
  private retryInputLater(tookSome: boolean): void {
    this.retryScheduled = true;
    this.inputRetryDelay = tookSome ? 0 : Math.min(Math.max(this.inputRetryDelay * 2, INPUT_RETRY_MIN_MS), INPUT_RETRY_MAX_MS);
    const retry = (): void => {
      this.retryScheduled = false;
      const before = this.pendingInput.length;
      this.pendingInput.consume(this.writeNow(this.pendingInput.peek()));
      if (this.pendingInput.length > 0) return this.retryInputLater(this.pendingInput.length < before);
      this.inputRetryDelay = 0;
      this.notifyInputDrained();
    };
    if (tookSome) setImmediate(retry);
    else setTimeout(retry, this.inputRetryDelay).unref();
  }

  /** node-pty closed the terminal: its descriptor number may soon belong to something else. */
  private onClosed(): void {
    this.closed = true;
    if (this.pendingInput.length === 0) return;
    this.pendingInput.clear();
    this.notifyInputDrained();
  }

  private notifyInputDrained(): void {
    for (const listener of this.inputDrainedListeners) listener();
  }

  private get fd(): number {
    return ptyInternals(this.term)._fd;
  }

  resize(cols: number, rows: number): void {
    if (cols < 1 || rows < 1) return;
    if (cols === this.term.cols && rows === this.term.rows) return;
    try {
      this.term.resize(cols, rows);
    } catch (error) {
      // The pty is already closed when the program has just exited; nothing left to size.
      if (!String(error).includes('ioctl')) throw error;
    }
  }

  /** Stop reading the program's output: the kernel then blocks the program's writes. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.term.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.term.resume();
    if (this.destroyWhenResumed) {
      this.destroyWhenResumed = false;
      setTimeout(() => this.readStream.destroy(), EXIT_GRACE_MS);
    }
  }

  /** Signals the foreground process group of the program's terminal (the program itself if unknown). */
  signalForeground(signal: number): void {
    const group = this.foregroundProcessGroup();
    try {
      if (group > 0) process.kill(-group, signal);
      else process.kill(this.term.pid, signal);
    } catch (error) {
      // ESRCH: the group ended between reading /proc and signalling it.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** The terminal's foreground process group (tcgetpgrp), read from /proc; 0 when unknown. */
  foregroundProcessGroup(): number {
    try {
      const stat = fs.readFileSync(`/proc/${this.term.pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const group = Number(fields[5]);
      return Number.isInteger(group) && group > 0 ? group : 0;
    } catch {
      // The program has exited; there is no foreground group to report.
      return 0;
    }
  }

  /** Name of the foreground process, for listings. */
  foregroundCommand(): string | undefined {
    const group = this.foregroundProcessGroup();
    try {
      return fs.readFileSync(`/proc/${group || this.term.pid}/comm`, 'utf8').trim();
    } catch {
      // The process ended while we looked.
      return undefined;
    }
  }

  /**
   * True when the program reads keys one at a time without echo (a full-screen program), the
   * only state in which a ^L redraw is safe: a shell or `cat` would receive a stray ^L.
   */
  isCharacterAtATimeNoEcho(): Promise<boolean> {
    return new Promise((resolve) => {
      execFile('stty', ['-g', '-F', this.ptsName], (error, stdout) => {
        if (error) return resolve(false);
        const fields = stdout.trim().split(':').map((field) => parseInt(field, 16));
        const lflag = fields[3] ?? ICANON;
        const vmin = fields[4 + VMIN];
        resolve((lflag & (ICANON | ECHO)) === 0 && vmin === 1);
      });
    });
  }

  /** Hang up the program as a closing terminal would. */
  hangUp(): void {
    this.signalGroup('SIGHUP');
  }

  kill(signal: NodeJS.Signals): void {
    this.signalGroup(signal);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      // The program leads its own session and process group: reach its jobs too.
      process.kill(-this.term.pid, signal);
    } catch (error) {
      // ESRCH: already gone.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  private get readStream(): tty.ReadStream {
    return ptyInternals(this.term)._socket;
  }

  /**
   * node-pty destroys its read stream 200 ms after the program exits, in case a background
   * job keeps the pty open. If the master is holding reads back for a slow client at that
   * moment, the output still in the pty would be lost. So while paused, the destroy waits;
   * once reading resumes, the remaining output is read and the pty closes as usual (or, if a
   * background job still holds it, after the same grace period).
   */
  private keepOutputAfterExit(): void {
    const stream = this.readStream;
    const destroy = stream.destroy.bind(stream);
    stream.destroy = ((error?: Error) => {
      if (this.paused) {
        this.destroyWhenResumed = true;
        return stream;
      }
      return destroy(error);
    }) as typeof stream.destroy;
  }

  /** The program's terminal device, /dev/pts/N. */
  get ptsName(): string {
    return (this.term as unknown as { ptsName: string }).ptsName;
  }
}
