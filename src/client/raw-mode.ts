// The user's terminal in full raw mode, as cfmakeraw(3), and back. Node's setRawMode leaves
// output post-processing on (a program's bare \n would become \r\n and full-screen programs
// would draw wrongly) and a few input flags; Node has no tcsetattr, so stty clears the rest.
// Starting stty blocks the client about 1 ms (a fork of the whole Node process and the wait
// for its exec; quiet-child.ts): an attaching client starts it once its attach request and
// the keys typed so far are on their way, so that this overlaps the session's answer. Output
// that post-processing cannot change may go to the terminal meanwhile (post-processing.ts);
// nothing else until stty has ended.

import { findExecutable } from '../common/executable.js';
import { readStatFields } from '../common/process-stat.js';
import { startQuietChild, type QuietChild } from './quiet-child.js';
import { terminalInput } from './terminal.js';

/** What setRawMode leaves on, off. */
const STTY_ARGUMENTS = ['-opost', '-inlcr', '-igncr', '-ignbrk', '-parmrk', '-echonl', '-parenb', 'cs8'];
/** How long a client that leaves waits for stty to end before it restores the terminal anyway. */
const STTY_EXIT_TIMEOUT_MS = 1_000;
/** Pause between looks at an stty that a synchronous wait is waiting for. */
const STTY_POLL_MS = 1;

let raw = false;
/** True from setRawMode until stty is started (or no longer needed). */
let sttyDue = false;
/** stty, from its start until its end is seen. */
let stty: QuietChild | undefined;
/** Settles the promise the latest enterRawMode returned. */
let settle: (() => void) | undefined;

/**
 * Raw mode: setRawMode at once, so that no key is read cooked or lost; the rest is stty's,
 * which finishRawMode() starts. Resolves once stty has ended (or could not run: then raw
 * mode is Node's); until then, write nothing to the terminal that post-processing may change.
 */
export function enterRawMode(): Promise<void> {
  terminalInput().setRawMode(true);
  raw = true;
  sttyDue = true;
  return new Promise<void>((resolve) => { settle = resolve; });
}

/** Starts stty, the rest of raw mode, unless it has been started since enterRawMode(). */
export function finishRawMode(): void {
  if (!sttyDue) return;
  sttyDue = false;
  startStty();
}

/**
 * Looked up here, not by the forked child: the client waits until the child has exec-ed, and
 * each directory of PATH it tries costs it far more than a stat here. With no environment
 * but the C locale: loading another costs stty time and it says nothing we read, and copying
 * the user's environment for it costs the client time (stty sets modes from its arguments).
 */
function startStty(): void {
  const found = findExecutable('stty', process.env['PATH']);
  const child = startQuietChild(typeof found === 'string' ? found : 'stty', STTY_ARGUMENTS, { LC_ALL: 'C' }, () => {
    // Ended, or could not start (no stty): then raw mode stays as Node made it.
    if (stty !== child) return;
    stty = undefined;
    settleRawMode();
  });
  stty = child;
}

function settleRawMode(): void {
  const resolve = settle;
  settle = undefined;
  resolve?.();
}

/** Back to the terminal's settings from before raw mode, which libuv saved before the first change. */
export function restoreTerminal(): void {
  if (!raw) return;
  raw = false;
  sttyDue = false;
  // An stty still at work would apply raw settings over the restored ones: it goes first.
  stty?.kill('SIGKILL');
  completeRawMode();
  terminalInput().setRawMode(false);
}

/**
 * Waits, blocking, until stty has done its work, at most STTY_EXIT_TIMEOUT_MS (then kills it),
 * starting it if it is due: for a client that must write to the terminal (a status line) before the event
 * loop could tell it. Until the event loop reaps it, an ended stty is a zombie: that is what
 * /proc shows, and a zombie can no longer touch the terminal.
 */
export function completeRawMode(): void {
  finishRawMode();
  const child = stty;
  stty = undefined;
  if (child?.pid !== undefined) {
    const deadline = Date.now() + STTY_EXIT_TIMEOUT_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (!hasEnded(child.pid) && Date.now() < deadline) Atomics.wait(pause, 0, 0, STTY_POLL_MS);
    // Given up on, it would apply raw settings over the ones the leaving client restores next.
    if (!hasEnded(child.pid)) child.kill('SIGKILL');
  }
  settleRawMode();
}

function hasEnded(pid: number): boolean {
  const state = readStatFields(pid)?.[0];
  // undefined: reaped already (or no /proc: nothing to look at; the deadline would only delay)
  return state === undefined || state === 'Z';
}
