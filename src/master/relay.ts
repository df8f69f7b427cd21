// Fan-out of the program's output to the attached viewers, and the slow-viewer policy.
//
// Policy: every viewer that keeps reading receives every byte, in order. The program runs at
// the pace of the fastest viewer: its output is read only while at least one viewer has less
// than VIEWER_HIGH_WATER_BYTES queued. A viewer that falls more than MAX_VIEWER_BACKLOG_BYTES
// behind the fastest one, or that reads nothing for STALLED_VIEWER_TIMEOUT_MS while it holds
// the program back, is cut off cleanly: it receives what was queued for it, then a message
// saying why, then the end of the stream. If it has not read its backlog CUT_OFF_FLUSH_MS
// later, the rest of the backlog is dropped and the message follows what it was already
// sent: a viewer stopped for an hour still learns why it was cut off.
//
// Each viewer's backlog is kept here, and handed to its socket only SOCKET_QUEUE_BYTES at a
// time, so that it can be dropped: once written to a socket, bytes cannot be taken back.
// The frames are shared by every viewer, so the backlogs together cost about as much as the
// longest, MAX_VIEWER_BACKLOG_BYTES; a cut-off viewer that never reads costs at most
// SOCKET_QUEUE_BYTES and a frame.
//
// Copies: the pty's reads are gathered where their frame is sent from, one area reused for
// every frame, with its header in front. A frame is written from there, at once, to every
// viewer whose backlog and socket queue are empty: when the viewers keep up, each byte is
// copied once, into memory that is already mapped. What must wait (what a socket did not
// take, the whole frame for a viewer with a backlog) is copied once more, into memory from
// FrameBlocks shared by all the viewers that need it: the area is written over by the next
// read, so no part of it is ever left in a socket's queue.

import type net from 'node:net';
import { encodeDataFrameInPlace, encodeText, FrameType, HEADER_BYTES } from '../common/protocol.js';
import { writeAtOnce, writeDirectly } from '../common/write-at-once.js';
import { FrameBlocks } from './frame-blocks.js';

/** Stop reading the program when every viewer has at least this much queued. */
export const VIEWER_HIGH_WATER_BYTES = 256 * 1024;
/** A viewer further behind than this is disconnected. */
export const MAX_VIEWER_BACKLOG_BYTES = 8 * 1024 * 1024;
/**
 * A viewer that drains nothing for this long while the program waits for it is disconnected.
 * The tests that only need it to pass shorten it with DT_TEST_STALLED_VIEWER_TIMEOUT_MS.
 */
export const STALLED_VIEWER_TIMEOUT_MS = Number(process.env['DT_TEST_STALLED_VIEWER_TIMEOUT_MS']) || 10_000;
/** A pty read this long was limited by the pty's buffer: more output is probably waiting. */
const FULL_PTY_READ_BYTES = 4000;
/** Output is sent once this much is gathered... */
const GATHER_MAX_BYTES = 64 * 1024;
/** ...or once it has waited this long (well under a frame of a 60 Hz screen). */
const GATHER_DELAY_MS = 2;
/**
 * How long a cut-off viewer gets to read its backlog before the rest is dropped. The tests
 * lengthen it with DT_TEST_CUT_OFF_FLUSH_MS where they check that the whole backlog arrives: on
 * a loaded machine, continuing a stopped client and reading 8 MiB can take longer; and shorten
 * it where they only need it to pass.
 */
export const CUT_OFF_FLUSH_MS = Number(process.env['DT_TEST_CUT_OFF_FLUSH_MS']) || STALLED_VIEWER_TIMEOUT_MS;
/** A viewer's backlog is handed to its socket no further ahead than this. */
const SOCKET_QUEUE_BYTES = 128 * 1024;

/** Output waiting for one viewer, not yet handed to its socket. */
interface Backlog {
  frames: Buffer[];
  bytes: number;
  readonly onDrain: () => void;
  /** Set once the viewer is cut off: the frame that tells it why, written after its backlog. */
  lastWord?: Buffer;
  dropTimer?: NodeJS.Timeout;
}

export interface ProgramFlow {
  pause(): void;
  resume(): void;
}

export class Relay {
  private readonly viewers = new Map<net.Socket, Backlog>();
  /** Viewers cut off whose backlog and last word are still on their way. */
  private readonly leaving = new Map<net.Socket, Backlog>();
  private stallTimer: NodeJS.Timeout | undefined;
  /**
   * Output waiting to be sent, copied out of the pty's reads after room for its frame's
   * header: one area, reused for every frame, and so never left in a socket's queue.
   */
  private readonly frameArea = Buffer.allocUnsafe(HEADER_BYTES + GATHER_MAX_BYTES);
  private gatheredBytes = 0;
  /**
   * Sends what was gathered GATHER_DELAY_MS after it was armed. One timer for the relay's
   * life, armed again with refresh() and disarmed by `gatherArmed` alone: a new Timeout and a
   * clearTimeout for every frame ran Node's timer code hot enough for V8 to compile it, about
   * 40% of what a new master compiled in its first 32 MiB of output.
   */
  private gatherTimer: NodeJS.Timeout | undefined;
  private gatherArmed = false;
  private paused = false;
  /** Where frames that must wait are kept: shared by every viewer, they are never written over. */
  private readonly frameMemory = new FrameBlocks();

  /**
   * holdUntilFirstViewer: keep the program's first output in the pty until someone sees it.
   * onCutOff: a viewer was cut off (it is leaving, see sendLastWord), told before its backlog goes.
   */
  constructor(
    private readonly program: ProgramFlow,
    private holdUntilFirstViewer: boolean,
    private readonly onViewerCountChange: (count: number) => void,
    private readonly onCutOff: (viewer: net.Socket) => void,
  ) {
    if (holdUntilFirstViewer) this.setPaused(true);
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** True while the program's output waits for the creating client (holdUntilFirstViewer). */
  get isHolding(): boolean {
    return this.holdUntilFirstViewer;
  }

  hasViewer(socket: net.Socket): boolean {
    return this.viewers.has(socket);
  }

  /** True while a cut-off viewer is still being sent its backlog and why: nothing else may be written to it. */
  isLeaving(socket: net.Socket): boolean {
    return this.leaving.has(socket);
  }

  addViewer(socket: net.Socket): void {
    if (this.viewers.has(socket) || this.leaving.has(socket)) return;
    const backlog: Backlog = { frames: [], bytes: 0, onDrain: () => this.onDrain(socket) };
    this.viewers.set(socket, backlog);
    socket.on('drain', backlog.onDrain);
    this.holdUntilFirstViewer = false;
    this.onViewerCountChange(this.viewers.size);
    this.updateFlow();
  }

  /** Nobody is coming for the output held for the first viewer: it is read from now on, as when nobody is attached. */
  releaseHold(): void {
    if (!this.holdUntilFirstViewer) return;
    this.holdUntilFirstViewer = false;
    this.updateFlow();
  }

  /** The viewer detached or its connection is gone: what was waiting for it is dropped. */
  removeViewer(socket: net.Socket): void {
    const leaving = this.leaving.get(socket);
    if (leaving) this.forgetLeaving(socket, leaving);
    const backlog = this.viewers.get(socket);
    if (!backlog) return;
    this.viewers.delete(socket);
    socket.off('drain', backlog.onDrain);
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
   * `data` is lent (the pty's read buffer): it is copied into the frame area, a keystroke's
   * echo (a short read with nothing gathered) too, and sent from there at once.
   */
  broadcast(data: Buffer): void {
    if (this.viewers.size === 0) return; // nobody attached: the bytes are discarded, as with dtach
    if (this.gatheredBytes + data.length > GATHER_MAX_BYTES) this.flush();
    this.gather(data);
    if (data.length < FULL_PTY_READ_BYTES || this.gatheredBytes >= GATHER_MAX_BYTES) {
      this.flush();
    } else if (!this.gatherArmed) {
      this.armGatherTimer();
    }
  }

  private armGatherTimer(): void {
    this.gatherArmed = true;
    // refresh() also restarts a timer disarmed while it was still pending: it fires
    // GATHER_DELAY_MS from now, not at its old time.
    if (this.gatherTimer) this.gatherTimer.refresh();
    else this.gatherTimer = setTimeout(this.onGatherDelay, GATHER_DELAY_MS);
  }

  private readonly onGatherDelay = (): void => {
    if (this.gatherArmed) this.flush();
  };

  /** Copies `data` into the frame area; a read larger than a frame fills frames one by one. */
  private gather(data: Buffer): void {
    for (let offset = 0; offset < data.length;) {
      if (this.gatheredBytes === GATHER_MAX_BYTES) this.flush();
      const copied = data.copy(this.frameArea, HEADER_BYTES + this.gatheredBytes, offset);
      this.gatheredBytes += copied;
      offset += copied;
    }
  }

  /** Sends what broadcast gathered now; the master calls it before telling viewers the program ended. */
  readonly flush = (): void => {
    this.gatherArmed = false;
    if (this.gatheredBytes === 0) return;
    const frame = encodeDataFrameInPlace(this.frameArea, FrameType.Output, this.gatheredBytes);
    this.gatheredBytes = 0;
    this.send(frame);
  };

  /**
   * `frame` is in the frame area: written at once to each viewer with nothing waiting (in its
   * backlog or its socket's queue) as far as its socket takes it; what any viewer still needs
   * is then copied once, from the first byte one of them needs, and queued for each.
   */
  private send(frame: Buffer): void {
    const waiting: { viewer: net.Socket; backlog: Backlog; from: number }[] = [];
    let keepFrom = frame.length;
    for (const [viewer, backlog] of this.viewers) {
      const from = backlog.frames.length === 0 ? writeDirectly(viewer, frame) : 0;
      if (from === frame.length) continue;
      waiting.push({ viewer, backlog, from });
      keepFrom = Math.min(keepFrom, from);
    }
    if (waiting.length > 0) {
      const kept = this.keep(frame.subarray(keepFrom));
      for (const { viewer, backlog, from } of waiting) this.queue(viewer, backlog, kept.subarray(from - keepFrom));
    }
    this.updateFlow();
  }

  /** A copy of `bytes` (in the frame area) that stays as it is for as long as a socket holds it. */
  private keep(bytes: Buffer): Buffer {
    const kept = this.frameMemory.take(bytes.length);
    bytes.copy(kept);
    return kept;
  }

  /**
   * Queues kept output for a viewer: in its socket's queue if its backlog is empty and there
   * is room (its descriptor was just tried: trying again would fail), else behind its backlog.
   * The rest of a frame a socket took part of always goes the first way (its queue was
   * empty), so a backlog holds whole frames, and dropping it leaves the stream whole.
   * Cuts the viewer off if it falls too far behind.
   */
  private queue(viewer: net.Socket, backlog: Backlog, bytes: Buffer): void {
    if (backlog.frames.length === 0 && viewer.writableLength < SOCKET_QUEUE_BYTES) {
      viewer.write(bytes);
    } else {
      backlog.frames.push(bytes);
      backlog.bytes += bytes.length;
      this.pump(viewer, backlog);
    }
    if (viewer.writableLength + backlog.bytes > MAX_VIEWER_BACKLOG_BYTES) {
      this.cutOff(viewer, `this terminal fell more than ${MAX_VIEWER_BACKLOG_BYTES / 1024 / 1024} MiB behind the program`);
    }
  }

  /**
   * Disconnects a viewer with a reason it will print: after its backlog if it reads it within
   * CUT_OFF_FLUSH_MS, otherwise after what its socket already has.
   */
  private cutOff(viewer: net.Socket, reason: string): void {
    const backlog = this.sendLastWord(viewer, encodeText(FrameType.Error, reason));
    if (!backlog) return;
    this.onCutOff(viewer);
    backlog.dropTimer = setTimeout(() => {
      backlog.frames = [];
      backlog.bytes = 0;
      this.pump(viewer, backlog);
    }, CUT_OFF_FLUSH_MS);
    backlog.dropTimer.unref();
  }

  /**
   * The viewer is no longer one: it gets the rest of its backlog, then `lastWord` (the program's
   * status, or why it was cut off), then the end of the stream. Undefined if it was not a viewer.
   */
  sendLastWord(viewer: net.Socket, lastWord: Buffer): Backlog | undefined {
    const backlog = this.viewers.get(viewer);
    if (!backlog) return undefined;
    this.removeViewer(viewer);
    backlog.lastWord = lastWord;
    this.leaving.set(viewer, backlog);
    viewer.on('drain', backlog.onDrain);
    this.pump(viewer, backlog);
    return backlog;
  }

  /** Hands a viewer's backlog to its socket, SOCKET_QUEUE_BYTES ahead at most; then its last word, if it has one. */
  private pump(viewer: net.Socket, backlog: Backlog): void {
    while (backlog.frames.length > 0 && viewer.writableLength < SOCKET_QUEUE_BYTES) {
      const frame = backlog.frames.shift()!;
      backlog.bytes -= frame.length;
      writeAtOnce(viewer, frame);
    }
    if (backlog.frames.length > 0 || backlog.lastWord === undefined) return;
    viewer.end(backlog.lastWord);
    this.forgetLeaving(viewer, backlog);
  }

  private forgetLeaving(viewer: net.Socket, backlog: Backlog): void {
    clearTimeout(backlog.dropTimer);
    viewer.off('drain', backlog.onDrain);
    this.leaving.delete(viewer);
  }

  /** Stops the timers; the program has ended and its output was flushed. */
  close(): void {
    this.gatherArmed = false;
    clearTimeout(this.gatherTimer);
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private onDrain(viewer: net.Socket): void {
    const backlog = this.viewers.get(viewer) ?? this.leaving.get(viewer);
    if (backlog) this.pump(viewer, backlog);
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.holdUntilFirstViewer) return;
    let anyViewerReady = this.viewers.size === 0;
    for (const [viewer, backlog] of this.viewers) {
      if (viewer.writableLength + backlog.bytes < VIEWER_HIGH_WATER_BYTES) anyViewerReady = true;
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
    for (const viewer of [...this.viewers.keys()]) {
      this.cutOff(viewer, `this terminal read nothing for ${STALLED_VIEWER_TIMEOUT_MS / 1000} s while the program waited`);
    }
  };
}
