// The master: holds the program's pty, listens on the session socket, and serves clients.
// It outlives every client and exits with the program's status once the program has ended
// and its last output has been handed to the clients. This module is its start-up: the
// program found, its log (-L) opened, the socket listened on, the program started, then the
// Session runs.

import net from 'node:net';
import v8 from 'node:v8';
import { ignoreUntilHandled } from '../common/debugger.js';
import { DtError, ExitCode, describeSystemError, sessionError } from '../common/errors.js';
import { findExecutable } from '../common/executable.js';
import { LOG_FD, SPEC_FD, type MasterSpec } from '../common/master-spec.js';
import { adoptOutputLog, openOutputLog } from './output-log.js';
import { programEnvironment, programLaunch, tooLargeToExec } from '../common/program-launch.js';
import { ProgramTerminal } from './program-terminal.js';
import { Session, type MasterOutcome } from './session.js';
import { SocketKeeper } from './socket-keeper.js';
import { reportStartFailure } from './start-failure.js';
import { readRecords, removeRecord, unlistedWarning } from '../common/registry.js';
import { removeSocket, socketInode } from '../common/socket.js';
import { TIER_UP_FLAG } from '../common/tier-up.js';

export type { MasterOutcome } from './session.js';
export { adoptHandedOverSocket, serviceManagerSocket } from './listening-socket.js';

/** Where the session's socket comes from. */
export type SocketSource =
  /** `dt -N` by hand: the master binds it */
  | { kind: 'bind' }
  /** the creating command bound it and handed it over: the master keeps its file from now on */
  | { kind: 'handed-over'; server: net.Server }
  /** a service manager's (systemd socket activation): its file is left alone */
  | { kind: 'service-manager'; server: net.Server };

/**
 * How much bytecode V8 inlines into one optimized function, all callees together (its default
 * is 920 bytes). The pty's output passes a chain of small functions, from libuv's read
 * callback through the session to the relay's socket writes; V8 optimizes the callees as they
 * get hot, then each caller with them inlined again, so a new master compiled the same chain
 * four or five times over: about 60 ms of its compiler threads in its first 32 MiB. At 200
 * bytes each optimized function holds its near callees only: 1.8 ms per MiB of compiling
 * became 1.2, and the main thread's time per MiB, at 32 MiB as at 256, and the keystroke
 * round trip did not change measurably.
 */
const INLINING_FLAG = '--max-inlined-bytecode-size-cumulative=200';

/**
 * Runs a session, or reports `failure`, a reason it cannot (dt -N only); resolves with how the
 * master process should end. Rejects with the reason the session could not start, except for a
 * socket it did not bind: clients may be queued on it already (the creating command's, or the
 * one that made a service manager start dt -N), so the reason goes to the clients and the
 * registry (start-failure.ts), and for dt -N to its own stderr as well.
 */
export async function runMaster(spec: MasterSpec, source: SocketSource, failure?: DtError): Promise<MasterOutcome> {
  const terminateSignals = holdTerminateSignals();
  v8.setFlagsFromString(TIER_UP_FLAG);
  v8.setFlagsFromString(INLINING_FLAG);
  const unrunnable = failure ?? checkExecutable(spec);
  if (unrunnable && source.kind === 'bind') throw unrunnable;
  // The creating command opened the log and handed it over with the socket; `dt -N` opens its own.
  const log = spec.log && (source.kind === 'handed-over' ? adoptOutputLog(spec.log, LOG_FD) : openOutputLog(spec.log));
  let socketFile: SocketKeeper;
  try {
    socketFile = await openSocket(spec, source);
  } catch (error) {
    log?.abandon();
    throw error;
  }
  const program = unrunnable ?? startProgram(spec);
  if (program instanceof DtError) {
    log?.abandon();
    if (source.kind === 'handed-over') return reportStartFailure(spec, socketFile, program, spec.holdUntilAttach ? watchCreatingClient : undefined);
    if (source.kind === 'bind') {
      socketFile.close();
      throw program;
    }
    // Its supervisor's log says why, and so does each client the service manager queued.
    process.stderr.write(`dt: ${program.message}\n`);
    const outcome = await reportStartFailure(spec, socketFile, program);
    return { ...outcome, exitCode: program.exitCode };
  }
  const session = new Session(spec, program, socketFile, log);
  if (spec.holdUntilAttach && source.kind === 'handed-over') watchCreatingClient(() => session.creatingClientLeft());
  // The creating command told its user already; a dt -N master tells its own stderr.
  if (session.unlisted !== undefined && source.kind !== 'handed-over') process.stderr.write(`${unlistedWarning(spec.socket, session.unlisted)}\n`);
  process.off('SIGUSR1', ignoreUntilHandled);
  process.on('SIGUSR1', () => socketFile.recreate());
  terminateSignals.deliverTo((signal) => session.terminate(signal));
  return session.outcome;
}

/**
 * The creating command was killed as it wrote this master's launch, so there is no session:
 * the master removes what that command made for it, the socket file it listens on (which
 * nobody would answer once it has exited) and its registry record, found by its pid. The
 * command records the master before it writes the launch.
 */
export function abandonLaunch(): void {
  const record = readRecords().find((candidate) => candidate.masterPid === process.pid);
  removeRecord(process.pid);
  if (record) removeSocket(record.socket, socketInode(record.socket));
}

/**
 * -c and -A: the session holds the program's output until a client attaches, so that the
 * creating client sees all of it; that client keeps its end of the launch pipe (SPEC_FD) open
 * until it exits. A client that exits, or is killed, before it attached will never come: the
 * end of file on the pipe says so, at once and at no cost while the session waits (no timer,
 * no polling), and the output is let go. After an attach it changes nothing. A master that
 * could not start the program stops waiting for that client to come and be told why.
 */
function watchCreatingClient(onGone: () => void): void {
  const pipe = new net.Socket({ fd: SPEC_FD, readable: true, writable: false });
  pipe.on('data', () => { /* the client sends nothing after the launch */ });
  // ECONNRESET: the client is gone all the same; 'close' follows.
  pipe.on('error', () => {});
  pipe.on('close', onGone);
  pipe.unref();
}

/** Signals that arrive while the session is still being set up are held until it can act. */
function holdTerminateSignals(): { deliverTo(handler: (signal: NodeJS.Signals) => void): void } {
  let pending: NodeJS.Signals | undefined;
  let handle = (signal: NodeJS.Signals): void => { pending ??= signal; };
  process.on('SIGHUP', () => { /* the master has no terminal; a stray hangup must not end the session */ });
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
  return {
    deliverTo(handler) {
      handle = handler;
      if (pending) handler(pending);
    },
  };
}

async function openSocket(spec: MasterSpec, source: SocketSource): Promise<SocketKeeper> {
  if (source.kind !== 'bind') return SocketKeeper.adopt(spec.socket, source.server, source.kind === 'handed-over');
  try {
    return await SocketKeeper.listen(spec.socket);
  } catch (error) {
    throw sessionError(spec.socket, describeSystemError(error), error);
  }
}

/**
 * Looked up only to report "cannot execute" before a session exists: the program is then
 * exec-ed by its name as given, which becomes its argv[0] (a login shell's "-bash", a
 * multi-call binary's name), as dtach does.
 */
function checkExecutable(spec: MasterSpec): DtError | undefined {
  // The program's PATH: the exact one when Node could not decode it (MasterSpec.environment).
  const executable = findExecutable(spec.command[0]!, spec.environment?.['PATH'] ?? process.env['PATH'], spec.cwd);
  return typeof executable === 'string' ? undefined : new DtError(`could not execute ${spec.command[0]}: ${executable.reason}`);
}

/**
 * The program started in its terminal; or why not. A command exec(2) refuses as too large is
 * refused here before the fork (a creating command checked it already; `dt -N` did not).
 */
function startProgram(spec: MasterSpec): ProgramTerminal | DtError {
  const env = programEnvironment(process.env, spec.environment);
  const launch = programLaunch(spec.command, spec.cwd, spec.socket, env);
  const tooLarge = tooLargeToExec(launch, spec.command, spec.cwd, spec.socket, env);
  if (tooLarge) return tooLarge;
  try {
    return new ProgramTerminal(launch.file, launch.args, { cols: spec.cols, rows: spec.rows, cwd: launch.cwd, env: launch.env });
  } catch (error) {
    // node-pty that cannot be loaded says it all itself (pty-fork.ts).
    if (error instanceof DtError) return error;
    return new DtError(`could not start ${spec.command[0]}: ${describeSystemError(error)}`, ExitCode.Failure, { cause: error });
  }
}
