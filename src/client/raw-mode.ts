// The user's terminal in full raw mode, as cfmakeraw(3) makes it, and back. Node's setRawMode
// saves the terminal's settings, which libuv puts back however we end (a signal too), and
// makes the terminal raw, but leaves output post-processing on (a program's bare \n would
// become \r\n, and full-screen programs would draw wrongly) and a few input flags on: dt's
// binding turns off the rest at once, before anything is read or written (common/termios.ts).

import { termios } from '../common/termios.js';
import { terminalInput } from './terminal.js';

let raw = false;

/**
 * Full raw mode, at once: no key is read cooked, and output reaches the terminal as it is.
 * Throws, the terminal untouched, when dt's binding cannot be loaded.
 */
export function enterRawMode(): void {
  const binding = termios();
  terminalInput().setRawMode(true);
  raw = true;
  // A terminal that refuses (it hung up just now) is left as Node made it: the hangup ends us.
  binding.makeRaw(0);
}

/** Back to the terminal's settings from before raw mode, which libuv saved before the first change. */
export function restoreTerminal(): void {
  if (!raw) return;
  raw = false;
  terminalInput().setRawMode(false);
}
