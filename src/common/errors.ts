// One error family, one message shape (`dt: <socket>: <reason>`), one exit-code table.

import { constants } from 'node:os';
import util from 'node:util';
import type { ExitStatus } from './protocol.js';

export const ExitCode = {
  /** success, or the client detached */
  Ok: 0,
  /** anything that went wrong: no session, session gone, cannot execute, lost connection */
  Failure: 1,
  /** the command line could not be understood */
  Usage: 2,
} as const;

/** Death by signal N is reported as 128+N, as shells do. */
export const SIGNAL_EXIT_BASE = 128;

/** What dt exits with for the program's end: its exit status, or 128+N for death by signal N. */
export function exitCodeOf(status: ExitStatus): number {
  return status.signal > 0 ? SIGNAL_EXIT_BASE + status.signal : status.code;
}

export class DtError extends Error {
  /** A line printed after the message, `dt: <hint>`: what to do about it. */
  readonly hint: string | undefined;

  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Failure,
    options?: { cause?: unknown; hint?: string | undefined },
  ) {
    super(message, options);
    this.hint = options?.hint;
  }
}

/**
 * The user's terminal hung up: the client ends as SIGHUP ends it (128+1), quietly, as dtach's
 * client does at the end of its input: there is nobody left to read a message.
 */
export class TerminalHangUp extends DtError {
  constructor(cause?: unknown) {
    super('the terminal hung up', SIGNAL_EXIT_BASE + constants.signals.SIGHUP, { cause });
  }
}

export class UsageError extends DtError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}

/** An error about a session, printed as `dt: <socket>: <reason>`. */
export function sessionError(socketPath: string, reason: string, cause?: unknown): DtError {
  return fileError(socketPath, reason, cause);
}

/** An error about another file (a log file, the session directory), in the same shape: `dt: <file>: <reason>`. */
export function fileError(file: string, reason: string, cause?: unknown): DtError {
  return new DtError(`${file}: ${reason}`, ExitCode.Failure, { cause });
}

/**
 * The reason text of a system error, as strerror(3) words it, without Node's decorations
 * ("ENOENT: ..., connect /proc/self/fd/18/.dt-..."), which name internal paths the user never
 * gave. Errors that are not system errors keep their own message.
 */
export function describeSystemError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': return 'Permission denied';
    case 'ECONNREFUSED': return 'Connection refused';
    case 'ENOTSOCK': return 'Not a socket';
    case 'ENOTDIR': return 'Not a directory';
    case 'EADDRINUSE': return 'Address already in use';
    case 'EISDIR': return 'Is a directory';
    case 'ENAMETOOLONG': return 'File name too long';
    case 'ENOSPC': return 'No space left on device';
    case 'EROFS': return 'Read-only file system';
    case 'EEXIST': return 'File exists';
    case 'ELOOP': return 'Too many levels of symbolic links';
    case 'EDQUOT': return 'Disk quota exceeded'; // unknown to libuv
    case 'EMFILE': return 'Too many open files (ulimit -n)'; // the limit to raise, wherever a descriptor was wanted
  }
  if (code === undefined || !/^E[A-Z0-9]+$/.test(code)) return error instanceof Error ? error.message : String(error);
  const libuvMessage = systemErrorMessages().get(code);
  return libuvMessage === undefined ? code : libuvMessage.charAt(0).toUpperCase() + libuvMessage.slice(1);
}

let messagesByCode: Map<string, string> | undefined;

/** libuv's text for each error code ("read-only file system"). */
function systemErrorMessages(): Map<string, string> {
  if (!messagesByCode) {
    messagesByCode = new Map();
    for (const [name, message] of util.getSystemErrorMap().values()) messagesByCode.set(name, message);
  }
  return messagesByCode;
}
