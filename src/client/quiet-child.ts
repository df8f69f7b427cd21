// A child process for the attaching client that shares its terminal input and says nothing
// (stty), started without node:child_process when Node allows. That module's spawn() is
// JavaScript around Node's process handle: loading it and running it the first time cost a
// client about 1.5 ms before it could read the session's answer, on top of the fork itself.
// The handle is the same one spawn() drives, with the options spawn() would give it. A Node
// that no longer hands it out (process.binding is deprecated), or whose handle refuses these
// options, gets child_process.spawn, from process.getBuiltinModule (Node 20.16 and later; a
// Node without this handle, or with another, is newer) rather than through node:module,
// which would cost every client 0.2 ms to load.

import os from 'node:os';

/** A started child; `pid` is undefined when it could not be started. */
export interface QuietChild {
  readonly pid: number | undefined;
  /** Sends `signal` to the child unless it has ended. */
  kill(signal: NodeJS.Signals): void;
}

/** The process handle of Node's process_wrap binding, as lib/internal/child_process.js uses it. */
interface ProcessHandle {
  pid: number;
  onexit: (exitCode: number, signalCode: string) => void;
  spawn(options: {
    file: string;
    args: string[];
    envPairs: string[];
    stdio: Array<{ type: 'fd'; fd: number } | { type: 'ignore' }>;
  }): number;
  kill(signal: number): number;
  close(): void;
}

type ProcessHandleConstructor = new () => ProcessHandle;

/**
 * Starts `file` (a name without a slash is looked for in `env`'s PATH, as child_process does) with `args`, only `env` as its environment,
 * our standard input as its own, and standard output and error ignored. `onEnd` runs once,
 * later, when the child has ended or could not be started.
 */
export function startQuietChild(file: string, args: string[], env: Record<string, string>, onEnd: () => void): QuietChild {
  const Process = processHandleConstructor();
  if (Process !== undefined) {
    try {
      return startWithHandle(Process, file, args, env, onEnd);
    } catch {
      // A Node whose handle takes other options than these (an internal interface): spawn()
      // knows them. Nothing was started: the handle throws before it forks.
    }
  }
  return startWithChildProcess(file, args, env, onEnd);
}

function startWithHandle(
  Process: ProcessHandleConstructor, file: string, args: string[], env: Record<string, string>, onEnd: () => void,
): QuietChild {
  const handle = new Process();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    handle.close();
    onEnd();
  };
  handle.onexit = end;
  const error = handle.spawn({
    file,
    args: [file, ...args],
    envPairs: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    stdio: [{ type: 'fd', fd: 0 }, { type: 'ignore' }, { type: 'ignore' }],
  });
  // Not started (a negative errno): told later, as child_process tells its 'error'.
  if (error !== 0) process.nextTick(end);
  return {
    pid: error === 0 ? handle.pid : undefined,
    kill: (signal) => {
      // An error (ESRCH: it has just ended) changes nothing: onexit comes or has come.
      if (!ended) handle.kill(os.constants.signals[signal]);
    },
  };
}

function startWithChildProcess(file: string, args: string[], env: Record<string, string>, onEnd: () => void): QuietChild {
  const childProcess = process.getBuiltinModule('node:child_process');
  const child = childProcess.spawn(file, args, { stdio: ['inherit', 'ignore', 'ignore'], env });
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  child.once('exit', end);
  child.once('error', end);
  return {
    get pid() {
      return child.pid;
    },
    kill: (signal) => {
      if (!ended) child.kill(signal);
    },
  };
}

/**
 * Node's process handle, or undefined when this Node does not hand it out. Asked for quietly:
 * under --pending-deprecation, process.binding would print a warning on the user's terminal.
 */
function processHandleConstructor(): ProcessHandleConstructor | undefined {
  const binding = (process as unknown as { binding?: (name: string) => { Process?: unknown } }).binding;
  if (typeof binding !== 'function') return undefined;
  const warnings = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const Process = binding.call(process, 'process_wrap').Process;
    return typeof Process === 'function' ? Process as ProcessHandleConstructor : undefined;
  } catch {
    return undefined; // "No such module": this Node no longer has it
  } finally {
    process.noDeprecation = warnings;
  }
}
