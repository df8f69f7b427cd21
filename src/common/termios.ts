// dt's binding to termios(3) (native/termios.cc, built into build/Release by npm's install
// step, with node-gyp, as node-pty is): the calls Node does not make. An attaching client
// reads the lines its terminal holds before raw mode and turns off what Node's raw mode
// leaves on (client/raw-mode.ts); a master reads its program's local modes for the ctrl_l
// redraw. Each took a child process (stty) before,
// forked from the whole Node process: 1-1.5 ms during which a client could not show the
// session's first answer. Loaded where it is first used, never by other commands.

import path from 'node:path';
import { DtError, ExitCode } from './errors.js';

interface TermiosBinding {
  /** The terminal's modes as cfmakeraw(3) makes them, output written so far drained first: 0, or errno. */
  makeRaw(fd: number): number;
  /** [0, c_lflag, VMIN], or [errno]. */
  localModes(fd: number): number[];
  /**
   * The whole lines a terminal in canonical mode holds, an end of file typed at the start of a
   * line in them as the end-of-file character; empty when there are none, or it is not canonical.
   */
  cookedLines(fd: number): Buffer;
}

/**
 * Built beside the package's other directories: this file runs from dist/dt.js (the bundle),
 * or from src/common/ (the tests).
 */
export const PACKAGE_ROOT = path.basename(__dirname) === 'common' ? path.join(__dirname, '..', '..') : path.join(__dirname, '..');
const BINDING_FILE = path.join(PACKAGE_ROOT, 'build', 'Release', 'termios.node');

/** How to build dt's native parts, this binding and node-pty's: `npm rebuild` runs both install scripts. */
export const NATIVE_BUILD_HINT = `build it with \`npm rebuild\` in ${PACKAGE_ROOT}; that needs Python 3, make and a C++ compiler`;

/** The binding's calls: each must be there before anything is touched. */
const CALLS: ReadonlyArray<keyof TermiosBinding> = ['makeRaw', 'localModes', 'cookedLines'];

let binding: TermiosBinding | undefined;

/**
 * The binding, loaded at the first call; a DtError that says how to build it if it cannot be
 * loaded, or if what loads is not it (another Node addon in its place, or an older dt's
 * binding that lacks a call): calling what is not there would fail halfway through raw mode.
 */
export function termios(): TermiosBinding {
  if (binding) return binding;
  const module = { exports: {} as TermiosBinding };
  try {
    process.dlopen(module, BINDING_FILE);
  } catch (error) {
    throw cannotLoad((error as Error).message, error);
  }
  const missing = CALLS.find((call) => typeof module.exports[call] !== 'function');
  if (missing !== undefined) throw cannotLoad(`${BINDING_FILE} is not dt's: it has no ${missing}`);
  binding = module.exports;
  return binding;
}

function cannotLoad(reason: string, cause?: unknown): DtError {
  return new DtError(`cannot load the terminal binding: ${reason}`, ExitCode.Failure, {
    cause,
    hint: NATIVE_BUILD_HINT,
  });
}
