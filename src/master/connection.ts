// One client's connection to the master, as the session sees it, and how long a client
// told why it is dropped, or turned away, gets to read that.

import type net from 'node:net';
import { ByteQueue } from './byte-queue.js';
import { PastedInput } from '../common/pasted-input.js';
import { FrameDecoder, type WindowSize } from '../common/protocol.js';

/**
 * How long a client turned away or told why it is dropped gets to read that before its
 * connection is destroyed. The tests that only need it to pass shorten it with
 * DT_TEST_DROP_FLUSH_TIMEOUT_MS.
 */
const DROP_FLUSH_TIMEOUT_MS = Number(process.env['DT_TEST_DROP_FLUSH_TIMEOUT_MS']) || 10_000;

/** Why the master stopped reading a connection: its held input, or no room for its unfinished frame. */
export type HoldReason = 'input' | 'room';

export class Connection {
  readonly decoder = new FrameDecoder();
  /** true once the client said hello with our protocol version */
  greeted = false;
  /** true once our hello is on its way: it is the first frame a client reads */
  helloSent = false;
  /** a -r viewer: its input, resizes, redraws and signals are ignored */
  readOnly = false;
  /** true once it sent input: a writer (`dt -p` of a slow pipe) may be quiet for hours */
  wroteInput = false;
  /** true once it attached: a client suspended by ^Z has left the viewers, and may come back hours later */
  attached = false;
  /** true once it asked for the session's description: a client that waits (dt -w) asks at once, and may be suspended by ^Z for hours */
  askedForDescription = false;
  /** true once it sent a signal (dt -k) */
  signalled = false;
  /**
   * true once the relay cut it off as a viewer that fell behind: it is told why and then closed,
   * and nothing it sends meanwhile (keys typed at a stale screen, a new attach) acts any more
   */
  cutOff = false;
  /** true when the program ended before it asked for anything: what it asks then is answered with the end */
  awaitsEnding = false;
  /** Input from this client waiting for the program to take what it was sent before. */
  readonly heldInput = new ByteQueue();
  /** Where a bracketed paste begins and ends in what a viewer typed: one it leaves unfinished is ended for it. */
  readonly pastes = new PastedInput();
  /** Bytes of input it sent that were offered to the program (a read-only viewer's are not). */
  offeredInputBytes = 0;
  /** Where the program's input stands after this client's last byte written to it (ProgramTerminal.write). */
  inputEnd = 0;
  /** Asked to be told once its input is written (InputWritten): the answer, while its held input waits... */
  writtenOnRelease: (() => void) | undefined;
  /** ...and then, while the program's terminal has not taken it all, how to stop waiting. */
  stopWaitingForWrite: (() => void) | undefined;
  /** true from an InputWritten request until it is answered */
  awaitingWritten = false;
  /** true when its hello offers HelloFeature.InputWritten: it takes InputWritten frames */
  takesInputWritten = false;
  /** The window size this viewer set last (attaching, resizing); a read-only viewer sets none. */
  windowSize: WindowSize | undefined;
  /** When it set it (Session counts the sizes set): 0 for never. */
  sizeSetAt = 0;
  /** The bytes of its unfinished frame counted in the room all connections share (PartialFrameRoom). */
  countedPartialBytes = 0;
  helloTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** When the client last sent something (performance.now(), ms). */
  lastHeardAt = performance.now();
  private readonly holds = new Set<HoldReason>();

  constructor(readonly socket: net.Socket) {}

  /** Stops reading the client until every reason to hold it is gone. */
  hold(reason: HoldReason): void {
    if (this.holds.size === 0) this.socket.pause();
    this.holds.add(reason);
  }

  letGo(reason: HoldReason): void {
    if (!this.holds.delete(reason) || this.holds.size > 0) return;
    if (!this.socket.destroyed) this.socket.resume();
  }

  isHeld(reason: HoldReason): boolean {
    return this.holds.has(reason);
  }
}

/**
 * A connection turned away, or told how the session ended (or why it could not start), gets
 * DROP_FLUSH_TIMEOUT_MS to read why, then is destroyed: a client that never reads again must
 * not pin what was queued for it, nor keep the master from exiting.
 *
 * The timer goes as soon as the connection has closed. Left to run, it kept each closed
 * connection (its socket, its Connection, their buffers: about 6 KiB) alive for 10 s, long
 * enough to be moved to V8's old generation; then garbage that only a full collection frees,
 * and none comes to an idle master: 5,000 `dt -p` in a row left one 22 MiB larger for good.
 */
export function destroyOnceFlushTimeout(socket: net.Socket): void {
  if (socket.destroyed) return; // closing already: nothing more is sent
  const timer = setTimeout(() => socket.destroy(), DROP_FLUSH_TIMEOUT_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}
