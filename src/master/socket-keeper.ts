// The session socket's file: listened on privately from the start, kept fresh for age-based
// /tmp cleaners, made again when it is deleted under a running session, and removed on every
// way the master ends. A socket a service manager passed is its own: dt leaves its file alone.

import fs from 'node:fs';
import type net from 'node:net';
import { fsPath } from '../common/bytes.js';
import { onShutdown } from '../common/shutdown.js';
import { listenPrivate, markAttached, removeSocket, socketInode } from '../common/socket.js';
import { acceptWithLentReads, type ClientConnection } from './client-reads.js';

/**
 * Age-based /tmp cleaners look at timestamps: keep the socket's fresh. The test suite sets
 * DT_TEST_SOCKET_TOUCH_INTERVAL_MS so as not to wait an hour; nothing else should.
 */
const SOCKET_TOUCH_INTERVAL_MS = Number(process.env['DT_TEST_SOCKET_TOUCH_INTERVAL_MS']) || 60 * 60 * 1000;

export class SocketKeeper {
  private inode: number | undefined;
  private withdrawn = false;
  private onConnection: ((client: ClientConnection) => void) | undefined;
  private isAttached: () => boolean = () => false;
  private touchTimer: NodeJS.Timeout | undefined;

  /** Listens on a new private socket; rejects when it cannot (the caller reports why). */
  static async listen(socketPath: string): Promise<SocketKeeper> {
    return new SocketKeeper(socketPath, await listenPrivate(socketPath), true);
  }

  /**
   * Serves on a socket that is already listening: made by the command that created the
   * session (owned: the master keeps its file from now on), or a service manager's (not owned).
   */
  static adopt(socketPath: string, server: net.Server, owned: boolean): SocketKeeper {
    return new SocketKeeper(socketPath, server, owned);
  }

  /**
   * owned: the master keeps the socket's file (removes it at the end, makes it again on
   * SIGUSR1); not a service manager's, which is left alone
   */
  private constructor(private readonly path: string, private server: net.Server, readonly owned: boolean) {
    this.inode = socketInode(path);
    if (!owned) return;
    // Whatever way the master ends (even an internal error), it takes its socket with it.
    onShutdown(() => removeOwnSocket(this.path, this.inode));
    this.touchTimer = setInterval(() => {
      const now = new Date();
      fs.utimes(fsPath(this.path), now, now, () => { /* a missing socket is recreated on SIGUSR1 */ });
    }, SOCKET_TOUCH_INTERVAL_MS);
    this.touchTimer.unref();
  }

  /** Hands every client that connects, now and on a recreated socket, to onConnection; its reads are lent (client-reads.ts). */
  serve(onConnection: (client: ClientConnection) => void, isAttached: () => boolean): void {
    this.onConnection = onConnection;
    this.isAttached = isAttached;
    acceptWithLentReads(this.server, onConnection);
  }

  /**
   * Marks the file while a client is attached (mode 0700), as dtach does: only while it is this
   * session's file. A file put at its path after it was deleted is another's, not to be changed.
   */
  markAttached(attached: boolean): void {
    if (this.owned && this.inode !== undefined && socketInode(this.path) === this.inode) markAttached(this.path, attached);
  }

  /** A socket file deleted under a running session (a /tmp cleaner, a careless rm) is made again. */
  recreate(): void {
    // Withdrawn: the session is ending, and its file is not to be made again.
    if (!this.owned || this.withdrawn) return;
    const current = socketInode(this.path);
    if (current !== undefined && current === this.inode) return;
    // Someone else's file is there now (a newer session's socket, say): never taken over; dt -l
    // tells the user to end that session first.
    if (current !== undefined) return;
    listenPrivate(this.path).then((fresh) => {
      if (this.withdrawn) {
        fresh.close();
        removeOwnSocket(this.path, socketInode(this.path));
        return;
      }
      this.server.close();
      this.server = fresh;
      if (this.onConnection) acceptWithLentReads(fresh, this.onConnection);
      this.inode = socketInode(this.path);
      this.markAttached(this.isAttached());
    }, () => { /* cannot recreate (directory gone): keep serving existing clients */ });
  }

  /** The session is ending: the file goes, and is not made again; connected clients stay. */
  withdraw(): void {
    if (!this.owned) return;
    this.withdrawn = true;
    clearInterval(this.touchTimer);
    removeOwnSocket(this.path, this.inode);
  }

  /** Stops listening, and removes the file. */
  close(): void {
    this.server.close();
    this.withdraw();
  }

  /**
   * Stops listening without turning anyone away unanswered: a listening socket closed resets
   * the connections still in its queue. The file goes first, so that nobody new connects;
   * the connections already queued are accepted (and handed to onConnection), one per turn of
   * the event loop as Node accepts them, until a turn whose poll accepted none; then the
   * socket is closed, and `closed` called.
   */
  closeOnceQueuedAccepted(closed: () => void): void {
    this.withdraw();
    const server = this.server;
    let accepted = 0;
    const count = (): void => { accepted++; };
    server.on('connection', count);
    let acceptedBefore = -1;
    // Each turn of setImmediate has a poll of the event loop before it.
    const closeOnceNoneCame = (): void => {
      if (accepted !== acceptedBefore) {
        acceptedBefore = accepted;
        setImmediate(closeOnceNoneCame);
        return;
      }
      server.off('connection', count);
      server.close();
      closed();
    };
    setImmediate(closeOnceNoneCame);
  }
}

/**
 * The master's socket file goes as its session ends; one that cannot be removed (a read-only
 * file system) stays, stale, for the next dt -A, -c or -n to replace, and the session still
 * ends as it would have: an error here would cut short what its clients are told.
 */
function removeOwnSocket(socketPath: string, ino: number | undefined): void {
  try {
    removeSocket(socketPath, ino);
  } catch {
    // Stays: see above.
  }
}
