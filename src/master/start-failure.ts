// A session the master cannot start on a socket it did not bind: a program that cannot be
// executed or a log that cannot be opened (a dt -N that a service manager started: no creating
// command checked them first), no pty to be had, or the program gone since the creating command
// found it executable. Clients may be queued on the socket already: the reason is kept in the
// registry, for `dt -l` and the next `dt -a`, and every client that connects meanwhile is told
// it instead of a hello: the creating client of -c or -A, which is already waiting, sees it as
// its own error.
//
// The master ends only once each client it told has closed its connection. Closed by a master
// that has not read all the client sent (its hello, written as it connected), a unix socket is
// reset: the client's kernel marks it ECONNRESET, and a client whose event loop has not yet
// seen its connect complete (a busy machine) learns only that, from the connect, and never
// reads the reason waiting for it. Waiting for the client's own close, reading and discarding
// what it sends, no reset is left.

import type net from 'node:net';
import { ExitCode, type DtError } from '../common/errors.js';
import type { MasterSpec } from '../common/master-spec.js';
import { FrameType, encodeText } from '../common/protocol.js';
import { removeRecord, writeRecord } from '../common/registry.js';
import { destroyOnceFlushTimeout } from './connection.js';
import type { MasterOutcome } from './session.js';
import type { SocketKeeper } from './socket-keeper.js';

/** How long a -c or -A master that failed waits for its creating client to come and be told. */
const CREATING_CLIENT_WAIT_MS = 10_000;

/**
 * creatingClientGone: for -c and -A, calls its argument once the creating client has exited
 * (see watchCreatingClient): it will never come, and the master need not wait for it.
 */
export function reportStartFailure(
  spec: MasterSpec, socketFile: SocketKeeper, error: DtError, creatingClientGone?: (gone: () => void) => void,
): Promise<MasterOutcome> {
  const now = new Date().toISOString();
  writeRecord({
    socket: spec.socket, masterPid: process.pid, command: spec.command, startedAt: now,
    exit: { code: ExitCode.Failure, signal: 0, endedAt: now }, startError: error.message,
  });
  return new Promise((resolve) => {
    const clients = new Set<net.Socket>();
    let listening = true;
    const resolveOnceClientsLeft = (): void => {
      if (!listening && clients.size === 0) resolve({ exitCode: ExitCode.Failure });
    };
    const stopListening = (): void => {
      if (!listening) return;
      clearTimeout(timer);
      // Those already queued on the socket are accepted and told first.
      socketFile.closeOnceQueuedAccepted(() => {
        listening = false;
        resolveOnceClientsLeft();
      });
    };
    // -n: nobody is coming; -c and -A wait for their creating client.
    const timer = spec.holdUntilAttach ? setTimeout(stopListening, CREATING_CLIENT_WAIT_MS) : undefined;
    if (!spec.holdUntilAttach) setImmediate(stopListening);
    creatingClientGone?.(stopListening);
    // What a client sends is read and discarded (its reads' default) until it closes.
    socketFile.serve(({ socket: client }) => {
      clients.add(client);
      let readAll = false;
      // A dt client closes at once; one that does not is not waited for long.
      destroyOnceFlushTimeout(client);
      client.on('end', () => { readAll = true; });
      client.on('error', () => { /* the client left without reading: the registry still has the reason */ });
      client.on('close', (hadError) => {
        clients.delete(client);
        // An end after ours, no reset: the client read the reason before it closed. Told, as a
        // client is told a program's end: the registry need not keep it.
        if (readAll && !hadError) {
          removeRecord(process.pid);
          if (spec.holdUntilAttach) stopListening();
        }
        resolveOnceClientsLeft();
      });
      client.end(encodeText(FrameType.Error, error.message));
    }, () => false);
  });
}
