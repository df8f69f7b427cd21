// -w: wait until the program ends and exit with its status, printing nothing. The client
// connects as any client does but never attaches: the master tells every connection how the
// program ended. A status kept for a program that ended unwatched is collected at once and
// forgotten, as `dt -a` does. A waiter whose parent has ended (run by ssh without -t, the
// connection dropped: parent-watch.ts) stops waiting, and takes no status: nobody would get it.

import fs from 'node:fs';
import { fsPath } from '../common/bytes.js';
import { DtError, exitCodeOf, sessionError } from '../common/errors.js';
import { FrameType, ProtocolError, decodeExit, type Frame } from '../common/protocol.js';
import { findExitedRecord, removeRecord, type SessionRecord } from '../common/registry.js';
import { currentParent, parentHasChanged, watchParent } from './parent-watch.js';
import { isRefusedByNobody, keepConnectionAlive, openSession, type SessionConnection } from './session-connection.js';

type KeptExit = NonNullable<SessionRecord['exit']>;

export async function waitForSession(socketPath: string): Promise<number> {
  const parent = currentParent();
  const kept = collectKeptStatus(socketPath);
  if (kept !== undefined) return kept;
  let session: SessionConnection;
  try {
    session = await openSession(socketPath);
  } catch (error) {
    // The program may have ended between the look at the socket and the connect; or it
    // ended before, and its socket file is a service manager's, left where nobody listens.
    const endedMeanwhile = collectKeptStatus(socketPath, isRefusedByNobody(error));
    if (endedMeanwhile !== undefined) return endedMeanwhile;
    throw error;
  }
  const status = await waitForExitFrame(socketPath, session, parent);
  // Ended within a look of the parent's end: the status stays kept for whoever comes next.
  if (parentHasChanged(parent)) throw adoptedError(socketPath);
  // Seen now: if the master kept it (nobody was attached), it is not kept any longer.
  removeRecord(session.masterPid);
  return status;
}

function adoptedError(socketPath: string): DtError {
  return sessionError(socketPath, 'stopped waiting: the process that ran dt -w has ended (an ssh connection that dropped?), so nobody would get the status');
}

/** The kept status of a program that ended on this socket while nobody watched, forgotten once read. */
function collectKeptStatus(socketPath: string, nobodyListens = false): number | undefined {
  const exit = takeKeptExit(socketPath, nobodyListens);
  return exit === undefined ? undefined : exitCodeOf(exit);
}

/**
 * A program that ended while nobody was attached left its status behind: it is taken (read and
 * forgotten) by the first `dt -a` or `dt -w`. Undefined while the session runs or when there is
 * none. A session that never started says why, as an error. The socket file is taken to mean
 * the session runs, unless a connect found nobody listening on it (`nobodyListens`): a
 * service manager keeps its socket file when the program ends.
 */
export function takeKeptExit(socketPath: string, nobodyListens = false): KeptExit | undefined {
  if (!nobodyListens && fs.existsSync(fsPath(socketPath))) return undefined;
  const record = findExitedRecord(socketPath);
  if (!record?.exit) return undefined;
  removeRecord(record.masterPid);
  // Not a status of the program: it never ran.
  if (record.startError !== undefined) throw sessionError(socketPath, record.startError);
  return record.exit;
}

function waitForExitFrame(socketPath: string, { socket, decoder }: SessionConnection, parent: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let lastError: string | undefined;
    let settled = false;
    keepConnectionAlive(socket);
    const stopWatching = watchParent(parent, () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(adoptedError(socketPath));
    });
    socket.on('close', stopWatching);
    const onFrames = (frames: Frame[]): void => {
      for (const frame of frames) {
        if (frame.type === FrameType.Error) lastError = frame.payload.toString('utf8');
        if (frame.type !== FrameType.Exit || settled) continue;
        settled = true;
        resolve(exitCodeOf(decodeExit(frame.payload)));
        socket.destroy();
        return;
      }
    };
    const take = (frames: () => Frame[]): void => {
      try {
        onFrames(frames());
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        settled = true;
        socket.destroy();
        reject(sessionError(socketPath, `the session sent garbage: ${error.message}`, error));
      }
    };
    socket.on('data', (chunk: Buffer) => take(() => decoder.push(chunk)));
    socket.on('error', () => { /* reported by 'close' */ });
    socket.on('close', () => {
      if (settled) return;
      settled = true;
      reject(sessionError(socketPath, lastError ?? 'lost the session: its master went away without a status'));
    });
    take(() => decoder.push(Buffer.alloc(0))); // what came with the hello
  });
}
