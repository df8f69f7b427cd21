// The session's unix socket: create it private, connect to it, tell a live session from a
// stale socket, and cope with paths longer than sun_path allows.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { encodeBytes, fsPath, hasEscapedBytes } from './bytes.js';
import { describeSystemError, sessionError } from './errors.js';

/** sun_path is 108 bytes on Linux including the terminating NUL. */
const MAX_SUN_PATH_BYTES = 107;
const PRIVATE_MODE = 0o600;
/** Owner-execute marks "a client is attached", as dtach does; shell prompts read it. */
const ATTACHED_MODE = 0o700;

/**
 * Calls `use` with a path for bind/connect that reaches socketPath and that a socket address
 * can hold: at most 107 bytes, and a JavaScript string (node:net takes no Buffer paths).
 * Beyond that, the directory is reached through /proc/self/fd/N, N an open descriptor of it;
 * and when even that is too long (a name of 90 bytes or more) or the name is not UTF-8, through
 * a symbolic link in a new private directory of our own, removed afterwards. Symbolic links
 * have no such limit, and connect(2) follows them.
 */
async function withShortPath<T>(socketPath: string, use: (shortPath: string) => Promise<T>): Promise<T> {
  if (fits(socketPath)) return use(socketPath);
  const directory = fs.openSync(fsPath(path.dirname(socketPath)), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const throughDirectory = `/proc/self/fd/${directory}/${path.basename(socketPath)}`;
    if (fits(throughDirectory)) return await use(throughDirectory);
    return await withSymbolicLink(throughDirectory, use);
  } finally {
    fs.closeSync(directory);
  }
}

function fits(socketPath: string): boolean {
  return !hasEscapedBytes(socketPath) && Buffer.byteLength(socketPath) <= MAX_SUN_PATH_BYTES;
}

async function withSymbolicLink<T>(target: string, use: (shortPath: string) => Promise<T>): Promise<T> {
  // A directory only we can enter: nobody can swap the link between its creation and its use.
  const prefix = 'dt-connect-';
  const base = fits(path.join(os.tmpdir(), `${prefix}XXXXXX`, 's')) ? os.tmpdir() : '/tmp';
  const directory = fs.mkdtempSync(path.join(base, prefix));
  try {
    const link = path.join(directory, 's');
    fs.symlinkSync(encodeBytes(target), link);
    return await use(link);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Listens on a new socket at socketPath that nobody else can connect to, from the moment it
 * exists. Fails with EADDRINUSE when anything is already at socketPath.
 *
 * The socket is bound under a temporary name beside socketPath and then linked into place.
 * libuv unlinks the path a server was bound to when the server closes; binding elsewhere
 * means closing this server never removes a socket that is no longer ours (recreated on
 * SIGUSR1, or replaced by a newer session after ours was deleted). link(2), unlike rename(2),
 * refuses to replace a socket that appeared meanwhile.
 */
export async function listenPrivate(socketPath: string): Promise<net.Server> {
  // Unique enough (link(2) refuses a collision anyway); not node:crypto, whose OpenSSL costs
  // the master 0.7 MiB of memory.
  const temporaryPath = path.join(path.dirname(socketPath), `.dt-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`);
  let server: net.Server;
  try {
    server = await withShortPath(temporaryPath, (shortPath) => bindPrivate(shortPath));
  } catch (error) {
    throw explainBindError(error as NodeJS.ErrnoException, socketPath);
  }
  try {
    fs.linkSync(fsPath(temporaryPath), fsPath(socketPath));
  } catch (error) {
    server.close();
    throw (error as NodeJS.ErrnoException).code === 'EEXIST'
      ? Object.assign(new Error('address already in use'), { code: 'EADDRINUSE' })
      : error;
  } finally {
    fs.rmSync(fsPath(temporaryPath), { force: true });
  }
  return server;
}

function bindPrivate(bindPath: string): Promise<net.Server> {
  return new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: false });
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      // From now on its errors are accept(2)'s (EMFILE, ENFILE, ENOMEM): libuv has closed the
      // connection it could not take, the client is told, and the server goes on listening.
      server.on('error', () => {});
      resolve(server);
    });
    // bind(2) happens inside listen(), synchronously: the umask covers exactly that call,
    // so the socket is created with mode 0600.
    const previousUmask = process.umask(0o177);
    try {
      server.listen(bindPath);
    } finally {
      process.umask(previousUmask);
    }
  });
}

/** libuv reports bind(2)'s ENOENT as EACCES; say what is really wrong with the directory. */
function explainBindError(error: NodeJS.ErrnoException, socketPath: string): Error {
  if (error.code === 'EACCES') {
    const directoryProblem = checkDirectory(path.dirname(socketPath));
    if (directoryProblem) return Object.assign(new Error(directoryProblem), { code: directoryProblem });
  }
  return error;
}

function checkDirectory(directory: string): 'ENOENT' | 'ENOTDIR' | undefined {
  try {
    return fs.statSync(fsPath(directory)).isDirectory() ? undefined : 'ENOTDIR';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? code : undefined;
  }
}

/**
 * The mode that tells whether a client is attached (as dtach's does): a hint for the user, so a
 * mode that cannot be set (the file deleted under a running session, which SIGUSR1 recreates;
 * a read-only file system) is left as it is, and never ends the session.
 */
export function markAttached(socketPath: string, attached: boolean): void {
  try {
    fs.chmodSync(fsPath(socketPath), attached ? ATTACHED_MODE : PRIVATE_MODE);
  } catch {
    // Left as it is: see above.
  }
}

/**
 * onread: the socket's reads go to onread.callback, in onread.buffer (see net.Socket), not to
 * 'data'. opened: called with the socket as soon as it exists, before Node reports the
 * connection (a turn of its event loop later): connect(2) to a unix socket has then already
 * succeeded or failed, and what is written to the socket's descriptor goes at once.
 */
export function connectSocket(socketPath: string, onread?: net.OnReadOpts, opened?: (socket: net.Socket) => void): Promise<net.Socket> {
  return withShortPath(socketPath, (shortPath) => new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection({ path: shortPath, ...(onread && { onread }) });
    // Destroyed by its owner before it was made (a client whose terminal hung up meanwhile):
    // no 'connect' nor 'error' comes, and nothing else would end the wait.
    const onClose = (): void => reject(Object.assign(new Error('the connection was given up before it was made'), { code: 'ECONNABORTED' }));
    opened?.(socket);
    socket.once('error', reject);
    socket.once('close', onClose);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.off('close', onClose);
      resolve(socket);
    });
  }));
}

export type SocketState = 'live' | 'stale' | 'missing' | 'not-socket' | 'dangling-link';

/**
 * What is at socketPath. "stale" is only reported after a connect was refused: the file is a
 * socket and nobody listens on it, so replacing it cannot disturb a session. Anything else
 * that stands in the way (a file in place of a directory, no permission) is a session error.
 */
export async function probeSocket(socketPath: string): Promise<SocketState> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(fsPath(socketPath));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw sessionError(socketPath, describeSystemError(error), error);
    return isSymbolicLink(socketPath) ? 'dangling-link' : 'missing';
  }
  if (!stat.isSocket()) return 'not-socket';
  try {
    const socket = await connectSocket(socketPath);
    socket.destroy();
    return 'live';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') return 'stale';
    throw sessionError(socketPath, describeSystemError(error), error);
  }
}

/** True when there is a socket at the path (through symbolic links); false when nothing, or another file, is. */
export function isSocketFile(file: string): boolean {
  try {
    return fs.statSync(fsPath(file)).isSocket();
  } catch {
    return false; // nothing there, or a directory on the way is missing
  }
}

/** True when the path itself is a symbolic link (whatever it points at). */
export function isSymbolicLink(file: string): boolean {
  try {
    return fs.lstatSync(fsPath(file)).isSymbolicLink();
  } catch {
    return false; // nothing there, or a directory on the way is missing
  }
}

/** /proc/net/unix: the flag of a listening socket, and the type of a stream socket. */
const SO_ACCEPTCON = 0x10000;
const SOCK_STREAM = 1;

/** A unix stream socket that listens at a name, as /proc/net/unix lists it. */
export interface ListeningSocket {
  /** its inode (sockfs'), as fstat(2) of a descriptor of it gives it */
  inode: number;
  /** the path it was bound to, its bytes as latin1 (an abstract one's begins with '@') */
  path: string;
}

/**
 * The named unix stream sockets that listen in this process's network namespace, from
 * /proc/net/unix, which names them without connecting to them; undefined without /proc.
 */
export function readListeningSockets(): ListeningSocket[] | undefined {
  let table: string;
  try {
    table = fs.readFileSync('/proc/self/net/unix', 'latin1');
  } catch {
    return undefined; // no /proc
  }
  const listening: ListeningSocket[] = [];
  // Num RefCount Protocol Flags Type St Inode Path
  for (const line of table.split('\n')) {
    const match = /^\s*\S+:\s+\S+\s+\S+\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s+\S+\s+(\d+) (.*)$/.exec(line);
    if (!match || (parseInt(match[1]!, 16) & SO_ACCEPTCON) === 0 || parseInt(match[2]!, 16) !== SOCK_STREAM) continue;
    listening.push({ inode: Number(match[3]), path: match[4]! });
  }
  return listening;
}

/** Whether a unix stream socket bound to this path listens, told without connecting; undefined without /proc. */
export function isListenedOn(socketPath: string): boolean | undefined {
  const bytes = encodeBytes(socketPath).toString('latin1');
  return readListeningSockets()?.some((socket) => socket.path === bytes);
}

/** Removes the socket file if it is still ours (a newer session may have replaced it). */
export function removeSocket(socketPath: string, ino: number | undefined): void {
  try {
    if (ino !== undefined && fs.statSync(fsPath(socketPath)).ino !== ino) return;
    fs.unlinkSync(fsPath(socketPath));
  } catch (error) {
    // ENOENT: already gone, which is the state we want.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export function socketInode(socketPath: string): number | undefined {
  try {
    return fs.statSync(fsPath(socketPath)).ino;
  } catch {
    return undefined;
  }
}
