// Start a master in the background, in a session of its own, and return at once, as systemd
// socket activation does: the creating command binds and listens on the socket itself, checks
// that the program can be executed, and hands the listening socket to the master. Clients
// connect at once; their connections wait in the socket's backlog until the master, a Node
// start later, accepts them. So only one Node start lies on the path of `dt -n`, and every
// error but those only a running master can meet (no pty, no process for the program at a
// process limit: start-failure.ts) is reported here, before anything exists. The master keeps
// no descriptor of ours.

import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import { hasEscapedBytes } from '../common/bytes.js';
import { inheritableDescriptors } from '../common/descriptors.js';
import { DtError, describeSystemError, sessionError } from '../common/errors.js';
import { findExecutable } from '../common/executable.js';
import { discardLogFile, openLogFile } from '../common/log-file.js';
import { LISTENING_FD, LOG_FD, MASTER_FLAG, SPEC_FD, encodeMasterLaunch, type MasterLaunch, type MasterSpec } from '../common/master-spec.js';
import { programEnvironment, programLaunch, tooLargeToExec } from '../common/program-launch.js';
import { writeRecord } from '../common/registry.js';
import { listenPrivate, removeSocket, socketInode } from '../common/socket.js';
import { descriptorOf } from '../common/write-at-once.js';
import { exactEnvironmentVariable } from './process-bytes.js';

/**
 * V8 lets its young generation grow to 16 MiB semispaces under a burst of output and keeps
 * them, about 8 MiB more resident memory for the rest of the session. The master's garbage
 * is small (its bytes live in Buffers outside the heap): 1 MiB costs no measurable speed.
 * --expose-gc: see memory.ts. --single-threaded-gc: the young generation is collected every
 * few hundred keystrokes, and on a busy machine handing that to helper threads made each such
 * pause of a keystroke longer (0.6 ms on average, 3.4 ms at worst, against 0.4 and 1.0).
 */
const MASTER_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc', '--single-threaded-gc'];
/**
 * The C library's allocator, for the master alone. glibc maps a request of at least its mmap
 * threshold apart, and unmaps it as it is freed; the threshold starts at 128 KiB but rises
 * to the largest such block freed, after which the relay's frame blocks (frame-blocks.ts)
 * would come from its heap, which goes back to the system only from the top: a burst left it
 * 6 MiB larger for good. Set, it stays. Only what the user has not set: the master removes
 * what it was given before it starts the program, whose environment is the user's.
 */
const MASTER_ALLOCATOR_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) };
/**
 * Variables for the program that would cost the master at its start. Set, NODE_EXTRA_CA_CERTS
 * has every Node process parse Node's own root certificates and that file's as it starts,
 * before any of its code runs, for TLS, which dt does not speak: on a 2-core machine 38 ms of
 * CPU, and 1.1 MiB of private memory for the life of each master. The master is started
 * without them, and the program gets them back exactly (MasterSpec.environment).
 */
const PROGRAM_ONLY_ENVIRONMENT = ['NODE_EXTRA_CA_CERTS'];

export interface Started {
  /** why `dt -l` will not list the session (its record could not be written), if so */
  unlisted?: string;
}

/**
 * Refuses a program that cannot be executed, found as execvp(3) would find it from cwd: called
 * before anything is made for the session (its directory included).
 */
export function checkExecutable(program: string, cwd: string): void {
  // PATH as the user has it: Node has U+FFFD where a directory's name is not UTF-8.
  const executable = findExecutable(program, exactEnvironmentVariable('PATH'), cwd);
  if (typeof executable !== 'string') throw new DtError(`could not execute ${program}: ${executable.reason}`);
}

/**
 * Refuses a command that exec(2) would refuse as too large (E2BIG), counted as the master
 * will exec it (through /bin/sh too, see program-launch.ts), under this process's stack limit,
 * which the master inherits; called before anything is made for the session. The master
 * checks again before it forks the program, but could only tell its clients: `dt -n` would
 * have returned 0 by then.
 */
export function checkCommandFits(command: readonly string[], cwd: string, socket: string, environment: Record<string, string> | undefined): void {
  const env = programEnvironment(process.env, environment);
  const tooLarge = tooLargeToExec(programLaunch(command, cwd, socket, env), command, cwd, socket, env);
  if (tooLarge) throw tooLarge;
}

/** Starts a master for spec, whose program checkExecutable found; resolves once the master holds the listening socket. */
export async function startMaster(spec: MasterSpec): Promise<Started> {
  // Loaded here, not by every dt command (0.5 ms): an attaching client connects without it.
  const { spawn } = await import('node:child_process');
  // -L: opened here, refused here (`FILE: reason`), and handed over at LOG_FD.
  const log = spec.log && openLogFile(spec.log.file);
  if (spec.log && log) spec = { ...spec, log: { ...spec.log, created: log.created } };
  const discardLog = (): void => { if (spec.log && log) discardLogFile(spec.log.file, log.fd, log.created); };
  let server: net.Server;
  try {
    server = await listenPrivate(spec.socket);
  } catch (error) {
    discardLog();
    throw sessionError(spec.socket, describeSystemError(error), error);
  }
  // Our LISTENING_FD, SPEC_FD and LOG_FD are replaced in the master; any other is the master's to close.
  const inherited = inheritableDescriptors().filter((fd) => fd !== LISTENING_FD && fd !== SPEC_FD && fd !== LOG_FD);
  // Nothing between listen and here waited for I/O, so no client was accepted by us: libuv
  // accepts on a listening socket in any turn of the event loop.
  const added = Object.entries(MASTER_ALLOCATOR_ENVIRONMENT).filter(([name]) => process.env[name] === undefined);
  const env: NodeJS.ProcessEnv = { ...process.env, ...Object.fromEntries(added) };
  const programOnly: Record<string, string> = {};
  for (const name of PROGRAM_ONLY_ENVIRONMENT) {
    const value = exactEnvironmentVariable(name);
    if (value === undefined) continue;
    programOnly[name] = value;
    delete env[name];
  }
  if (Object.keys(programOnly).length > 0) spec = { ...spec, environment: { ...spec.environment, ...programOnly } };
  let child: ChildProcess | undefined;
  let spawnError: unknown;
  try {
    child = spawn(process.execPath, [...MASTER_NODE_FLAGS, process.argv[1]!, MASTER_FLAG], {
      env,
      // node:child_process cannot enter a directory whose name is not UTF-8; the master needs no
      // working directory of its own, and the program gets spec.cwd exactly (program-launch.ts).
      cwd: hasEscapedBytes(spec.cwd) ? '/' : spec.cwd,
      detached: true, // setsid: no controlling terminal, untouched by our terminal's hangup
      // A listening server has a descriptor.
      stdio: ['ignore', 'ignore', 'ignore', descriptorOf(server)!, 'pipe', ...(log ? [log.fd] : [])],
    });
    // spawn(2) failed: child.pid is undefined, and the reason comes on the next tick.
    child.on('error', (error) => { spawnError ??= error; });
  } catch (error) {
    // Node reports only the errors it expects of spawn(2) (EAGAIN, a process limit) by 'error';
    // the others it throws: ENOMEM, and E2BIG for an environment exec(2) refuses (Node passes
    // a variable that is not UTF-8 on with each bad byte made 3).
    spawnError = error;
  }
  // The master has its own copies now (or there is no master): ours go.
  server.close();
  if (child?.pid === undefined) {
    if (child) await new Promise((resolve) => setImmediate(resolve));
    discardLog();
    throw abandonedSocketError(spec.socket, `cannot start the session: ${describeSpawnError(spawnError)}`, spawnError);
  }
  if (log) fs.closeSync(log.fd);
  const unlisted = writeRecord({
    socket: spec.socket, masterPid: child.pid, command: spec.command, startedAt: new Date().toISOString(),
    ...(spec.log && { log: spec.log.file }),
  });
  await sendLaunch(child.stdio[SPEC_FD] as net.Socket, { spec, inherited, ownEnvironment: added.map(([name]) => name) });
  child.unref();
  return unlisted === undefined ? {} : { unlisted };
}

function describeSpawnError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // fork(2)'s EAGAIN: a process limit (RLIMIT_NPROC, a cgroup's pids.max).
  if (error === undefined || code === 'EAGAIN') return 'no process could be created';
  // EMFILE, the master's pipes not made under a low `ulimit -n`, names the limit itself.
  return `${describeSystemError(error)}${code === 'E2BIG' ? ' (its environment is too large)' : ''}`;
}

/** The error of a session that could not be started, once its socket is removed (or why it could not be). */
function abandonedSocketError(socket: string, reason: string, cause: unknown): DtError {
  try {
    removeSocket(socket, socketInode(socket));
  } catch (error) {
    // Stale now: the next -A, -c or -n on it replaces it.
    return sessionError(socket, `${reason}; its socket could not be removed: ${describeSystemError(error)}`, cause ?? error);
  }
  return sessionError(socket, reason, cause);
}

/**
 * The creating client's end of the launch pipe of -c and -A, open until this process exits:
 * the end of file the master then reads says that nobody is coming for the output it holds.
 */
let creatingClientLink: net.Socket | undefined;

/**
 * Writes the master's description and waits until the kernel has all of it: a long command
 * line may exceed the pipe's buffer, and exiting earlier would cut it off. The pipe is closed
 * then, unless the master holds the program's output for this client (see creatingClientLink).
 */
function sendLaunch(pipe: net.Socket, launch: MasterLaunch): Promise<void> {
  return new Promise((resolve) => {
    // EPIPE: the master died at once; its socket is stale, and replaced by the next -A/-c/-n.
    pipe.on('error', () => resolve());
    const data = encodeMasterLaunch(launch);
    if (!launch.spec.holdUntilAttach) return void pipe.end(data, () => resolve());
    creatingClientLink = pipe;
    // It does not keep this process running: its exit is what it tells.
    pipe.unref();
    pipe.write(data, () => resolve());
  });
}
