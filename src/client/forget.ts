// -F: forget what the registry keeps of ended sessions (the status of a program that ended
// unwatched, a master that died without cleaning up), one socket or all of them. Live
// sessions are never touched.

import { ExitCode, sessionError } from '../common/errors.js';
import { isMasterAlive, readRegistry, removeRecord, type SessionRecord } from '../common/registry.js';

function hasEnded(record: SessionRecord): boolean {
  return record.exit !== undefined || !isMasterAlive(record);
}

export function forgetSession(socket: string): number {
  const record = readRegistry().records.find((each) => each.socket === socket);
  if (record === undefined) throw sessionError(socket, 'no ended session is kept for this socket');
  if (!hasEnded(record)) throw sessionError(socket, 'the session is running; only an ended session can be forgotten');
  removeRecord(record.masterPid);
  return ExitCode.Ok;
}

export function forgetEndedSessions(): number {
  for (const record of readRegistry().records) if (hasEnded(record)) removeRecord(record.masterPid);
  return ExitCode.Ok;
}
