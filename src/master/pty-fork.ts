// The part of node-pty dt uses: fork the program in a new pseudo-terminal, size the terminal,
// and report the program's exit. The only module that loads node-pty.
//
// Why node-pty's native binding and not its `spawn`: the terminal `spawn` returns starts its
// own reader on the pty's descriptor at once and closes the descriptor itself, 200 ms after
// the program exits, whether or not its output was read. dt reads the descriptor itself (to
// hold reads back for slow viewers without losing the end of the output, and to get around a
// libuv bug at hang-up), and a descriptor can have only one reader in libuv. The binding,
// which node-pty exports as `native`, does exactly the three jobs below and leaves the
// descriptor to its caller. node-pty calls it "not public API", so this module checks its
// shape when it loads, and the whole end-to-end suite runs through it.
//
// Loaded when the first program is started, not with the master's code: a binding that cannot
// be loaded (never built, see common/pty-binding.ts) is then a reason the program could not be
// started, told to the clients and kept in the registry, not a master that dies at once.

import fs from 'node:fs';
import tty from 'node:tty';
import type * as NodePty from 'node-pty';
import { describeSystemError } from '../common/errors.js';
import { ptyBindingFailure } from '../common/pty-binding.js';

/** Where a new pseudo-terminal comes from (posix_openpt(3)). */
const PTY_MULTIPLEXER = '/dev/ptmx';

/**
 * The signal node-pty reports carries, in this bit, whether the program dumped core: dt's
 * install mends node-pty's exit thread so (scripts/patch-node-pty.mjs). Signals are below it.
 */
const CORE_DUMPED_FLAG = 0x80;

/** node-pty 1.1's binding, as src/unix/pty.cc declares it. */
interface NativePty {
  fork(
    file: string, args: string[], env: string[], cwd: string, cols: number, rows: number,
    uid: number, gid: number, utf8: boolean, helperPath: string,
    onExit: (code: number, signal: number) => void,
  ): { fd: number; pid: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}

export interface ForkedPty {
  /** the pty's master side, non-blocking; the caller owns it and must close it */
  fd: number;
  pid: number;
}

export interface ForkOptions {
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
}

let loaded: NativePty | undefined;

/** node-pty's binding, loaded at the first call; a DtError saying why it cannot be. */
function nativePty(): NativePty {
  if (loaded) return loaded;
  let nodePty: typeof NodePty;
  try {
    nodePty = require('node-pty') as typeof NodePty;
  } catch (error) {
    throw ptyBindingFailure(error);
  }
  const native = (nodePty as unknown as { native?: Partial<NativePty> | null }).native;
  if (typeof native?.fork !== 'function' || typeof native.resize !== 'function') {
    throw new Error('this node-pty has no native fork and resize (dt needs node-pty 1.1)');
  }
  loaded = native as NativePty;
  return loaded;
}

/**
 * Starts the program as the leader of a new session whose controlling terminal is a new pty
 * of the given size, with the terminal modes node-pty gives every program. onExit is called
 * once, with the program's exit code or the signal that killed it and whether it dumped core,
 * when it has been reaped.
 */
export function forkPty(
  file: string, args: string[], options: ForkOptions, onExit: (code: number, signal: number, coreDumped: boolean) => void,
): ForkedPty {
  const env = Object.entries(options.env).map(([key, value]) => `${key}=${value}`);
  // Loaded outside the try: a binding that does not load is not a fork that failed.
  const native = nativePty();
  let forked: ReturnType<NativePty['fork']>;
  try {
    // uid and gid -1: the program runs as the master's user. utf8 false: no IUTF8, as node-pty
    // does for raw Buffers. The helper path is used only on macOS (dt reads /proc: Linux only).
    forked = native.fork(file, args, env, options.cwd, options.cols, options.rows, -1, -1, false, '', (code, signal) => {
      onExit(code, signal & ~CORE_DUMPED_FLAG, (signal & CORE_DUMPED_FLAG) !== 0);
    });
  } catch (error) {
    throw explainForkFailure(error);
  }
  return { fd: forked.fd, pid: forked.pid };
}

/**
 * node-pty says only "forkpty(3) failed.", without errno: no pseudo-terminal could be had, or
 * no process could be created (a process limit reached). Opening one now tells them apart.
 */
function explainForkFailure(error: unknown): Error {
  let fd: number;
  try {
    fd = fs.openSync(PTY_MULTIPLEXER, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  } catch (openError) {
    return new Error(`no pseudo-terminal could be opened (${PTY_MULTIPLEXER}: ${describeSystemError(openError)})`, { cause: error });
  }
  try {
    if (!tty.isatty(fd)) return new Error(`no pseudo-terminal could be opened (${PTY_MULTIPLEXER} is not a terminal device)`, { cause: error });
  } finally {
    fs.closeSync(fd);
  }
  return new Error('no process could be created (forkpty(3) failed)', { cause: error });
}

/** Sets the pty's window size (TIOCSWINSZ); the kernel sends the foreground group SIGWINCH. */
export function resizePty(fd: number, cols: number, rows: number): void {
  nativePty().resize(fd, cols, rows);
}
