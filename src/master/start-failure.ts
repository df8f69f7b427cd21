// A program the master could not start although the creating command found it executable:
// no pty to be had, or the program gone meanwhile. Only the master can meet this, after the
// creating command has returned. The reason is kept in the registry, for `dt -l` and the next
// `dt -a`, and every client that connects meanwhile is told it instead of a hello: the
// creating client of -c or -A, which is already waiting, sees it as its own error.

import type { DtError } from '../common/errors.js';
import type { MasterSpec } from '../common/master-spec.js';
import { FrameType, encodeText } from '../common/protocol.js';
import { removeRecord, writeRecord } from '../common/registry.js';
import type { MasterOutcome } from './session.js';
import type { SocketKeeper } from './socket-keeper.js';

/** How long a -c or -A master that failed waits for its creating client to come and be told. */
const CREATING_CLIENT_WAIT_MS = 10_000;

export function reportStartFailure(spec: MasterSpec, socketFile: SocketKeeper, error: DtError): Promise<MasterOutcome> {
  const now = new Date().toISOString();
  writeRecord({
    socket: spec.socket, masterPid: process.pid, command: spec.command, startedAt: now,
    exit: { code: 1, signal: 0, endedAt: now }, startError: error.message,
  });
  return new Promise((resolve) => {
    const end = (): void => {
      clearTimeout(timer);
      socketFile.close();
      resolve({ exitCode: 1 });
    };
    // -n: nobody is coming; the clients already queued on the socket are accepted first.
    const timer = spec.holdUntilAttach ? setTimeout(end, CREATING_CLIENT_WAIT_MS) : undefined;
    if (!spec.holdUntilAttach) setImmediate(end);
    // What a client sends is read and discarded (its reads' default).
    socketFile.serve(({ socket: client }) => {
      client.on('error', () => { /* the client left without reading: the registry still has the reason */ });
      client.end(encodeText(FrameType.Error, error.message), () => {
        // Told, as a client is told a program's end: the registry need not keep it.
        removeRecord(process.pid);
        if (spec.holdUntilAttach) end();
      });
    }, () => false);
  });
}
