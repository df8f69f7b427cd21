// Fan-out of the program's output to the attached viewers, and the slow-viewer policy.
//
// Policy: every viewer that keeps reading receives every byte, in order. The program runs at
// the pace of the fastest viewer: its output is read only while at least one viewer has less
// than VIEWER_HIGH_WATER_BYTES queued. A viewer that falls more than MAX_VIEWER_BACKLOG_BYTES
// behind the fastest one, or that reads nothing for STALLED_VIEWER_TIMEOUT_MS while it holds
// the program back, is cut off cleanly: it receives everything queued for it, then a message
// saying why, then the end of the stream. Master memory is therefore bounded by about
// MAX_VIEWER_BACKLOG_BYTES per viewer.

import type net from 'node:net';
import { encodeDataFrames, encodeText, FrameType } from '../common/protocol.js';

/** Stop reading the program when every viewer has at least this much queued. */
export const VIEWER_HIGH_WATER_BYTES = 256 * 1024;
/** A viewer further behind than this is disconnected. */
export const MAX_VIEWER_BACKLOG_BYTES = 8 * 1024 * 1024;
/** A viewer that drains nothing for this long while the program waits for it is disconnected. */
export const STALLED_VIEWER_TIMEOUT_MS = 10_000;
/** A pty read this long was limited by the pty's buffer: more output is probably waiting. */
const FULL_PTY_READ_BYTES = 4000;
/** Output is sent once this much is gathered... */
const GATHER_MAX_BYTES = 64 * 1024;
/** ...or once it has waited this long (well under a frame of a 60 Hz screen). */
const GATHER_DELAY_MS = 2;
/** How long a disconnected viewer gets to read what was queued before the connection is destroyed. */
const CUT_OFF_FLUSH_MS = STALLED_VIEWER_TIMEOUT_MS;

export interface ProgramFlow {
  pause(): void;
  resume(): void;
}

export class Relay {
  private readonly viewers = new Set<net.Socket>();
  private stallTimer: NodeJS.Timeout | undefined;
  /** Output waiting to be sent, copied out of the pty's reads: one area, reused. */
  private readonly gathered = Buffer.allocUnsafe(GATHER_MAX_BYTES);
  private gatheredBytes = 0;
  private gatherTimer: NodeJS.Timeout | undefined;
  private paused = false;

  /** holdUntilFirstViewer: keep the program's first output in the pty until someone sees it. */
  constructor(
    private readonly program: ProgramFlow,
    private holdUntilFirstViewer: boolean,
    private readonly onViewerCountChange: (count: number) => void,
  ) {
    if (holdUntilFirstViewer) this.setPaused(true);
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  hasViewer(socket: net.Socket): boolean {
    return this.viewers.has(socket);
  }

  addViewer(socket: net.Socket): void {
    if (this.viewers.has(socket)) return;
    this.viewers.add(socket);
    socket.on('drain', this.onDrain);
    this.holdUntilFirstViewer = false;
    this.onViewerCountChange(this.viewers.size);
    this.updateFlow();
  }

  removeViewer(socket: net.Socket): void {
    if (!this.viewers.delete(socket)) return;
    socket.off('drain', this.onDrain);
    this.onViewerCountChange(this.viewers.size);
    this.updateFlow();
  }

  /**
   * Output from the program, to every viewer. The pty hands it over in reads of at most about
   * 4 KiB, and each one relayed on its own costs a socket write here and a read, a decode and
   * a terminal write in every client. So reads are gathered: a short read means the program
   * has paused (an echoed key, a prompt), and what was gathered goes out at once; a full read
   * means more is coming, and the bytes wait for up to GATHER_DELAY_MS or GATHER_MAX_BYTES.
   * That took a third off the relay's CPU time per byte (20 to 13-14 ms per MiB).
   *
   * `data` is lent (the pty's read buffer): it is copied, into the gathering area or, when a
   * short read comes with nothing gathered (a keystroke's echo), straight into its frame.
   */
  broadcast(data: Buffer): void {
    if (this.viewers.size === 0) return; // nobody attached: the bytes are discarded, as with dtach
    const pauses = data.length < FULL_PTY_READ_BYTES;
    if (pauses && this.gatheredBytes === 0) return this.send(encodeDataFrames(FrameType.Output, data));
    if (this.gatheredBytes + data.length > this.gathered.length) this.flush();
    data.copy(this.gathered, this.gatheredBytes);
    this.gatheredBytes += data.length;
    if (pauses || this.gatheredBytes >= GATHER_MAX_BYTES) {
      this.flush();
    } else if (!this.gatherTimer) {
      this.gatherTimer = setTimeout(this.flush, GATHER_DELAY_MS);
    }
  }

  /** Sends what broadcast gathered now; the master calls it before telling viewers the program ended. */
  readonly flush = (): void => {
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.gatheredBytes === 0) return;
    const frames = encodeDataFrames(FrameType.Output, this.gathered.subarray(0, this.gatheredBytes));
    this.gatheredBytes = 0;
    this.send(frames);
  };

  private send(frames: Buffer[]): void {
    for (const viewer of this.viewers) {
      for (const frame of frames) viewer.write(frame);
      if (viewer.writableLength > MAX_VIEWER_BACKLOG_BYTES) {
        this.cutOff(viewer, `this terminal fell more than ${MAX_VIEWER_BACKLOG_BYTES / 1024 / 1024} MiB behind the program`);
      }
    }
    this.updateFlow();
  }

  /** Disconnect a viewer after everything already queued for it, with a reason it will print. */
  cutOff(viewer: net.Socket, reason: string): void {
    this.removeViewer(viewer);
    viewer.end(encodeText(FrameType.Error, reason));
    // A viewer that never reads again must not pin its backlog in memory forever.
    setTimeout(() => viewer.destroy(), CUT_OFF_FLUSH_MS).unref();
  }

  /** Stops the stall timer; the program has ended. */
  close(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private readonly onDrain = (): void => this.updateFlow();

  private updateFlow(): void {
    if (this.holdUntilFirstViewer) return;
    let anyViewerReady = this.viewers.size === 0;
    for (const viewer of this.viewers) {
      if (viewer.writableLength < VIEWER_HIGH_WATER_BYTES) anyViewerReady = true;
    }
    this.setPaused(!anyViewerReady);
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) {
      this.program.pause();
      this.stallTimer = setTimeout(this.onStalled, STALLED_VIEWER_TIMEOUT_MS);
      // A stalled viewer must not keep a master with an ended program alive.
      this.stallTimer.unref();
    } else {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
      this.program.resume();
    }
  }

  private readonly onStalled = (): void => {
    this.stallTimer = undefined;
    if (this.holdUntilFirstViewer) return;
    // Nobody drained anything in all that time: every viewer is stalled.
    for (const viewer of [...this.viewers]) {
      this.cutOff(viewer, `this terminal read nothing for ${STALLED_VIEWER_TIMEOUT_MS / 1000} s while the program waited`);
    }
  };
}
