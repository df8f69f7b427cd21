// One-shot requests to a running session: -k (signal the program) and the description
// that -l shows.

import { ExitCode, sessionError } from '../common/errors.js';
import { FrameType, ProtocolError, encodeFrame, encodeKill, type ExitStatus } from '../common/protocol.js';
import type { OutputLogStatus } from '../common/master-spec.js';
import { openSession } from './session-connection.js';

/** A live master answers an info request at once. */
const INFO_TIMEOUT_MS = 2_000;

export async function sendSignal(socketPath: string, signal: number): Promise<number> {
  const { socket, decoder } = await openSession(socketPath);
  // The master answers only when the kernel refused the signal (another user's job): why.
  let refusal: string | undefined;
  const receive = (chunk: Buffer): void => {
    try {
      for (const frame of decoder.push(chunk)) if (frame.type === FrameType.Error) refusal = frame.payload.toString('utf8');
    } catch (error) {
      // Garbage after our request: whatever the master meant, there is no reason to report.
      if (!(error instanceof ProtocolError)) throw error;
    }
  };
  socket.on('data', receive);
  socket.on('error', () => { /* the master closing first is fine: the signal was sent */ });
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.end(encodeKill(signal));
    receive(Buffer.alloc(0)); // what came with the hello
  });
  if (refusal !== undefined) throw sessionError(socketPath, refusal);
  return ExitCode.Ok;
}

export interface SessionInfo {
  /** ending: the program has ended, and the master finishes its -L log before it tells anyone (earlier masters never say so) */
  state: 'running' | 'ending';
  socket: string;
  masterPid: number;
  programPid: number;
  command: string[];
  foreground?: string;
  /** the program's status, while ending (absent when the master, terminated, gave up waiting for it) */
  exit?: ExitStatus;
  startedAt: string;
  clients: number;
  cols: number;
  rows: number;
  log?: OutputLogStatus;
}

export async function querySession(socketPath: string): Promise<SessionInfo> {
  const { socket, decoder } = await openSession(socketPath);
  return new Promise<SessionInfo>((resolve, reject) => {
    const timer = setTimeout(() => done(sessionError(socketPath, 'the session did not describe itself in time')), INFO_TIMEOUT_MS);
    const done = (error: Error | null, info?: SessionInfo): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(info!);
    };
    const onFrames = (frames: ReturnType<typeof decoder.push>): void => {
      const reply = frames.find((frame) => frame.type === FrameType.Info);
      if (reply) done(null, JSON.parse(reply.payload.toString('utf8')) as SessionInfo);
    };
    const receive = (chunk: Buffer): void => {
      try {
        onFrames(decoder.push(chunk));
      } catch (error) {
        done(sessionError(socketPath, 'the session sent garbage', error));
      }
    };
    socket.on('data', receive);
    socket.on('error', () => { /* reported by 'close' */ });
    socket.on('close', () => done(sessionError(socketPath, 'the session closed the connection')));
    socket.write(encodeFrame(FrameType.Info));
    receive(Buffer.alloc(0)); // what came with the hello
  });
}
