// The session a master serves: the program's terminal, its clients, and how it ends. Each job
// is one method: accept a connection, greet it, attach a viewer, pass input, resize, redraw,
// describe the session, drop a connection, terminate on a signal, end with the program.
//
// Every byte of the program's output passes through output(), to the viewers and the log
// (-L), and there the terminal modes it sets are followed; every viewer comes in through
// attach(), where its terminal is put in those modes; every connection is counted in accept()
// and leaves through forget().

import type net from 'node:net';
import { exitCodeOf } from '../common/errors.js';
import type { ClientConnection } from './client-reads.js';
import { Connection, destroyOnceFlushTimeout } from './connection.js';
import { InputFlow } from './input-flow.js';
import type { MasterSpec } from '../common/master-spec.js';
import { collectAfterOutput } from './memory.js';
import type { OutputLog } from './output-log.js';
import { PartialFrameRoom } from './partial-frames.js';
import {
  FrameDecoder, FrameType, HelloFeature, IDLE_CONNECTION_TIMEOUT_MS, PROTOCOL_VERSION, ProtocolError, RedrawMethod,
  decodeAttach, decodeHello, decodeKill, decodeRedraw, decodeWindowSize,
  encodeDataFrames, encodeExit, encodeHello, encodeInputWritten, encodeText, type Attach, type Frame, type WindowSize,
} from '../common/protocol.js';
import type { ProgramExit, ProgramTerminal } from './program-terminal.js';
import { PROGRAM_ENDED_KEPT, removeRecord, supersedeRecords, writeRecord, type SessionRecord } from '../common/registry.js';
import { MAX_VIEWER_BACKLOG_BYTES, Relay } from './relay.js';
import { ResizeRedraw } from './resize-redraw.js';
import type { SocketKeeper } from './socket-keeper.js';
import { TerminalModeTracker } from './terminal-modes.js';
import { PASTE_END } from '../common/pasted-input.js';
import { signalNumber } from '../common/signals.js';

/** A client must say hello within this time or be dropped (it is not a dt client). */
const HELLO_TIMEOUT_MS = 5_000;
/**
 * After SIGTERM, how long the program gets to exit on its SIGHUP before the master leaves
 * anyway. The test suite lengthens it (DT_TEST_TERMINATE_GRACE_MS) to look at a session in
 * that time on a loaded machine; nothing else should.
 */
const TERMINATE_GRACE_MS = Number(process.env['DT_TEST_TERMINATE_GRACE_MS']) || 3_000;
/** How long clients get to read the program's last output and exit status. */
const EXIT_FLUSH_TIMEOUT_MS = 10_000;
/** Connections the master serves at once (each costs up to about 200 KiB while it sends); more are turned away. */
export const MAX_CONNECTIONS = 256;
/** Replies a connection has not read beyond which its requests are refused (it is dropped). */
const MAX_UNREAD_REPLY_BYTES = 64 * 1024;
/** Frames decoded and handled at a time, out of one read. */
const FRAMES_PER_BATCH = 256;
const NO_BYTES = Buffer.alloc(0);

/**
 * The command as an info reply gives it: whole words up to this many bytes. A command line may
 * be megabytes long, and a reply must fit in a frame; the registry keeps the whole command.
 */
const DESCRIBED_COMMAND_BYTES = 16 * 1024;

export interface MasterOutcome {
  /** the program's status: its exit code, or 128+N when killed by signal N */
  exitCode: number;
  /** the signal that told the master to end; the master should die of it, for its supervisor */
  terminatedBy?: NodeJS.Signals;
}

/** What a connection accepted once the session has ended is told, after the master's hello. */
interface EndedAnswer {
  /** how the session ended, as every client is told it */
  ending: Buffer;
  /** to a dt -k: why its signal reaches no program */
  toKill: Buffer;
}

export class Session {
  private readonly connections = new Set<Connection>();
  /** Connections accepted after the end: they were in the socket's queue as it came. */
  private readonly lateConnections = new Set<net.Socket>();
  private endedAnswer: EndedAnswer | undefined;
  private listening = true;
  /** Once the session has ended: checks again, as a client leaves or the socket stops listening, whether all have gone. */
  private recheckClientsGone: (() => void) | undefined;
  private readonly relay: Relay;
  private readonly inputFlow: InputFlow;
  private readonly collectGarbage = collectAfterOutput();
  private readonly modes = new TerminalModeTracker();
  /** Window sizes set by viewers so far: a viewer's sizeSetAt equal to it has the program's size. */
  private sizesSet = 0;
  private readonly sizer: ResizeRedraw;
  /** Whether the program's output has been read: before that, a viewer misses nothing and needs no redraw. */
  private outputRead = false;
  private readonly record: SessionRecord;
  /** Why `dt -l` will not list this session (the registry could not be written), if so. */
  readonly unlisted: string | undefined;
  private readonly partialFrames = new PartialFrameRoom();
  private terminatedBy: NodeJS.Signals | undefined;
  /** The master hung the program up (terminate()): its end is the session's termination, whose status is not kept. */
  private hungUp = false;
  /**
   * end() has begun: the -L log's last writes may still be under way, before the clients are
   * told. Until then the session describes itself as ending, with the program's status when it
   * ended (not when the master terminated it and gave up waiting for it).
   */
  private ending: { exit?: ProgramExit } | undefined;
  private ended = false;
  private resolveOutcome!: (outcome: MasterOutcome) => void;
  /** How the master process should end; settles once the program ended and clients were told. */
  readonly outcome = new Promise<MasterOutcome>((resolve) => { this.resolveOutcome = resolve; });

  constructor(
    private readonly spec: MasterSpec,
    private readonly program: ProgramTerminal,
    private readonly socketFile: SocketKeeper,
    private readonly log: OutputLog | undefined,
  ) {
    this.record = {
      socket: spec.socket, masterPid: process.pid, command: spec.command, startedAt: new Date().toISOString(),
      ...(spec.log && { log: spec.log.file }), ...(!socketFile.owned && { serviceSocket: true }),
    };
    supersedeRecords(spec.socket, process.pid);
    this.unlisted = writeRecord(this.record);
    this.inputFlow = new InputFlow(program, () => this.collectGarbage.inputHeld());
    program.onInputDrained(() => this.inputFlow.release());
    this.relay = new Relay(program, spec.holdUntilAttach, (count) => socketFile.markAttached(count > 0), (viewer) => this.cutOff(viewer));
    this.sizer = new ResizeRedraw(program, { pause: () => this.inputFlow.pause('redraw'), resume: () => this.inputFlow.resume('redraw') });
    program.onData((data) => this.output(data));
    socketFile.serve((client) => this.accept(client), () => this.relay.viewerCount > 0);
    program.onExit((status) => this.end(status));
  }

  /** Output from the program: every byte it writes passes here, in order, lent (see ProgramTerminal.onData). */
  private output(data: Buffer): void {
    this.outputRead = true;
    // To the viewers first: a keystroke's echo waits for nothing else.
    this.relay.broadcast(data);
    this.modes.feed(data);
    this.sizer.programWrote();
    this.log?.append(data);
    this.collectGarbage(data.length);
  }

  /** A client connected: it is counted here, and leaves through forget(). */
  private accept(client: ClientConnection): void {
    if (this.endedAnswer) return this.answerAfterEnd(client, this.endedAnswer);
    const { socket, reads } = client;
    if (this.connections.size >= MAX_CONNECTIONS) {
      // Turned away: what it sends is read and dropped (its reads' default: closing on unread
      // bytes would reset the connection before the client reads why), and it is closed once
      // it has closed its side.
      socket.on('error', () => { /* it is being turned away */ });
      socket.on('end', () => socket.destroy());
      socket.end(encodeText(FrameType.Error, `the session has ${MAX_CONNECTIONS} connections already`));
      destroyOnceFlushTimeout(socket);
      return;
    }
    const connection = new Connection(socket);
    this.connections.add(connection);
    connection.helloTimer = setTimeout(() => { if (!connection.greeted) this.drop(connection); }, HELLO_TIMEOUT_MS);
    connection.helloTimer.unref();
    this.armIdleTimer(connection);
    reads.take = (read) => {
      this.receive(connection, read);
      return true;
    };
    socket.on('end', () => this.drop(connection));
    // EPIPE/ECONNRESET: the client vanished (killed, terminal gone); it simply stops being served.
    socket.on('error', () => this.drop(connection));
    socket.on('close', () => this.forget(connection));
  }

  /** One read of the client's connection, lent: what is kept of it (held input, an unfinished frame) is copied. */
  private receive(connection: Connection, chunk: Buffer): void {
    // Noted, not a timer set again: that would cost every keystroke a timer (see closeIfIdle).
    connection.lastHeardAt = performance.now();
    // The copies kept of the reads (held input, unfinished frames) are garbage in time.
    this.collectGarbage(chunk.length);
    try {
      // In batches: a 64 KiB read of 5-byte requests is 13,000 frames, and all of them decoded
      // at once outlive the young generation's collections and grow the master by megabytes.
      let frames = connection.decoder.push(chunk, FRAMES_PER_BATCH);
      for (;;) {
        for (const frame of frames) {
          if (!this.connections.has(connection)) return;
          this.handle(connection, frame);
        }
        if (frames.length < FRAMES_PER_BATCH) break;
        frames = connection.decoder.push(NO_BYTES, FRAMES_PER_BATCH);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.drop(connection, `protocol error: ${error.message}`);
    } finally {
      // The next read of any connection lands where this one is.
      connection.decoder.copyOutOf(chunk);
    }
    // Its unfinished frame takes room all connections share (partial-frames.ts); dropped, it holds none.
    this.partialFrames.count(connection, this.connections.has(connection) ? connection.decoder.bufferedBytes : 0);
  }

  private armIdleTimer(connection: Connection, delayMs = IDLE_CONNECTION_TIMEOUT_MS): void {
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => this.closeIfIdle(connection), delayMs);
    connection.idleTimer.unref();
  }

  /**
   * Nothing came for IDLE_CONNECTION_TIMEOUT_MS: nobody needs a connection that is not viewing,
   * has not viewed (a client suspended by ^Z), has not written (a writer fed by a slow pipe), has
   * not asked for the session's description (a client that waits, dt -w or a dt -p whose input
   * has not come yet, asks at once, then more often than that, and may be suspended too) and is
   * not held: one that said hello and then nothing, or stopped in the middle of a frame.
   */
  private closeIfIdle(connection: Connection): void {
    if (!this.connections.has(connection) || connection.socket.writableEnded) return; // leaving already
    // Heard from since the timer was set: quiet for the whole time only that much later.
    const quietMs = performance.now() - connection.lastHeardAt;
    if (quietMs < IDLE_CONNECTION_TIMEOUT_MS) return this.armIdleTimer(connection, IDLE_CONNECTION_TIMEOUT_MS - quietMs);
    // A viewer cut off is being told why, after its backlog: the relay decides when it ends.
    if (this.relay.isLeaving(connection.socket)) return this.armIdleTimer(connection);
    // Waiting for the program to read its input is the program's doing: that may take any time.
    if (connection.isHeld('input')) return this.armIdleTimer(connection);
    // Waiting for room that unfinished frames of others take: it ends, one way or the other.
    if (connection.isHeld('room')) return this.drop(connection, 'no room for this connection\'s input: other connections hold unfinished frames');
    if (connection.decoder.bufferedBytes > 0) return this.drop(connection, 'protocol error: a frame was left unfinished');
    if (this.relay.hasViewer(connection.socket) || connection.attached || connection.wroteInput || connection.askedForDescription) {
      return this.armIdleTimer(connection);
    }
    this.drop(connection);
  }

  private handle(connection: Connection, frame: Frame): void {
    if (!connection.greeted) return this.greet(connection, frame);
    if (connection.awaitsEnding && this.endedAnswer) return this.answerEnded(connection, frame, this.endedAnswer);
    const mayAct = !connection.readOnly;
    switch (frame.type) {
      case FrameType.Attach: {
        const request = decodeAttach(frame.payload);
        if (!this.isCutOff(connection)) this.attach(connection, request);
        return;
      }
      case FrameType.Input:
        connection.wroteInput = true;
        // Typed at a screen that stopped being updated when it was cut off: not for the program.
        if (!mayAct || connection.cutOff) return;
        if (connection.attached) connection.pastes.follow(frame.payload);
        this.inputFlow.offer(connection, frame.payload);
        return;
      case FrameType.Resize: {
        const size = decodeWindowSize(frame.payload); // a malformed one is refused even from a read-only viewer
        if (mayAct && !this.isCutOff(connection)) this.resize(connection, size);
        return;
      }
      case FrameType.Redraw: {
        const method = decodeRedraw(frame.payload);
        if (mayAct && !this.isCutOff(connection)) this.redraw(method, this.outputRead);
        return;
      }
      case FrameType.Detach:
        // A viewer cut off (or told the session ended) that is suspended by ^Z before it reads
        // why stays so: removed, it would never be told, and its attach on fg would be a new viewer's.
        if (this.isCutOff(connection)) return;
        this.relay.removeViewer(connection.socket);
        this.fitRemainingViewers(connection);
        return;
      case FrameType.Kill: {
        const signal = decodeKill(frame.payload);
        if (mayAct) this.signal(connection, signal);
        return;
      }
      case FrameType.InputWritten:
        return this.confirmInputWritten(connection);
      case FrameType.Info: {
        connection.askedForDescription = true;
        // A client that does not read its replies gets no more of them.
        const unreadLimit = this.relay.hasViewer(connection.socket) ? MAX_VIEWER_BACKLOG_BYTES : MAX_UNREAD_REPLY_BYTES;
        if (connection.socket.writableLength > unreadLimit) throw new ProtocolError('requests sent without reading the replies');
        const reply = encodeText(FrameType.Info, this.describe());
        connection.socket.write(reply);
        this.collectGarbage(reply.length);
        return;
      }
      default:
        throw new ProtocolError(`unexpected frame type ${frame.type} from a client`);
    }
  }

  /**
   * A viewer cut off (relay.ts) is being sent why, or has been: its connection ends once it
   * reads that. A client stopped meanwhile and then continued (a laptop that woke up) asks to
   * attach again, or resizes, before it reads it: it is no viewer any more, and neither sizes
   * the program nor has it redrawn for the others. Its stream is ended, or is the relay's to end.
   */
  private isCutOff(connection: Connection): boolean {
    return connection.cutOff || connection.socket.writableEnded || this.relay.isLeaving(connection.socket);
  }

  /**
   * The relay cut a viewer off: from now on it only leaves (see isCutOff). It left the viewers
   * now, not when its connection closes, which for a client stopped all night is the morning:
   * a size it gave the program goes to the viewers that remain, as when it detaches, and a
   * paste it was in the middle of is ended, since nothing it sends from now on is passed on.
   */
  private cutOff(viewer: net.Socket): void {
    for (const connection of this.connections) {
      if (connection.socket !== viewer) continue;
      connection.cutOff = true;
      this.fitRemainingViewers(connection);
      this.endPasteOf(connection);
    }
  }

  /**
   * dt -k: the signal goes to the program's foreground job, and dt -k is told nothing; or why
   * not, and it exits 1. A program that has ended, its end perhaps not reported yet, gets no
   * signal: dt -k is told so as it would be a moment later, once the session has ended.
   */
  private signal(connection: Connection, signal: number): void {
    connection.signalled = true;
    // Told how the session ended already: a signal now would reach nobody, or a stranger with the program's pid.
    if (this.ended) return;
    const outcome = this.program.signalForeground(signal);
    if (outcome.kind === 'refused') this.drop(connection, outcome.reason);
    else if (outcome.kind === 'too-late') {
      this.drop(connection, whyNoSignal(this.statusWillBeKept(), this.hungUp ? TERMINATED : undefined));
    }
  }

  /**
   * The client asks to be told once every byte it sent is in the program's terminal (dt -p
   * before it leaves, so that what it says afterwards, and what comes after it, follows its
   * input). Held input follows in its turn (a redraw under way, a program not reading); if the
   * program ends first, the client gets its status instead, as every client does (see end()).
   */
  private confirmInputWritten(connection: Connection): void {
    if (!connection.takesInputWritten) throw new ProtocolError('asked whether input was written without offering to take the answer');
    if (connection.awaitingWritten) throw new ProtocolError('asked again whether input was written before the answer');
    if (connection.socket.writableLength > MAX_UNREAD_REPLY_BYTES) throw new ProtocolError('requests sent without reading the replies');
    connection.awaitingWritten = true;
    const answer = encodeInputWritten(connection.offeredInputBytes);
    this.inputFlow.whenWritten(connection, () => {
      connection.awaitingWritten = false;
      if (!connection.socket.writableEnded) connection.socket.write(answer);
    });
  }

  /** The first frame must be hello; we answer with ours before judging the version. */
  private greet(connection: Connection, frame: Frame): void {
    if (frame.type !== FrameType.Hello) throw new ProtocolError('expected hello');
    const hello = decodeHello(frame.payload);
    this.sendHello(connection);
    if (hello.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(`protocol version ${hello.version} is not supported by this master (version ${PROTOCOL_VERSION})`);
    }
    connection.greeted = true;
    connection.takesInputWritten = (hello.features & HelloFeature.InputWritten) !== 0;
  }

  private sendHello(connection: Connection): void {
    if (connection.helloSent) return;
    connection.helloSent = true;
    connection.socket.write(masterHello());
  }

  /**
   * A viewer attaches: it sizes the terminal, its terminal is put in the modes the program set,
   * it receives the output from then on, and it may redraw.
   */
  private attach(connection: Connection, request: Attach): void {
    connection.readOnly = request.readOnly;
    connection.attached = true;
    // A read-only viewer has no effect on the program, not even a redraw (a ^L is input).
    if (request.readOnly) return this.addViewer(connection, undefined);
    // Its size and its own redraw are two size changes: input held for a redraw under way must
    // not reach the program between them.
    this.inputFlow.pause('attach');
    try {
      this.setSize(connection, request);
      this.addViewer(connection, request.redraw);
    } finally {
      this.inputFlow.resume('attach');
    }
  }

  /** redraw: the viewer's redraw method; undefined for a read-only viewer, which causes none. */
  private addViewer(connection: Connection, redraw: RedrawMethod | undefined): void {
    if (!this.relay.hasViewer(connection.socket)) this.restoreModes(connection);
    // Asked before the viewer is added: the first viewer lets through the output held for it,
    // which it then receives whole. Redrawn for that by a resize, a program that takes the
    // signal with a key as one event (nano) lost the key typed at once in the creating client.
    const missedOutput = this.outputRead;
    this.relay.addViewer(connection.socket);
    if (redraw !== undefined) this.redraw(redraw, missedOutput);
  }

  /** Puts a terminal about to become a viewer in the program's modes: to it alone, before any output. */
  private restoreModes(connection: Connection): void {
    // Output read but not yet sent goes to the other viewers first: the modes then describe
    // exactly what they were sent, and this viewer's stream starts from there.
    this.relay.flush();
    const restore = this.modes.restoreSequence();
    if (restore.length > 0) for (const frame of encodeDataFrames(FrameType.Output, restore)) connection.socket.write(frame);
  }

  private resize(connection: Connection, size: WindowSize): void {
    if (this.relay.hasViewer(connection.socket)) this.setSize(connection, size);
  }

  /** A viewer's window size becomes the program's: the latest one set wins. */
  private setSize(connection: Connection, size: WindowSize): void {
    connection.windowSize = { cols: size.cols, rows: size.rows };
    connection.sizeSetAt = ++this.sizesSet;
    this.sizer.resize(size.cols, size.rows);
  }

  /**
   * A viewer left (detached, suspended, hung up, killed, cut off). When the program had its size, it
   * takes the size of the viewer still attached that set one last, as tmux fits a window to the
   * clients that remain: left at the size of a window that is gone, the program would go on
   * drawing for it, and every remaining terminal would show its screen wrapped and cut.
   */
  private fitRemainingViewers(left: Connection): void {
    if (this.ended || left.sizeSetAt === 0 || left.sizeSetAt !== this.sizesSet) return;
    let latest: Connection | undefined;
    for (const connection of this.connections) {
      if (connection === left || connection.windowSize === undefined || !this.relay.hasViewer(connection.socket)) continue;
      if (latest === undefined || connection.sizeSetAt > latest.sizeSetAt) latest = connection;
    }
    if (latest?.windowSize !== undefined) this.setSize(latest, latest.windowSize);
  }

  /** missedOutput: the viewer has not seen all the program wrote, so a resize redraw is worth its signals. */
  private redraw(method: RedrawMethod, missedOutput: boolean): void {
    const effective = method === RedrawMethod.Unspecified ? this.spec.redraw : method;
    if (effective === RedrawMethod.CtrlL) {
      if (this.program.isCharacterAtATimeNoEcho()) this.program.write(Buffer.from('\f'));
    } else if (effective === RedrawMethod.Winch) {
      // Refused (another user's job): that job is not redrawn, and the attach goes on.
      this.sizer.signal(() => this.program.signalForeground(signalNumber('SIGWINCH')).kind === 'sent');
    } else if (effective === RedrawMethod.Resize && missedOutput) {
      this.sizer.start();
    }
  }

  /**
   * The session as `dt -l` shows it: running, or ending (the program has ended, and the master
   * finishes the log before it tells anyone), with the program's status. The program's pid is
   * there for an earlier dt -l, which expects it; it has been reaped once the session is
   * ending, so no foreground process is looked up by it (it may be another's by now).
   */
  private describe(): string {
    return JSON.stringify({
      state: this.ending ? 'ending' : 'running',
      socket: this.spec.socket,
      masterPid: process.pid,
      programPid: this.program.pid,
      command: describedCommand(this.spec.command),
      ...(this.ending ? { exit: this.ending.exit } : { foreground: this.program.foregroundCommand() }),
      startedAt: this.record.startedAt,
      clients: this.relay.viewerCount,
      cols: this.program.size.cols,
      rows: this.program.size.rows,
      ...(this.log && { log: this.log.status }),
    });
  }

  /**
   * The creating client of -c or -A left before it attached (killed, its terminal closed):
   * the output held for it flows, as in a dt -n session, and a later viewer gets the modes and
   * a redraw as usual. Once a viewer has attached, nothing is held any more.
   */
  creatingClientLeft(): void {
    if (!this.ended) this.relay.releaseHold();
  }

  /** Ends a connection: after a reason the client will print, if there is one. */
  private drop(connection: Connection, reason?: string): void {
    this.forget(connection);
    if (reason !== undefined && !connection.socket.writableEnded) connection.socket.end(encodeText(FrameType.Error, reason));
    connection.socket.destroySoon();
    destroyOnceFlushTimeout(connection.socket);
  }

  /** A connection leaves the session's accounts (it may be called more than once). */
  private forget(connection: Connection): void {
    clearTimeout(connection.helloTimer);
    clearTimeout(connection.idleTimer);
    this.relay.removeViewer(connection.socket);
    const wasCounted = this.connections.delete(connection);
    this.fitRemainingViewers(connection);
    this.partialFrames.leave(connection);
    this.endPasteOf(connection);
    // What a client typed before it left still reaches the program, in its turn.
    this.inputFlow.leave(connection);
    // What it was and held (an unfinished frame, say) is garbage only a full collection frees.
    if (wasCounted) this.collectGarbage.connectionLeft(connection.decoder.bufferedBytes);
  }

  /**
   * A viewer whose terminal went in the middle of a bracketed paste (hung up, or the client was
   * killed, or cut off) never sends the paste's end: the program, still taking its input as pasted, would
   * take every key typed after a reattach as pasted text too, and show none of it. The end is
   * sent for it, after what it sent, while the program has bracketed paste on (it began the
   * paste). Only for a terminal's paste: what dt -p sends is passed exactly as it is.
   */
  private endPasteOf(connection: Connection): void {
    if (!connection.pastes.inPaste) return;
    connection.pastes.follow(PASTE_END);
    if (!this.ended && this.modes.snapshot().bracketedPaste) this.inputFlow.offer(connection, PASTE_END);
  }

  /** SIGTERM/SIGINT: hang up the program as a closing terminal would, and end without waiting long. */
  terminate(signal: NodeJS.Signals): void {
    if (this.terminatedBy) return;
    this.terminatedBy = signal;
    // The program ended first, on its own (the log's last writes, or the clients' last reads,
    // are under way): the session ends as it was ending, its status told and kept as it would
    // be, and the master then dies of the signal. Its pid, reaped, may be another's by now.
    if (this.ending) return;
    this.hungUp = true;
    // Said before the socket goes: a dt -l that finds no socket finds why, and that SIGUSR1
    // will not make it again. The end removes the record, as for any end nobody need be told of.
    writeRecord({ ...this.record, terminatedBy: signal });
    this.socketFile.withdraw();
    this.program.hangUp();
    setTimeout(() => this.end({ code: 0, signal: signalNumber('SIGHUP') }, TERMINATED), TERMINATE_GRACE_MS).unref();
  }

  /** The program ended (or the session was terminated): once the log has its last output, clients get the status. */
  private end(status: ProgramExit, reason?: string): void {
    if (this.ending) return;
    this.ending = reason === undefined ? { exit: status } : {};
    if (!this.log) return this.tellEnd(status, reason);
    // The log's last writes come first (LOG_CLOSE_TIMEOUT_MS at most, on a disk that does
    // not answer): a script told the status reads FILE next (`dt -w s; tail FILE`), and so
    // does one that finds the status kept. The viewers get the last output meanwhile.
    this.relay.flush();
    const tell = (): void => this.tellEnd(status, reason);
    void this.log.close().then(tell, tell);
  }

  /** Clients get the program's last output and how the session ended; its status is kept if nobody saw it. */
  private tellEnd(status: ProgramExit, reason?: string): void {
    this.ended = true;
    this.relay.flush();
    this.relay.close();
    this.sizer.stop();
    // Kept before the socket goes: a client that finds no socket finds the status.
    const kept = this.keepStatus(status);
    const ending = reason === undefined ? encodeExit(status) : encodeText(FrameType.Error, reason);
    this.endedAnswer = { ending, toKill: encodeText(FrameType.Error, whyNoSignal(kept, reason)) };
    // Closed at once, the socket would reset the connections in its queue, unanswered: those
    // are accepted first (answerAfterEnd), and nobody new can connect meanwhile.
    this.socketFile.closeOnceQueuedAccepted(() => {
      this.listening = false;
      this.recheckClientsGone?.();
    });
    for (const connection of this.connections) {
      // A viewer already cut off has its own last word queued behind its backlog.
      if (connection.socket.writableEnded || this.relay.isLeaving(connection.socket)) continue;
      // A client that has asked for nothing yet is answered what it asks, as one accepted after
      // the end: a dt -k, about to send its signal, must learn that it reaches no program.
      if (!connection.attached && !connection.wroteInput && !connection.askedForDescription && !connection.signalled) {
        connection.awaitsEnding = true;
        continue;
      }
      // A client whose hello is not read yet reads ours first, as from any session.
      this.sendHello(connection);
      // A viewer gets it after the output still waiting for it.
      const lastWord = this.lastWordFor(connection, ending);
      if (!this.relay.sendLastWord(connection.socket, lastWord)) connection.socket.end(lastWord);
    }
    this.resolveOnceClientsLeft(exitCodeOf(status));
  }

  /**
   * How the session ended, for a client: one that asks may have sent its last input just
   * before the end (a command that ends the program) and not yet asked whether it was written:
   * it is told, if all of it was.
   */
  private lastWordFor(connection: Connection, ending: Buffer): Buffer {
    return connection.takesInputWritten && this.inputFlow.isWritten(connection)
      ? Buffer.concat([encodeInputWritten(connection.offeredInputBytes), ending])
      : ending;
  }

  /** A client that had asked for nothing when the program ended asks now: a dt -k is told its signal reaches no program. */
  private answerEnded(connection: Connection, frame: Frame, answer: EndedAnswer): void {
    connection.awaitsEnding = false;
    connection.socket.end(frame.type === FrameType.Kill ? answer.toKill : this.lastWordFor(connection, answer.ending));
  }

  /**
   * Whether the program's status is kept for `dt -l` and the next `dt -a`: when nobody saw it
   * end, and the master did not hang it up (a SIGTERM that came after the program ended
   * changes nothing). Asked before the end (a dt -k that came too late),
   * the creating client of -c or -A, whose output is held, may still come and see it: no.
   */
  private statusWillBeKept(): boolean {
    return this.relay.viewerCount === 0 && !this.hungUp && (this.ended || !this.relay.isHolding);
  }

  /** Keeps the program's status, or removes the session's record, as statusWillBeKept says. True when kept. */
  private keepStatus(status: ProgramExit): boolean {
    if (this.statusWillBeKept()) {
      return writeRecord({ ...this.record, exit: { ...status, endedAt: new Date().toISOString() } }) === undefined;
    }
    removeRecord(process.pid);
    return false;
  }

  /**
   * A connection accepted after the program ended: it was in the socket's queue as the end
   * came. It is told what a client connected a moment earlier is told, the master's hello and
   * then how the session ended, once it has asked for something; a dt -k, whose signal reaches
   * no program, is told that instead, as when the socket is already gone.
   */
  private answerAfterEnd({ socket, reads }: ClientConnection, answer: EndedAnswer): void {
    this.lateConnections.add(socket);
    socket.on('error', () => { /* it left: there is nothing more to tell it */ });
    socket.on('close', () => {
      this.lateConnections.delete(socket);
      this.recheckClientsGone?.();
    });
    destroyOnceFlushTimeout(socket);
    const decoder = new FrameDecoder();
    let greeted = false;
    reads.take = (read) => {
      // Answered: what it sends until it closes is read and dropped (unread, it would reset the connection).
      if (socket.writableEnded) return true;
      try {
        for (const frame of decoder.push(read)) {
          if (greeted) {
            socket.end(frame.type === FrameType.Kill ? answer.toKill : answer.ending);
            return true;
          }
          if (frame.type !== FrameType.Hello) throw new ProtocolError('expected hello');
          greeted = true;
          socket.write(masterHello());
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        socket.destroy();
      } finally {
        decoder.copyOutOf(read);
      }
      return true;
    };
  }

  private resolveOnceClientsLeft(exitCode: number): void {
    const resolve = (): void => {
      this.resolveOutcome(this.terminatedBy ? { exitCode, terminatedBy: this.terminatedBy } : { exitCode });
    };
    const flushDeadline = setTimeout(resolve, EXIT_FLUSH_TIMEOUT_MS);
    flushDeadline.unref();
    const waitForClients = (): void => {
      if (!this.listening && this.lateConnections.size === 0
        && [...this.connections].every((connection) => connection.socket.destroyed)) {
        clearTimeout(flushDeadline);
        resolve();
      }
    };
    this.recheckClientsGone = waitForClients;
    for (const connection of this.connections) connection.socket.on('close', waitForClients);
    waitForClients();
  }
}

/** The master's hello: to every connection, those accepted after the end too. */
function masterHello(): Buffer {
  return encodeHello({ version: PROTOCOL_VERSION, pid: process.pid, features: HelloFeature.InputWritten });
}

/** Why a dt -k that came after the end signals nothing, when no status is kept for dt -a or dt -w. */
const PROGRAM_ENDED = "the session's program has ended";
/** How a session ends that was told to by SIGTERM or SIGINT, as its clients are told. */
const TERMINATED = 'the session was terminated';

/** Why a dt -k signals nothing once the program has ended: its status is kept, or not, or the session was terminated. */
function whyNoSignal(kept: boolean, reason: string | undefined): string {
  return kept ? PROGRAM_ENDED_KEPT : reason ?? PROGRAM_ENDED;
}

function describedCommand(command: readonly string[]): string[] {
  const words: string[] = [];
  let bytes = 0;
  for (const [index, word] of command.entries()) {
    bytes += Buffer.byteLength(word) + 1;
    if (bytes > DESCRIBED_COMMAND_BYTES) return [...words, `[${command.length - index} more words]`];
    words.push(word);
  }
  return words;
}
