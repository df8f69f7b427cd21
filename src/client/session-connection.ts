// The client side of a connection to a master: connect, exchange hellos, and turn connection
// failures into the messages users see. Used by attach, push, kill, wait and list, and to say
// what listens on a socket where no new session can be made (describeListener).

import type net from 'node:net';
import { DtError, ExitCode, describeSystemError, sessionError } from '../common/errors.js';
import {
  FrameDecoder, FrameType, IDLE_CONNECTION_TIMEOUT_MS, PROTOCOL_VERSION, decodeHello, encodeFrame, encodeHello, type Frame,
} from '../common/protocol.js';
import type { LentReads } from '../common/lent-reads.js';
import { isStopped } from '../common/process-stat.js';
import { PROGRAM_ENDED_KEPT, findExitedRecord, isNewer, isSessionRunning, readRecords, type SessionRecord } from '../common/registry.js';
import { connectSocket, isSocketFile, isSymbolicLink } from '../common/socket.js';
import { writeAtOnce } from '../common/write-at-once.js';

/**
 * A running master answers at once, one still starting as soon as Node has started (the
 * socket listens before the master runs); silence means something else owns the socket.
 */
const HELLO_REPLY_TIMEOUT_MS = 5_000;

/** How often a client that only waits asks for the session's description: well within the master's idle limit. */
const KEEPALIVE_INTERVAL_MS = IDLE_CONNECTION_TIMEOUT_MS / 3;

/**
 * The master closes a connection that says nothing for IDLE_CONNECTION_TIMEOUT_MS unless it
 * views or has written, and a program may run, or a pipe stay quiet, for days: a client that
 * waits (dt -w; dt -p before its input comes) asks for the session's description now and then,
 * which masters of every version answer, and ignores the reply. It asks at once too: a master
 * keeps a connection that has asked, which a client suspended by ^Z (and so silent) needs.
 * Returns the way to stop; it stops by itself when the connection closes.
 */
export function keepConnectionAlive(socket: net.Socket): () => void {
  const ask = (): void => { socket.write(encodeFrame(FrameType.Info)); };
  ask();
  const timer = setInterval(ask, KEEPALIVE_INTERVAL_MS);
  const stop = (): void => clearInterval(timer);
  socket.once('close', stop);
  return stop;
}

export interface SessionConnection {
  socket: net.Socket;
  /** holds what came after the master's hello, undecoded: the next push, of nothing even, returns it */
  decoder: FrameDecoder;
  masterPid: number;
  /** What the master offers beyond its protocol version (HelloFeature bits). */
  features: number;
  /** Set when the session was opened with LentReads: the socket is then paused after the hello. */
  reads?: LentReads;
}

export interface SessionOptions {
  /** the socket's reads go there, not to 'data' events (attach, which relays output) */
  reads?: LentReads;
  /**
   * goes out with the hello, without waiting for the answer: a master reads it only once it
   * has accepted the hello, and ignores it otherwise
   */
  request?: Buffer;
  /**
   * may write more, from the moment the hello is on its way: at once, before the connection is
   * known to have succeeded (if it has not, the writes are dropped and openSession rejects)
   */
  onConnected?: (socket: net.Socket) => void;
  /** HelloFeature bits this client offers in its hello: frames it takes beyond its protocol version */
  features?: number;
}

/**
 * Who answered a connection that did not become a session: a dt master (with an error, or
 * another protocol version), something else (a reply that is not a dt hello), or nobody (the
 * connection was closed, or stayed silent, before any reply).
 */
export type Answerer = 'dt' | 'other' | 'nobody';

/** openSession's refusal, as `dt: <socket>: <reason>`, with who refused. */
export class SessionRefusal extends DtError {
  constructor(socketPath: string, readonly reason: string, readonly answerer: Answerer, cause?: unknown) {
    super(`${socketPath}: ${reason}`, ExitCode.Failure, { cause });
  }
}

/** Connects and exchanges hellos. */
export async function openSession(socketPath: string, { reads, request, onConnected, features }: SessionOptions = {}): Promise<SessionConnection> {
  const hello = encodeHello({ version: PROTOCOL_VERSION, pid: 0, features: features ?? 0 });
  const greeting = request === undefined ? hello : Buffer.concat([hello, request]);
  // Once connected, a failed write or an end (a master that cannot take the connection) may
  // come before the listeners below: it is kept for them.
  let early: { error?: Error } | undefined;
  const keepEarlyError = (error: Error): void => { early ??= { error }; };
  const keepEarlyClose = (): void => { early ??= {}; };
  let socket: net.Socket;
  try {
    // The hello goes as the connection is made, not a turn of the event loop later: the master
    // has it while this client goes on (a connection that failed takes it into its queue).
    socket = await connectSocket(socketPath, reads?.onread, (connecting) => {
      connecting.on('error', keepEarlyError);
      connecting.on('close', keepEarlyClose);
      writeAtOnce(connecting, greeting);
      onConnected?.(connecting);
    });
  } catch (error) {
    throw connectError(socketPath, error);
  }
  const decoder = new FrameDecoder();
  return new Promise((resolve, reject) => {
    const fail = (reason: string, answerer: Answerer, cause?: unknown): void => {
      cleanup();
      socket.destroy();
      reject(new SessionRefusal(socketPath, reason, answerer, cause));
    };
    const timer = setTimeout(() => fail(describeSilence(socketPath), 'nobody'), HELLO_REPLY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      let frames: Frame[];
      try {
        // The hello alone: what follows it in the same read is the session's, judged by the caller.
        frames = decoder.push(chunk, 1);
      } catch (error) {
        return fail(NOT_A_SESSION, 'other', error);
      }
      const [first] = frames;
      if (first === undefined) return;
      if (first.type === FrameType.Error) return fail(first.payload.toString('utf8'), 'dt');
      if (first.type !== FrameType.Hello) return fail(NOT_A_SESSION, 'other');
      let hello;
      try {
        hello = decodeHello(first.payload);
      } catch (error) {
        return fail(NOT_A_SESSION, 'other', error);
      }
      if (hello.version !== PROTOCOL_VERSION) {
        return fail(
          `the session's master (pid ${hello.pid}) speaks protocol version ${hello.version}, ` +
          `this dt speaks version ${PROTOCOL_VERSION}; attach with the dt that started the session`,
          'dt',
        );
      }
      cleanup();
      // The reader's owner takes over at its own pace: no read may find nobody to take it.
      if (reads) socket.pause();
      resolve({ socket, decoder, masterPid: hello.pid, features: hello.features, ...(reads && { reads }) });
    };
    // Before its hello, a master only closes a connection it could not take: libuv accepts and
    // closes what it has no descriptor for (EMFILE). The client sees an end, EPIPE or ECONNRESET.
    const onClose = (): void => fail(describeRefusal(socketPath), 'nobody');
    const onError = (error: Error): void => fail(describeRefusal(socketPath), 'nobody', error);
    const cleanup = (): void => {
      clearTimeout(timer);
      if (reads) reads.take = () => true;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.off('error', keepEarlyError);
      socket.off('close', keepEarlyClose);
    };
    if (reads) {
      // The hello's reads are copied: they are few and short, and what follows it is kept.
      reads.take = (read) => {
        onData(Buffer.from(read));
        return true;
      };
    } else {
      socket.on('data', onData);
    }
    socket.on('close', onClose);
    socket.on('error', onError);
    if (early?.error) onError(early.error);
    else if (early) onClose();
  });
}

const NOT_A_SESSION = 'not a dt session (unexpected reply)';

/**
 * Why no new session can be made on a socket something listens on, asked as a client asks:
 * a dt session that answers, something else, or something that does not answer (up to the
 * 5 s a client waits). The connection is closed at once, and the socket left alone.
 */
export async function describeListener(socketPath: string): Promise<string> {
  try {
    (await openSession(socketPath)).socket.destroy();
  } catch (error) {
    if (!(error instanceof SessionRefusal)) throw error;
    if (error.answerer === 'other') return 'something that is not a dt session is listening on this socket (unexpected reply)';
    if (error.answerer === 'nobody') return `this socket is in use: ${error.reason}`;
  }
  return 'a session is already running on this socket';
}

/**
 * The master that serves this socket according to the registry, if it is running: of two (an
 * earlier one's socket file was deleted and taken over), the later.
 */
function registeredMaster(socketPath: string): number | undefined {
  let newest: SessionRecord | undefined;
  for (const record of readRecords()) {
    if (record.socket !== socketPath || !isSessionRunning(record)) continue;
    if (newest === undefined || isNewer(record, newest)) newest = record;
  }
  return newest?.masterPid;
}

/** Why a socket that accepted the connection said nothing. */
function describeSilence(socketPath: string): string {
  const pid = registeredMaster(socketPath);
  if (pid === undefined) return `no reply in ${HELLO_REPLY_TIMEOUT_MS / 1000} s: not a dt session, or its master is not answering`;
  if (isStopped(pid)) return `the session is not answering: its master (pid ${pid}) is stopped; kill -CONT ${pid} resumes it`;
  return `the session is not answering: its master (pid ${pid}) did not reply in ${HELLO_REPLY_TIMEOUT_MS / 1000} s`;
}

/**
 * Why the socket closed (or reset) a connection before its hello: a dt master does that only
 * when it has no descriptor for it; a socket no master is registered for may be anything.
 */
function describeRefusal(socketPath: string): string {
  const pid = registeredMaster(socketPath);
  if (pid === undefined) {
    return 'the session closed the connection without answering: not a dt session, or its master is out of file descriptors (ulimit -n)';
  }
  return `the session closed the connection without answering: its master (pid ${pid}) may be out of file descriptors (ulimit -n)`;
}

function connectError(socketPath: string, error: unknown): DtError {
  const code = (error as NodeJS.ErrnoException).code;
  // connect(2) fails otherwise: these come from the hello written as it succeeded, to a master
  // that closed the connection at once (with the hello unread: a reset).
  if (code === 'ECONNRESET' || code === 'EPIPE') return new SessionRefusal(socketPath, describeRefusal(socketPath), 'nobody', error);
  if (code === 'ECONNREFUSED') {
    // connect(2) on a file that is not a socket is refused too; say which it is.
    if (!isSocketFile(socketPath)) return sessionError(socketPath, 'Not a socket', error);
    // A service manager's socket file stays when the program ends (dt -N, socket activation).
    const ended = describeEndedSession(socketPath);
    return sessionError(socketPath, ended ?? NOBODY_LISTENS, error);
  }
  if (code === 'ENOENT' && isSymbolicLink(socketPath)) {
    return sessionError(socketPath, 'No such file or directory (a symbolic link to a missing file)', error);
  }
  if (code === 'ENOENT') {
    const ended = describeEndedSession(socketPath) ?? describeTerminatedSession(socketPath);
    if (ended !== undefined) return sessionError(socketPath, ended, error);
  }
  return sessionError(socketPath, describeSystemError(error), error);
}

const NOBODY_LISTENS = 'the session is gone (nobody is listening on this socket)';

/**
 * True when the connect was refused by a socket file nobody listens on: a master that was
 * killed left it, or a service manager (dt -N, socket activation), which keeps the file once
 * the program has ended and may no longer listen on it (its socket unit stopped).
 */
export function isRefusedByNobody(error: unknown): boolean {
  return error instanceof Error && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
}

/**
 * Why a socket is gone whose master was told to end by a signal (SIGTERM): it removed the
 * socket at once, and waits a few seconds for its program, which it hung up, to exit.
 */
function describeTerminatedSession(socketPath: string): string | undefined {
  const record = readRecords().find((candidate) => candidate.socket === socketPath && candidate.terminatedBy !== undefined && isSessionRunning(candidate));
  return record === undefined ? undefined : `the session is ending: its master was terminated by ${record.terminatedBy}`;
}

/**
 * Why a socket is gone whose program ended while nobody was attached: its status is kept in
 * the registry, and read (and forgotten) by dt -a or dt -w, not here (dt -k, dt -p).
 */
function describeEndedSession(socketPath: string): string | undefined {
  const record = findExitedRecord(socketPath);
  if (record === undefined) return undefined;
  if (record.startError !== undefined) return `the session's program could not be started: ${record.startError}`;
  return PROGRAM_ENDED_KEPT;
}
