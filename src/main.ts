// parse → dispatch by mode → exit code. The only place that ends the process.

import fs from 'node:fs';
import { attach, describeExit } from './client/attach.js';
import { USAGE, USAGE_HINT, VERSION, parseArgs, type ClientOptions, type Command } from './cli.js';
import { sendSignal } from './client/control.js';
import { refuseDebuggerSignal } from './common/debugger.js';
import { closeDescriptors } from './common/descriptors.js';
import { DtError, ExitCode, SIGNAL_EXIT_BASE, TerminalHangUp, UsageError, describeSystemError, exitCodeOf, sessionError } from './common/errors.js';
import { checkCommandFits, checkExecutable, startMaster } from './client/launch.js';
import { MASTER_FLAG, readMasterLaunch, type MasterLaunch, type MasterSpec } from './common/master-spec.js';
import type { MasterOutcome } from './master/master.js';
import { RedrawMethod } from './common/protocol.js';
import { findOnlySession, formatTime, listSessions } from './client/list.js';
import { forgetEndedSessions, forgetSession } from './client/forget.js';
import { describeListener, isRefusedByNobody } from './client/session-connection.js';
import { existingSocketPath, maySessionBeAt, resolveSocketArgument, socketPathOf } from './client/session-names.js';
import { takeKeptExit, waitForSession } from './client/wait.js';
import { prepareOutputLog } from './client/log-file.js';
import { push } from './client/push.js';
import { masterTitle, unlistedWarning } from './common/registry.js';
import { runShutdown } from './common/shutdown.js';
import { signalNumber } from './common/signals.js';
import { probeSocket, removeSocket } from './common/socket.js';
import { hasTerminal, releaseTerminalBeforeExit, terminalStreamError, windowSize } from './client/terminal.js';
import { environmentNodeCannotKeep, exactArguments, exactEnvironmentVariable, exactWorkingDirectory } from './client/process-bytes.js';
import { displayText, fsPath } from './common/bytes.js';
import { termios } from './common/termios.js';
import { checkPtyBinding } from './common/pty-binding.js';

refuseDebuggerSignal();

async function main(argv = exactArguments()): Promise<number> {
  if (argv[0] === MASTER_FLAG) {
    const launch = readMasterLaunch();
    return launch ? runDetachedMaster(launch) : abandonDetachedMaster();
  }
  // Kept for outputFailure(), in every mode: an attached client's own listener hears it too (attach.ts).
  outputStream().on('error', (error: NodeJS.ErrnoException) => { heardOutputFailure ??= error; });
  const command = parseArgs(argv);
  switch (command.mode) {
    case 'help':
      process.stdout.write(USAGE);
      return ExitCode.Ok;
    case 'version':
      process.stdout.write(`dt - version ${VERSION}\n`);
      return ExitCode.Ok;
    case 'attach': {
      const socket = existingSocketPath(command.socket);
      refuseSelfAttach(socket);
      const ended = reportExitedSession(socket);
      if (ended !== undefined) return ended;
      requireTerminal();
      exitOnSignals();
      return attachUnlessEnded(socket, command.client);
    }
    case 'attach-only': {
      const socket = findOnlySession();
      requireTerminal();
      exitOnSignals();
      return attachUnlessEnded(socket, command.client);
    }
    case 'attach-or-create': {
      // A name's session directory is checked here, but made only to create (masterSpec),
      // once -L and DT_LOG_LIMIT are known to be good.
      const directoryExists = maySessionBeAt(command.socket);
      const socket = socketPathOf(command.socket);
      refuseSelfAttach(socket);
      requireTerminal();
      if (!directoryExists || (await probeSocket(socket)) !== 'live') return createAndAttach(masterSpec(command, true), command.client);
      exitOnSignals();
      return attachUnlessEnded(socket, command.client);
    }
    case 'create':
      requireTerminal();
      return createAndAttach(masterSpec(command, true), command.client);
    case 'create-detached': {
      const spec = masterSpec(command, false);
      await prepareSocketPath(spec.socket);
      await launchMaster(spec);
      return ExitCode.Ok;
    }
    case 'master-foreground':
      return runForegroundMaster(command);
    case 'push':
      exitOnSignals();
      return push(existingSocketPath(command.socket));
    case 'kill':
      return sendSignal(existingSocketPath(command.socket), command.signal);
    case 'wait':
      return waitForSession(existingSocketPath(command.socket));
    case 'forget':
      return forgetSession(existingSocketPath(command.socket));
    case 'forget-ended':
      return forgetEndedSessions();
    case 'list':
      return listSessions(command.json);
  }
}

type CreateCommand = Extract<Command, { command: string[] }>;

/**
 * process.stdout, made by Node on first use: a terminal then, unless it hung up since Node
 * started (terminalStreamError).
 */
function outputStream(): NodeJS.WriteStream {
  try {
    return process.stdout;
  } catch (error) {
    throw terminalStreamError(1, error);
  }
}

async function createAndAttach(spec: MasterSpec, client: ClientOptions): Promise<number> {
  await prepareSocketPath(spec.socket);
  await launchMaster(spec);
  exitOnSignals();
  return attachTerminal(spec.socket, client);
}

/**
 * True once standard output is the session's screen, whose failures the attached client
 * reports itself, rather than a command's result (usage, -l's table, a kept status).
 */
let outputIsScreen = false;

function attachTerminal(socket: string, options: ClientOptions): Promise<number> {
  outputIsScreen = true;
  return attach(socket, options);
}

async function launchMaster(spec: MasterSpec): Promise<void> {
  const { unlisted } = await startMaster(spec);
  if (unlisted !== undefined) process.stderr.write(`${unlistedWarning(spec.socket, unlisted)}\n`);
}

/**
 * What a new master is told. A log file that may not be written, a bad DT_LOG_LIMIT, or a
 * program that cannot be executed (or a command too large for exec(2)), or node-pty's binding
 * missing (the master could start no program), is refused here, before anything starts:
 * before a session name makes the session directory. The program is left to the master to
 * check when not `checkProgram`.
 */
function masterSpec(command: CreateCommand, holdUntilAttach: boolean, checkProgram = true): MasterSpec {
  const redraw = command.client.redraw === RedrawMethod.Unspecified ? RedrawMethod.Resize : command.client.redraw;
  const cwd = exactWorkingDirectory();
  const log = command.log === undefined ? {} : { log: prepareOutputLog(command.log, cwd, process.env) };
  const exact = environmentNodeCannotKeep();
  const environment = Object.keys(exact).length === 0 ? {} : { environment: exact };
  if (checkProgram) {
    checkExecutable(command.command[0]!, cwd);
    checkPtyBinding();
    checkCommandFits(command.command, cwd, socketPathOf(command.socket), environment.environment);
  }
  const socket = resolveSocketArgument(command.socket);
  return { socket, command: command.command, redraw, holdUntilAttach, cwd, ...windowSize(), ...log, ...environment };
}

/**
 * dt -N's spec. Started by socket activation, clients may be queued on the socket already (one
 * of them started the service): a log that cannot be opened (or a bad DT_LOG_LIMIT), or a
 * program that cannot be executed, is then the master's `failure`, which it tells them as well
 * as its stderr, instead of leaving them to see the connection closed unanswered.
 */
function foregroundMasterSpec(command: CreateCommand): { spec: MasterSpec; failure?: DtError } {
  if (Number(process.env['LISTEN_PID']) !== process.pid) return { spec: masterSpec(command, false) };
  try {
    return { spec: masterSpec(command, false, false) };
  } catch (error) {
    if (!(error instanceof DtError)) throw error;
    return { spec: masterSpec({ ...command, log: undefined }, false, false), failure: error };
  }
}

/** Refuses a live session, another program's socket or a non-socket; replaces a stale socket nobody answers on. */
async function prepareSocketPath(socket: string): Promise<void> {
  const state = await probeSocket(socket);
  if (state === 'live') throw sessionError(socket, await describeListener(socket));
  if (state === 'not-socket') throw sessionError(socket, 'File exists and is not a socket');
  if (state === 'dangling-link') throw sessionError(socket, 'File exists and is a symbolic link to a missing file');
  if (state === 'stale') removeStaleSocket(socket);
}

function removeStaleSocket(socket: string): void {
  try {
    removeSocket(socket, undefined);
  } catch (error) {
    // A directory the user may not write in (EACCES), a read-only file system.
    throw sessionError(socket, `cannot remove the stale socket: ${describeSystemError(error)}`, error);
  }
}

/** Attaching a session's own terminal to itself would feed its output back as its input. */
function refuseSelfAttach(socket: string): void {
  const ownSession = exactEnvironmentVariable('DT_SESSION');
  if (ownSession === undefined) return;
  if (ownSession === socket || sameFile(ownSession, socket)) {
    throw sessionError(socket, 'refusing to attach a session from inside itself');
  }
}

/** True when both paths name one file (through symlinks, hard links or other spellings). */
function sameFile(first: string, second: string): boolean {
  try {
    const a = fs.statSync(fsPath(first));
    const b = fs.statSync(fsPath(second));
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    // One of them does not exist: they cannot be the same socket.
    return false;
  }
}

/** `dt -a` reports a status kept for a program that ended unwatched, and exits with it. */
function reportExitedSession(socket: string, nobodyListens = false): number | undefined {
  const exit = takeKeptExit(socket, nobodyListens);
  if (exit === undefined) return undefined;
  process.stdout.write(`${describeExit(exit)} at ${formatTime(exit.endedAt)}, while detached\n`);
  return exitCodeOf(exit);
}

/**
 * Attaches; a program that ended between the look at its session (for a kept status, or
 * whether it runs) and the connect left its status there, and that is what is reported.
 */
async function attachUnlessEnded(socket: string, options: ClientOptions): Promise<number> {
  try {
    return await attachTerminal(socket, options);
  } catch (error) {
    // The terminal restored before anything is printed.
    runShutdown();
    // Nothing is said to a terminal that is gone, and a status kept meanwhile stays kept.
    if (error instanceof TerminalHangUp) throw error;
    const ended = reportExitedSession(socket, isRefusedByNobody(error));
    if (ended === undefined) throw error;
    return ended;
  }
}

/**
 * A terminal, and dt's binding that makes it raw: checked before anything is created or
 * touched. Without a terminal, dtach's words; and, when it looks like `ssh host dt -A sock cmd`
 * without ssh -t (sshd gave the session no terminal), what to do about it.
 */
function requireTerminal(): void {
  if (!hasTerminal()) {
    const hint = isOverSshWithoutTerminal() ? 'over ssh, run ssh -t so that dt gets a terminal' : undefined;
    throw new DtError('Attaching to a session requires a terminal.', ExitCode.Failure, { hint });
  }
  termios();
}

/**
 * sshd sets SSH_CONNECTION (and SSH_CLIENT, which older ones set alone) in every session, with a
 * terminal or not, and SSH_TTY only in one it gave a terminal: there, dt's input was redirected
 * (`dt -a s </dev/null`, a pipe), and ssh -t would change nothing.
 */
function isOverSshWithoutTerminal(): boolean {
  return Boolean(process.env['SSH_CONNECTION'] || process.env['SSH_CLIENT']) && !process.env['SSH_TTY'];
}

/**
 * The signals that end a process unless it handles them, as far as Node lets JavaScript handle
 * them: SIGQUIT (as dtach's client does) and those a user may send with kill(1) too. Not
 * SIGUSR1 (the debugger's, refused already), SIGPIPE and SIGXFSZ (Node ignores them), SIGPROF
 * (V8's profiler), SIGSYS (Node cannot catch it), nor the faults (SIGSEGV and the like),
 * after which no JavaScript may run.
 */
const ENDING_SIGNALS = [
  'SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR2', 'SIGALRM', 'SIGVTALRM', 'SIGXCPU',
  'SIGIO', 'SIGPWR', 'SIGSTKFLT', 'SIGTRAP', 'SIGABRT',
] as const;

/** The client's way out on hangup or any other signal that ends it: restore the terminal, exit 128+N. */
function exitOnSignals(): void {
  for (const signal of ENDING_SIGNALS) {
    process.on(signal, () => finish(SIGNAL_EXIT_BASE + signalNumber(signal)));
  }
}

async function runDetachedMaster({ spec, inherited, ownEnvironment }: MasterLaunch): Promise<number> {
  process.title = masterTitle(spec.socket);
  closeDescriptors(inherited);
  // Read by the C library as the process started; the program gets the user's environment.
  for (const name of ownEnvironment) delete process.env[name];
  const master = await import('./master/master.js');
  const server = await master.adoptHandedOverSocket(spec.socket);
  return endMaster(await master.runMaster(spec, { kind: 'handed-over', server }));
}

/** The creating command was killed as it wrote the launch: there is no session to run. */
async function abandonDetachedMaster(): Promise<number> {
  const master = await import('./master/master.js');
  master.abandonLaunch();
  return ExitCode.Failure;
}

async function runForegroundMaster(command: CreateCommand): Promise<number> {
  const { spec, failure } = foregroundMasterSpec(command);
  // A foreground master keeps what its supervisor gave it, as any service does.
  process.title = masterTitle(spec.socket);
  const master = await import('./master/master.js');
  const server = await master.serviceManagerSocket(spec.socket);
  if (server) return endMaster(await master.runMaster(spec, { kind: 'service-manager', server }, failure));
  if (failure) throw failure;
  await prepareSocketPath(spec.socket);
  return endMaster(await master.runMaster(spec, { kind: 'bind' }));
}

/**
 * A master told to end by a signal dies of that signal once it has cleaned up, so a
 * supervisor such as systemd sees a clean stop rather than a failure code.
 */
function endMaster(outcome: MasterOutcome): number {
  if (outcome.terminatedBy === undefined) return outcome.exitCode;
  runShutdown();
  process.removeAllListeners(outcome.terminatedBy);
  process.kill(process.pid, outcome.terminatedBy);
  return outcome.exitCode; // not reached unless the signal is blocked
}

function finish(code: number): never {
  runShutdown();
  releaseTerminalBeforeExit();
  process.exit(code);
}

function report(error: unknown): number {
  // Nobody is left to read it.
  if (error instanceof TerminalHangUp) return error.exitCode;
  if (error instanceof DtError) {
    process.stderr.write(`dt: ${displayText(error.message)}\n`);
    if (error.hint !== undefined) process.stderr.write(`dt: ${displayText(error.hint)}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE_HINT}\n`);
    return error.exitCode;
  }
  process.stderr.write(`dt: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
  return ExitCode.Failure;
}

process.on('uncaughtException', (error) => {
  runShutdown();
  finish(report(error));
});

/**
 * Writes to a pipe are asynchronous: exiting at once would cut off the end of a long
 * `dt -l --json | jq`. A failed write ends the wait too.
 */
function finishOnceWritten(code: number): void {
  const settle = (): never => finish(outputStatus(code));
  if (outputFailure() !== undefined || process.stdout.writableLength === 0) settle();
  process.stdout.once('drain', settle);
  process.stdout.once('error', settle);
}

let heardOutputFailure: NodeJS.ErrnoException | undefined;

/**
 * Why a write to standard output failed, if one did. The stream says so at once, and its
 * 'error' event, a tick later, which may come before main() returns; the stream forgets it then.
 */
function outputFailure(): NodeJS.ErrnoException | undefined {
  return heardOutputFailure ?? (process.stdout.errored as NodeJS.ErrnoException | null) ?? undefined;
}

/**
 * The command's status, unless its result could not be written (a full disk): that is said,
 * status 1. A reader that left (EPIPE: `dt -l | head -0`) wanted no more, and is no failure.
 */
function outputStatus(code: number): number {
  const error = outputFailure();
  if (error === undefined || outputIsScreen || error.code === 'EPIPE') return code;
  process.stderr.write(`dt: cannot write standard output: ${describeSystemError(error)}\n`);
  return ExitCode.Failure;
}

main().then(finishOnceWritten, (error: unknown) => {
  runShutdown();
  finish(report(error));
});
