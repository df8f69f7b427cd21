// -F: forget what the registry keeps of ended sessions (the status of a program that ended
// unwatched, a master that died without cleaning up), one socket or all of them. Live
// sessions are never touched.

import { ExitCode, sessionError } from '../common/errors.js';
import { isSessionRunning, readAllRecords, removeRecord } from '../common/registry.js';

/** Forgets every ended record of the socket (an older one may be kept behind a later one). */
export function forgetSession(socket: string): number {
  const records = readAllRecords().filter((record) => record.socket === socket);
  const ended = records.filter((record) => !isSessionRunning(record));
  if (ended.length === 0) {
    throw sessionError(socket, records.length === 0
      ? 'no ended session is kept for this socket'
      : 'the session is running; only an ended session can be forgotten');
  }
  for (const record of ended) removeRecord(record.masterPid);
  return ExitCode.Ok;
}

export function forgetEndedSessions(): number {
  for (const record of readAllRecords()) if (!isSessionRunning(record)) removeRecord(record.masterPid);
  return ExitCode.Ok;
}
