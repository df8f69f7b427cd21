// The attaching client: the user's terminal in raw mode, keys to the program, the program's
// bytes to the screen, and the detach and suspend keys.

import type net from 'node:net';
import type { ClientOptions } from '../cli.js';
import { ExitCode, SIGNAL_EXIT_BASE, describeSystemError, exitCodeOf } from '../common/errors.js';
import { SUSPEND_KEY, findKey, type WatchedKeys } from './keys.js';
import { PastedInput } from '../common/pasted-input.js';
import {
  FrameType, HEADER_BYTES, InPlaceFrameDecoder, MAX_DATA_CHUNK_BYTES, ProtocolError, decodeExit, encodeAttach, encodeDataFrameInto,
  encodeFrame, encodeResize, type ExitStatus, type Frame,
} from '../common/protocol.js';
import { writeAtOnce, writeLentAtOnce } from '../common/write-at-once.js';
import { LentReads } from '../common/lent-reads.js';
import { openSession, type SessionConnection } from './session-connection.js';
import { removeRecord } from '../common/registry.js';
import { onShutdown } from '../common/shutdown.js';
import { describeSignalDeath, signalName, signalNumber } from '../common/signals.js';
import { enterRawMode, restoreTerminal } from './raw-mode.js';
import {
  hasJobControl, ownsTerminal, pauseReadingKeys, printStatusLine, readKeys, readTypedKeys, repeatOnStandardError,
  resetProgramModes, resumeReadingKeys, saveTitle, stopReadingKeys, terminalHungUp, windowSize,
} from './terminal.js';

/** The one buffer every read of the session's socket lands in. */
const SOCKET_READ_BUFFER_BYTES = 64 * 1024;
/** How long after the hello V8 is told to optimize sooner (tier-up.ts): after the first answer, well before typing. */
const TIER_UP_DELAY_MS = 20;
/** How long a detaching client waits for its last keystrokes to reach the master. */
const DETACH_FLUSH_TIMEOUT_MS = 1_000;

export function describeExit(status: ExitStatus): string {
  return status.signal > 0
    ? `[program killed by ${describeSignalDeath(signalName(status.signal), status.coreDumped)}]`
    : `[program exited with status ${status.code}]`;
}

/** A session opened for attaching: its reads are lent, and it is paused after the hello. */
type AttachableSession = SessionConnection & { reads: LentReads };

/**
 * Attaches to the session; resolves with the client's exit code. Nothing waits for anything
 * it does not need: the attach request goes with the hello, and keys go as soon as there is
 * a connection.
 */
export async function attach(socketPath: string, options: ClientOptions): Promise<number> {
  const lines = enterRawMode();
  // Refused or failed before attaching: the error is printed on a restored terminal.
  onShutdown(restoreTerminal);
  // Keys typed before the client started go with the attach request, the whole lines the
  // terminal held first; later ones are read at once (raw: never cooked) and passed on from
  // the moment there is a connection.
  const typedEarly: Buffer[] = lines === undefined ? [] : [lines];
  const typed = readTypedKeys();
  if (typed !== undefined) typedEarly.push(typed);
  readKeys((keys) => typedEarly.push(Buffer.from(keys)), () => { /* the attachment meets it again */ });
  const reads = new LentReads(SOCKET_READ_BUFFER_BYTES);
  let attachment: Attachment | undefined;
  let session: AttachableSession;
  try {
    session = await openSession(socketPath, {
      reads,
      request: attachRequest(options),
      onConnected: (socket) => {
        attachment = new Attachment(socket, reads, options, typedEarly);
      },
    }) as AttachableSession;
  } catch (error) {
    // Detached (a key typed at once) before the session answered: that is how it ended.
    if (attachment?.hasLeft) return attachment.exitCode;
    throw error;
  }
  return attachment!.run(session);
}

function attachRequest(options: ClientOptions): Buffer {
  return encodeAttach({ ...windowSize(), redraw: options.redraw, readOnly: options.readOnly });
}

/**
 * One attachment of this terminal to a session, from raw mode to the status line. It passes
 * keys from the moment the connection exists, and shows the session from its hello on.
 */
class Attachment {
  /** Frames of the socket's reads, decoded where they were read: output comes as views of the read. */
  private readonly decoder = new InPlaceFrameDecoder();
  private readonly keys: WatchedKeys;
  /** Where a bracketed paste begins and ends in what the terminal sends: keys inside one are text. */
  private readonly pastes = new PastedInput();
  /** Where each input frame is built: typing allocates nothing (writeLentAtOnce copies what must wait). */
  private readonly inputFrame = Buffer.allocUnsafe(HEADER_BYTES + MAX_DATA_CHUNK_BYTES);
  private attached = false;
  /** From ^Z until a SIGCONT in the foreground: the terminal was given back, as it was. */
  private suspended = false;
  private done = false;
  private lastError: string | undefined;
  private waitingForTerminal = false;
  private jobControl: boolean | undefined;
  /** The master's pid, from its hello: names the status it keeps for a program that ends while we are suspended. */
  private masterPid = 0;
  private resolveExitCode!: (code: number) => void;
  readonly exitCode = new Promise<number>((resolve) => { this.resolveExitCode = resolve; });

  constructor(
    private readonly socket: net.Socket, private readonly reads: LentReads, private readonly options: ClientOptions,
    typedEarly: Buffer[],
  ) {
    // Whether ^Z can suspend us is looked up when it is typed (reading /proc costs every attach otherwise).
    this.keys = { detach: options.detachKey, suspend: options.suspendKey ? SUSPEND_KEY : null };
    process.stdout.on('error', this.onOutputError);
    readKeys(this.onInput, this.onInputError);
    process.stdout.on('resize', this.onResize);
    process.on('SIGCONT', this.onContinue);
    for (const keys of typedEarly) this.onInput(keys);
  }

  get hasLeft(): boolean {
    return this.done;
  }

  /** Shows the session, from its hello on; resolves with the exit code once the client leaves. */
  run(session: AttachableSession): Promise<number> {
    if (this.done) return this.exitCode;
    this.attached = true;
    this.masterPid = session.masterPid;
    // Killed by a signal or an internal error while attached: leave the terminal usable.
    onShutdown(() => {
      if (this.done || this.suspended) return;
      restoreTerminal();
      resetProgramModes();
    });
    this.socket.on('close', this.onSocketClose);
    this.socket.on('error', () => { /* reported by 'close' */ });
    // Before any of the session's output.
    saveTitle();
    // What came with the hello, copied out of the reads: its views stay valid.
    this.onSocketRead(session.decoder.takeBuffered());
    this.reads.take = this.onSocketRead;
    if (this.mayRead()) this.socket.resume();
    // Once the session's first answer has been shown: loading node:v8 costs 0.3 ms.
    setTimeout(() => void import('./tier-up.js').then((tierUp) => tierUp.tierUpSooner()), TIER_UP_DELAY_MS).unref();
    return this.exitCode;
  }

  /** Restores the terminal, prints why the client leaves, and exits once `flushed` settles. */
  private leave(code: number, message: string, flushed: Promise<void> = Promise.resolve()): void {
    if (this.done) return;
    this.done = true;
    stopReadingKeys();
    process.stdout.off('resize', this.onResize);
    process.off('SIGCONT', this.onContinue);
    // Printed before output processing is back on, so that the line ends in exactly \r\n.
    printStatusLine(message);
    restoreTerminal();
    void flushed.then(() => this.resolveExitCode(code));
  }

  /**
   * One read of the socket, lent: its output goes to the terminal as views of it. Returns
   * false (stop reading) while the terminal holds some of it, so that no read overwrites it.
   */
  private readonly onSocketRead = (read: Buffer): boolean => {
    let frames: Frame[];
    try {
      frames = this.decoder.decode(read);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.sessionSentGarbage(error);
      return false;
    }
    this.onFrames(frames);
    return this.mayRead();
  };

  /** False while the last read is still needed: the terminal holds some of it. */
  private mayRead(): boolean {
    return !this.done && !this.waitingForTerminal;
  }

  private readonly onSocketClose = (): void => {
    // The session and the terminal may go together; a terminal gone first is a hangup.
    if (terminalHungUp()) this.endBySignal('SIGHUP');
    else if (this.lastError !== undefined) this.leave(ExitCode.Failure, `[dt: ${this.lastError}]`);
    else this.leave(ExitCode.Failure, '[dt: lost the session: its master went away without a status]');
  };

  private sessionSentGarbage(error: Error): void {
    this.socket.destroy();
    this.leave(ExitCode.Failure, `[dt: the session sent garbage: ${error.message}]`);
  }

  /** Frames of one read, in order; consecutive output is joined into one terminal write. */
  private onFrames(frames: Frame[]): void {
    // A keystroke's echo: one output frame, shown as it is.
    if (frames.length === 1 && frames[0]!.type === FrameType.Output && !this.done) return this.show(frames[0]!.payload);
    let output: Buffer[] = [];
    const flushOutput = (): void => {
      if (output.length === 0) return;
      this.show(output.length === 1 ? output[0]! : Buffer.concat(output));
      output = [];
    };
    try {
      for (const frame of frames) {
        if (this.done) return;
        if (frame.type === FrameType.Output) {
          output.push(frame.payload);
          continue;
        }
        flushOutput();
        this.onFrame(frame);
      }
      flushOutput();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.sessionSentGarbage(error);
    }
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Output:
        this.show(frame.payload);
        return;
      case FrameType.Exit: {
        const status = decodeExit(frame.payload);
        // Kept by the master if no viewer saw it end (we were suspended): seen now, as by `dt -w`.
        removeRecord(this.masterPid);
        this.leave(exitCodeOf(status), describeExit(status));
        return;
      }
      case FrameType.Error:
        this.lastError = frame.payload.toString('utf8');
        return;
      default:
        return; // frames this version does not use are ignored, for forward compatibility
    }
  }

  /**
   * The program's bytes to the screen; a terminal slower than the program slows the master
   * down. A terminal is written synchronously, but a write can be cut short (by a signal): the
   * rest then waits in the stream, still in the socket's read buffer, and the socket is not
   * read again until the terminal has taken all of it.
   */
  private show(bytes: Buffer): void {
    writeAtOnce(process.stdout, bytes, this.onShown);
    if (process.stdout.writableLength === 0 || this.waitingForTerminal) return;
    this.waitingForTerminal = true;
    this.socket.pause();
  }

  /** Runs after each terminal write is done (the same function each time: Node then batches them). */
  private readonly onShown = (): void => {
    if (!this.waitingForTerminal || process.stdout.writableLength > 0) return;
    this.waitingForTerminal = false;
    if (this.mayRead()) this.socket.resume();
  };

  /**
   * Keys to the program, up to a detach or suspend key, which act here, except inside a paste;
   * `chunk` is lent (see readKeys).
   */
  private readonly onInput = (chunk: Buffer): void => {
    let rest = chunk;
    while (rest.length > 0 && !this.done) {
      const part = this.pastes.nextPart(rest);
      const bytes = rest.subarray(0, part.length);
      if (part.pasted) {
        if (!this.options.readOnly) this.sendInput(bytes);
      } else {
        this.onTyped(bytes);
      }
      rest = rest.subarray(part.length);
    }
  };

  /** Typed keys to the program, up to a detach or suspend key, which act here. */
  private onTyped(typed: Buffer): void {
    let rest = typed;
    while (rest.length > 0) {
      const key = findKey(rest, this.keys);
      const bytes = key === null ? rest : rest.subarray(0, key.index);
      if (!this.options.readOnly) this.sendInput(bytes);
      if (key === null) return;
      if (key.action === 'detach') {
        this.detach();
        return;
      }
      const keyEnd = key.index + key.length;
      if (this.canSuspend()) this.suspend();
      // Without job control the kernel would discard our SIGTSTP: the key is the program's.
      else if (!this.options.readOnly) this.sendInput(rest.subarray(key.index, keyEnd));
      rest = rest.subarray(keyEnd);
    }
  }

  /** Whether the suspend key can stop us (see hasJobControl); looked up at its first use. */
  private canSuspend(): boolean {
    this.jobControl ??= hasJobControl();
    return this.jobControl;
  }

  private sendInput(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; at += MAX_DATA_CHUNK_BYTES) {
      const piece = bytes.subarray(at, at + MAX_DATA_CHUNK_BYTES);
      writeLentAtOnce(this.socket, encodeDataFrameInto(this.inputFrame, FrameType.Input, piece));
    }
  }

  private detach(): void {
    // Exit only once the last keystrokes are on their way to the master.
    const flushed = new Promise<void>((flush) => {
      this.socket.once('finish', flush);
      this.socket.once('close', flush);
      setTimeout(flush, DETACH_FLUSH_TIMEOUT_MS).unref();
    });
    this.socket.end(encodeFrame(FrameType.Detach));
    this.leave(ExitCode.Ok, '[detached]', flushed);
  }

  private suspend(): void {
    this.socket.write(encodeFrame(FrameType.Detach));
    // Leave the shell a usable screen, with its "Stopped" line at the bottom, as dtach does.
    printStatusLine('');
    restoreTerminal();
    this.suspended = true;
    pauseReadingKeys();
    // To our whole process group, as the terminal sends the ^Z it reads cooked: a script that
    // runs us is stopped with us, and its shell sees the job stop (and continues it).
    process.kill(0, 'SIGTSTP');
  }

  private readonly onContinue = (): void => {
    if (this.done) return;
    if (!ownsTerminal()) return this.stopAgainInBackground();
    this.suspended = false;
    resumeReadingKeys();
    const lines = enterRawMode();
    if (this.attached) saveTitle();
    this.socket.write(attachRequest(this.options));
    // Typed while we were stopped, before the keys read from now on.
    if (lines !== undefined) this.onInput(lines);
  };

  /**
   * Continued in the background (`bg`, or the SIGCONT that follows `kill %1`'s SIGTERM): the
   * terminal is the shell's. Stopped again, as the kernel stops a background job that takes it
   * (SIGTTOU), so that `fg` continues us: bash sends no SIGCONT to a job that runs. A signal
   * that came with this one (that SIGTERM) is handled first. The whole process group, as the
   * kernel stops it, so that a script that runs us is seen stopped too.
   */
  private stopAgainInBackground(): void {
    setImmediate(() => {
      if (!this.done && !ownsTerminal()) process.kill(0, 'SIGTTOU');
    });
  }

  /**
   * The terminal went away while we wrote to it or read from it, maybe before the hangup
   * signal is handled (EIO, or another error from a terminal that has hung up): a hangup, and
   * there is nobody to tell. Standard output that is a pipe whose reader left (EPIPE) ends us
   * as SIGPIPE would, the terminal restored. Any other error ends the attachment, said.
   */
  private onTerminalError(error: NodeJS.ErrnoException, writing: boolean): void {
    if (this.done) return;
    if (error.code === 'EIO' || terminalHungUp()) return this.endBySignal('SIGHUP');
    if (error.code === 'EPIPE') return this.endBySignal('SIGPIPE');
    const message = `[dt: the terminal failed: ${describeSystemError(error)}]`;
    this.leave(ExitCode.Failure, message);
    // The status line went to the output that failed (a full disk, say): said where it can be read.
    if (writing) repeatOnStandardError(message);
  }

  private readonly onOutputError = (error: NodeJS.ErrnoException): void => this.onTerminalError(error, true);
  private readonly onInputError = (error: NodeJS.ErrnoException): void => this.onTerminalError(error, false);

  /** Ends as the signal would, quietly: the terminal is gone and there is nobody to tell. */
  private endBySignal(signal: 'SIGHUP' | 'SIGPIPE'): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    restoreTerminal(); // a hung-up terminal refuses: its error comes back here, and is ignored
    this.resolveExitCode(SIGNAL_EXIT_BASE + signalNumber(signal));
  }

  private readonly onResize = (): void => {
    if (!this.options.readOnly) this.socket.write(encodeResize(windowSize()));
  };
}
