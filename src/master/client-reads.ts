// The clients' connections, read into one buffer that all of them share (the `onread` option
// of net.Socket): a keystroke's frame costs the master no new Buffer (a 64 KiB allocation cut
// down to the read), no stream machinery, no 'data' event and no turn of Node's tick queue on
// its way to the program. net.Server takes no such option, so a connection is accepted paused
// (pauseOnConnect) and its handle is given to a socket made with one.

import net from 'node:net';
import { LentReads } from '../common/lent-reads.js';

/** The buffer every client's reads land in: one read is handled before the next is made. */
const CLIENT_READ_BUFFER_BYTES = 64 * 1024;

let sharedBuffer: Buffer | undefined;

/** A client's connection and its reads, each lent to `reads.take` until it returns. */
export interface ClientConnection {
  readonly socket: net.Socket;
  readonly reads: LentReads;
}

/** The private parts of net that a handle passes through. */
interface SocketInternals {
  _handle: unknown;
  server?: net.Server | null;
  _server?: net.Server | null;
}

/** Hands each connection the server accepts to onConnection, its reads lent (discarded until `reads.take` is set). */
export function acceptWithLentReads(server: net.Server, onConnection: (client: ClientConnection) => void): void {
  (server as net.Server & { pauseOnConnect: boolean }).pauseOnConnect = true;
  server.on('connection', (accepted: net.Socket) => onConnection(readIntoSharedBuffer(accepted)));
}

/** A connection accepted paused, moved to a socket that reads into the shared buffer. */
function readIntoSharedBuffer(accepted: net.Socket): ClientConnection {
  sharedBuffer ??= Buffer.allocUnsafe(CLIENT_READ_BUFFER_BYTES);
  const reads = new LentReads(sharedBuffer);
  const old = accepted as unknown as SocketInternals;
  const handle = old._handle;
  old._handle = null;
  const socket = new net.Socket({ handle, readable: true, writable: true, onread: reads.onread } as net.SocketConstructorOpts);
  // The server counts its connections until their sockets are destroyed: this one's now.
  const moved = socket as unknown as SocketInternals;
  moved.server = old.server ?? null;
  moved._server = old._server ?? null;
  old.server = null;
  old._server = null;
  return { socket, reads };
}
