// Where a master's listening socket comes from when the master does not bind it itself: the
// command that created the session, or a service manager (systemd socket activation:
// LISTEN_PID, LISTEN_FDS, the socket at descriptor 3). Either way the master inherits it as
// descriptor 3, close-on-exec from Node's start (see LISTENING_FD).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describeSystemError, sessionError } from '../common/errors.js';
import { LISTENING_FD } from '../common/master-spec.js';
import { readListeningSockets } from '../common/socket.js';

/** The first descriptor a service manager passes (SD_LISTEN_FDS_START in sd-daemon.h). */
const SD_LISTEN_FDS_START = 3;

/** The socket the creating command bound and passed on, at LISTENING_FD. */
export function adoptHandedOverSocket(socketPath: string): Promise<net.Server> {
  return listenOn(LISTENING_FD, socketPath);
}

/**
 * The listening socket a service manager passed to this process, or undefined when it passed
 * none. As sd_listen_fds(3) with unset_environment, the variables are removed either way, so
 * the program does not take them for its own.
 */
export async function serviceManagerSocket(socketPath: string): Promise<net.Server | undefined> {
  const { LISTEN_PID: pid, LISTEN_FDS: count } = process.env;
  delete process.env['LISTEN_PID'];
  delete process.env['LISTEN_FDS'];
  delete process.env['LISTEN_FDNAMES'];
  if (pid === undefined || Number(pid) !== process.pid) return undefined;
  if (count !== '1') {
    throw sessionError(socketPath, `the service manager passed ${count ?? 'no'} sockets; dt -N takes exactly one (Accept=no)`);
  }
  const bound = listeningUnixSocketPath(SD_LISTEN_FDS_START);
  if (bound === undefined) {
    throw sessionError(socketPath, 'the service manager did not pass a listening unix stream socket (ListenStream=, Accept=no)');
  }
  if (path.resolve(bound) !== socketPath) {
    throw sessionError(socketPath, `the service manager's socket is ${bound}, not this one`);
  }
  return listenOn(SD_LISTEN_FDS_START, socketPath);
}

function listenOn(fd: number, socketPath: string): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(sessionError(socketPath, describeSystemError(error), error));
    server.once('error', onError);
    server.listen({ fd }, () => {
      server.off('error', onError);
      // From now on its errors are accept(2)'s (EMFILE, ENFILE, ENOMEM): libuv has closed the
      // connection it could not take, the client is told, and the server goes on listening.
      server.on('error', () => {});
      resolve(server);
    });
  });
}

/**
 * The path a descriptor's unix stream socket listens on, from /proc/net/unix (Node tells
 * neither the kind nor the name of a socket it did not bind); undefined for anything else.
 */
function listeningUnixSocketPath(fd: number): string | undefined {
  let inode: number;
  try {
    inode = fs.fstatSync(fd).ino;
  } catch {
    return undefined; // not open
  }
  return readListeningSockets()?.find((socket) => socket.inode === inode)?.path;
}
