// The master: holds the program's pty, listens on the session socket, and serves clients.
// It outlives every client and exits with the program's status once the program has ended
// and its last output has been handed to the clients.

import fs from 'node:fs';
import type net from 'node:net';
import { ByteQueue } from './byte-queue.js';
import { ignoreUntilHandled } from '../common/debugger.js';
import { DtError, SIGNAL_EXIT_BASE, describeSystemError, sessionError } from '../common/errors.js';
import { findExecutable } from '../common/executable.js';
import { collectAfterOutput } from './memory.js';
import {
  FrameDecoder, FrameType, PROTOCOL_VERSION, ProtocolError, RedrawMethod,
  decodeAttach, decodeHello, decodeKill, decodeRedraw, decodeWindowSize,
  encodeExit, encodeHello, encodeText, type Frame,
} from '../common/protocol.js';
import { ProgramTerminal, type ProgramExit } from './program-terminal.js';
import { readRecords, removeRecord, writeRecord, type SessionRecord } from '../common/registry.js';
import { Relay } from './relay.js';
import type { MasterSpec } from '../common/master-spec.js';
import { onShutdown } from '../common/shutdown.js';
import { listenPrivate, markAttached, removeSocket, socketInode } from '../common/socket.js';

/** A client must say hello within this time or be dropped (it is not a dt client). */
const HELLO_TIMEOUT_MS = 5_000;
/** After SIGTERM, how long the program gets to exit on its SIGHUP before the master leaves anyway. */
const TERMINATE_GRACE_MS = 3_000;
/** How long clients get to read the program's last output and exit status. */
const EXIT_FLUSH_TIMEOUT_MS = 10_000;
/** Input the program has not read yet beyond which clients' input is held (see runMaster). */
const INPUT_HIGH_WATER_BYTES = 1024 * 1024;
/** Age-based /tmp cleaners look at timestamps: keep the socket's fresh. */
const SOCKET_TOUCH_INTERVAL_MS = 60 * 60 * 1000;


interface Connection {
  socket: net.Socket;
  decoder: FrameDecoder;
  greeted: boolean;
  readOnly: boolean;
  /** Input from this client waiting for the program to take what it was sent before. */
  heldInput: ByteQueue;
}

export type ReadyReport = (error: DtError | null) => void;

export interface MasterOutcome {
  /** the program's status: its exit code, or 128+N when killed by signal N */
  exitCode: number;
  /** the signal that told the master to end; the master should die of it, for its supervisor */
  terminatedBy?: NodeJS.Signals;
}

/** Runs a session; resolves with how the master process should end. */
export async function runMaster(spec: MasterSpec, reportReady: ReadyReport): Promise<MasterOutcome> {
  // Signals that arrive while the session is still being set up are held until it can act.
  let onTerminateSignal = (signal: NodeJS.Signals): void => { pendingTerminate ??= signal; };
  let pendingTerminate: NodeJS.Signals | undefined;
  process.on('SIGHUP', () => { /* the master has no terminal; a stray hangup must not end the session */ });
  process.on('SIGTERM', () => onTerminateSignal('SIGTERM'));
  process.on('SIGINT', () => onTerminateSignal('SIGINT'));

  const executable = findExecutable(spec.command[0]!, process.env['PATH']);
  if (typeof executable !== 'string') {
    const error = new DtError(`could not execute ${spec.command[0]}: ${executable.reason}`);
    reportReady(error);
    return { exitCode: 1 };
  }

  let server: net.Server;
  try {
    server = await listenPrivate(spec.socket);
  } catch (error) {
    reportReady(sessionError(spec.socket, describeSystemError(error), error));
    return { exitCode: 1 };
  }
  let inode = socketInode(spec.socket);
  // Whatever way the master ends (even an internal error), it takes its socket with it.
  onShutdown(() => removeSocket(spec.socket, inode));

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  env['DT_SESSION'] = spec.socket;
  let program: ProgramTerminal;
  try {
    program = new ProgramTerminal(executable, spec.command.slice(1), { cols: spec.cols, rows: spec.rows, cwd: spec.cwd, env });
  } catch (error) {
    server.close();
    removeSocket(spec.socket, inode);
    reportReady(new DtError(`could not execute ${spec.command[0]}: ${describeSystemError(error)}`, 1, { cause: error }));
    return { exitCode: 1 };
  }

  const startedAt = new Date();
  const record: SessionRecord = { socket: spec.socket, masterPid: process.pid, command: spec.command, startedAt: startedAt.toISOString() };
  // A new session on this socket supersedes the kept status of an earlier one.
  for (const old of readRecords()) if (old.socket === spec.socket && old.masterPid !== process.pid) removeRecord(old.masterPid);
  writeRecord(record);
  const connections = new Set<Connection>();
  // Input flow: while the program has more than INPUT_HIGH_WATER_BYTES it has not read, each
  // client's further input is held in its connection, and the connection keeps being read
  // (a detach, a resize, the client going away are still seen). Only a client holding that
  // much again is no longer read until the program catches up.
  const takeHeldInput = (connection: Connection): void => {
    if (connection.heldInput.length === 0) return;
    program.write(connection.heldInput.peek());
    connection.heldInput.clear();
    connection.socket.resume();
  };
  program.onInputDrained(() => {
    for (const connection of connections) takeHeldInput(connection);
  });
  const input = (connection: Connection, data: Buffer): void => {
    if (connection.heldInput.length === 0 && program.pendingInputLength <= INPUT_HIGH_WATER_BYTES) {
      program.write(data);
      return;
    }
    connection.heldInput.append(data);
    if (connection.heldInput.length > INPUT_HIGH_WATER_BYTES) connection.socket.pause();
  };
  const relay = new Relay(program, spec.holdUntilAttach, (count) => markAttached(spec.socket, count > 0));
  const collected = collectAfterOutput();
  program.onData((data) => {
    relay.broadcast(data);
    collected(data.length);
  });

  const touchTimer = setInterval(() => {
    const now = new Date();
    fs.utimes(spec.socket, now, now, () => { /* a missing socket is recreated on SIGUSR1 */ });
  }, SOCKET_TOUCH_INTERVAL_MS);
  touchTimer.unref();

  const describe = (): string => JSON.stringify({
    state: 'running',
    socket: spec.socket,
    masterPid: process.pid,
    programPid: program.pid,
    command: spec.command,
    foreground: program.foregroundCommand(),
    startedAt: startedAt.toISOString(),
    clients: relay.viewerCount,
    cols: program.size.cols,
    rows: program.size.rows,
  });

  const redraw = async (method: RedrawMethod): Promise<void> => {
    const effective = method === RedrawMethod.Unspecified ? spec.redraw : method;
    if (effective === RedrawMethod.CtrlL) {
      if (await program.isCharacterAtATimeNoEcho()) program.write(Buffer.from('\f'));
    } else if (effective === RedrawMethod.Winch) {
      program.signalForeground(28 /* SIGWINCH */);
    }
  };

  const handleFrame = (connection: Connection, frame: Frame): void => {
    if (!connection.greeted) {
      if (frame.type !== FrameType.Hello) throw new ProtocolError('expected hello');
      const hello = decodeHello(frame.payload);
      connection.socket.write(encodeHello({ version: PROTOCOL_VERSION, pid: process.pid }));
      if (hello.version !== PROTOCOL_VERSION) {
        throw new ProtocolError(`protocol version ${hello.version} is not supported by this master (version ${PROTOCOL_VERSION})`);
      }
      connection.greeted = true;
      return;
    }
    switch (frame.type) {
      case FrameType.Attach: {
        const attach = decodeAttach(frame.payload);
        connection.readOnly = attach.readOnly;
        if (!attach.readOnly) program.resize(attach.cols, attach.rows);
        relay.addViewer(connection.socket);
        // A read-only viewer has no effect on the program, not even a redraw (a ^L is input).
        if (!attach.readOnly) void redraw(attach.redraw);
        return;
      }
      case FrameType.Input:
        if (!connection.readOnly) input(connection, frame.payload);
        return;
      case FrameType.Resize: {
        const size = decodeWindowSize(frame.payload);
        if (!connection.readOnly && relay.hasViewer(connection.socket)) program.resize(size.cols, size.rows);
        return;
      }
      case FrameType.Redraw:
        if (!connection.readOnly) void redraw(decodeRedraw(frame.payload));
        return;
      case FrameType.Detach:
        relay.removeViewer(connection.socket);
        return;
      case FrameType.Kill:
        if (!connection.readOnly) program.signalForeground(decodeKill(frame.payload));
        return;
      case FrameType.Info:
        connection.socket.write(encodeText(FrameType.Info, describe()));
        return;
      default:
        throw new ProtocolError(`unexpected frame type ${frame.type} from a client`);
    }
  };

  const dropConnection = (connection: Connection, reason?: string): void => {
    relay.removeViewer(connection.socket);
    // What a client typed before it left still reaches the program, in its turn.
    takeHeldInput(connection);
    connections.delete(connection);
    if (reason !== undefined && !connection.socket.destroyed) connection.socket.end(encodeText(FrameType.Error, reason));
    connection.socket.destroySoon();
  };

  const accept = (socket: net.Socket): void => {
    const connection: Connection = { socket, decoder: new FrameDecoder(), greeted: false, readOnly: false, heldInput: new ByteQueue() };
    connections.add(connection);
    const helloTimer = setTimeout(() => { if (!connection.greeted) dropConnection(connection); }, HELLO_TIMEOUT_MS);
    helloTimer.unref();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of connection.decoder.push(chunk)) {
          if (!connections.has(connection)) return;
          handleFrame(connection, frame);
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        dropConnection(connection, `protocol error: ${error.message}`);
      }
    });
    socket.on('end', () => dropConnection(connection));
    // EPIPE/ECONNRESET: the client vanished (killed, terminal gone); it simply stops being served.
    socket.on('error', () => dropConnection(connection));
    socket.on('close', () => {
      clearTimeout(helloTimer);
      relay.removeViewer(socket);
      takeHeldInput(connection);
      connections.delete(connection);
    });
  };
  server.on('connection', accept);

  // A socket file deleted under a running session (a /tmp cleaner, a careless rm) is made again.
  const recreateSocket = (): void => {
    const current = socketInode(spec.socket);
    if (current !== undefined && current === inode) return;
    if (current !== undefined) return; // someone else's file is there now: leave it alone
    listenPrivate(spec.socket).then((fresh) => {
      if (finished || terminating) {
        fresh.close();
        removeSocket(spec.socket, socketInode(spec.socket));
        return;
      }
      server.close();
      server = fresh;
      server.on('connection', accept);
      inode = socketInode(spec.socket);
      markAttached(spec.socket, relay.viewerCount > 0);
    }, () => { /* cannot recreate (directory gone): keep serving existing clients */ });
  };

  let terminating = false;
  let terminatedBy: NodeJS.Signals | undefined;
  const terminate = (signal: NodeJS.Signals): void => {
    if (terminating) return;
    terminating = true;
    terminatedBy = signal;
    removeSocket(spec.socket, inode);
    program.hangUp();
    setTimeout(() => finish({ code: 0, signal: 1 }, 'the session was terminated'), TERMINATE_GRACE_MS).unref();
  };

  let finished = false;
  let resolveOutcome!: (outcome: MasterOutcome) => void;
  const exited = new Promise<MasterOutcome>((resolve) => { resolveOutcome = resolve; });
  const resolveExit = (exitCode: number): void => resolveOutcome(terminatedBy ? { exitCode, terminatedBy } : { exitCode });

  const finish = (status: ProgramExit, reason?: string): void => {
    if (finished) return;
    finished = true;
    relay.flush();
    relay.close();
    server.close();
    removeSocket(spec.socket, inode);
    // Nobody saw the program end: keep its status for `dt -l` and the next `dt -a`.
    if (relay.viewerCount === 0 && !terminating) writeRecord({ ...record, exit: { ...status, endedAt: new Date().toISOString() } });
    else removeRecord(process.pid);
    for (const connection of connections) {
      // A viewer already cut off has its own last word queued behind its backlog.
      if (connection.socket.writableEnded) continue;
      connection.socket.end(reason === undefined ? encodeExit(status) : encodeText(FrameType.Error, reason));
    }
    const exitCode = status.signal > 0 ? SIGNAL_EXIT_BASE + status.signal : status.code;
    const flushDeadline = setTimeout(() => resolveExit(exitCode), EXIT_FLUSH_TIMEOUT_MS);
    flushDeadline.unref();
    const waitForClients = (): void => {
      if ([...connections].every((connection) => connection.socket.destroyed)) {
        clearTimeout(flushDeadline);
        resolveExit(exitCode);
      }
    };
    for (const connection of connections) connection.socket.on('close', waitForClients);
    waitForClients();
  };
  program.onExit((status) => finish(status));

  process.off('SIGUSR1', ignoreUntilHandled);
  process.on('SIGUSR1', recreateSocket);
  onTerminateSignal = terminate;
  if (pendingTerminate) terminate(pendingTerminate);

  reportReady(null);
  return exited;
}
