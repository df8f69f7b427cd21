// The master: holds the program's pty, listens on the session socket, and serves clients.
// It outlives every client and exits with the program's status once the program has ended
// and its last output has been handed to the clients. This module is its start-up: the
// program found, the socket listened on, the program started, then the Session runs.

import { ignoreUntilHandled } from '../common/debugger.js';
import { DtError, describeSystemError, sessionError } from '../common/errors.js';
import { findExecutable } from '../common/executable.js';
import type { MasterSpec } from '../common/master-spec.js';
import { programLaunch } from './program-launch.js';
import { ProgramTerminal } from './program-terminal.js';
import { Session, type MasterOutcome } from './session.js';
import { SocketKeeper } from './socket-keeper.js';

export type { MasterOutcome } from './session.js';
export type ReadyReport = (error: DtError | null) => void;

/** Runs a session; resolves with how the master process should end. */
export async function runMaster(spec: MasterSpec, reportReady: ReadyReport): Promise<MasterOutcome> {
  const terminateSignals = holdTerminateSignals();
  const started = await startProgram(spec);
  if (started instanceof DtError) {
    reportReady(started);
    return { exitCode: 1 };
  }
  const session = new Session(spec, started.program, started.socketFile);
  process.off('SIGUSR1', ignoreUntilHandled);
  process.on('SIGUSR1', () => started.socketFile.recreate());
  terminateSignals.deliverTo((signal) => session.terminate(signal));
  reportReady(null);
  return session.outcome;
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

/** The socket listened on, then the program started in its terminal; or why not. */
async function startProgram(spec: MasterSpec): Promise<{ program: ProgramTerminal; socketFile: SocketKeeper } | DtError> {
  // Looked up only to report "cannot execute" before a session exists: the program is then
  // exec-ed by its name as given, which becomes its argv[0] (a login shell's "-bash", a
  // multi-call binary's name), as dtach does.
  const executable = findExecutable(spec.command[0]!, process.env['PATH'], spec.cwd);
  if (typeof executable !== 'string') return new DtError(`could not execute ${spec.command[0]}: ${executable.reason}`);
  let socketFile: SocketKeeper;
  try {
    socketFile = await SocketKeeper.listen(spec.socket);
  } catch (error) {
    return sessionError(spec.socket, describeSystemError(error), error);
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  const launch = programLaunch(spec.command, spec.cwd, spec.socket, env);
  try {
    const program = new ProgramTerminal(launch.file, launch.args, { cols: spec.cols, rows: spec.rows, cwd: launch.cwd, env: launch.env });
    return { program, socketFile };
  } catch (error) {
    socketFile.close();
    return new DtError(`could not execute ${spec.command[0]}: ${describeSystemError(error)}`, 1, { cause: error });
  }
}
