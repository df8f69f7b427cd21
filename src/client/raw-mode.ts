// The user's terminal in full raw mode, as cfmakeraw(3) makes it, and back. Node's setRawMode
// saves the terminal's settings, which libuv puts back however we end (a signal too), and
// makes the terminal raw, but leaves output post-processing on (a program's bare \n would
// become \r\n, and full-screen programs would draw wrongly) and a few input flags on: dt's
// binding turns off the rest at once, before anything is read or written (common/termios.ts).
// The lines typed before, which the terminal holds in canonical mode, are read out first.

import { termios } from '../common/termios.js';
import { descriptorOf } from '../common/write-at-once.js';
import { terminalInput } from './terminal.js';

let raw = false;

/**
 * Full raw mode, at once: no key is read cooked, and output reaches the terminal as it is.
 * Returns the whole lines typed before (see below), which go to the program before any key
 * read later, or undefined. Throws, the terminal untouched, when dt's binding cannot be loaded.
 *
 * In canonical mode the terminal keeps an end of file (^D) as a mark between lines, not as a
 * byte; the mark left there when the terminal leaves canonical mode becomes a NUL that
 * nobody typed (script(1), whose input ends, types ^D into its command's terminal as dt
 * starts). Whole lines are read out before, as the terminal hands them over, with a ^D typed
 * at the start of a line put back: the program gets the bytes it would get had they been
 * typed a moment later, on a raw terminal. A ^D after other keys only handed them over, as
 * the terminal meant it to (see native/termios.cc). A line not yet ended holds no mark, and
 * is read raw.
 */
export function enterRawMode(): Buffer | undefined {
  const binding = termios();
  const input = terminalInput();
  // libuv's own descriptor of the terminal, which does not wait (fd 0 may be shared and may wait).
  const lines = binding.cookedLines(descriptorOf(input) ?? 0);
  input.setRawMode(true);
  raw = true;
  // A terminal that refuses (it hung up just now) is left as Node made it: the hangup ends us.
  binding.makeRaw(0);
  return lines.length > 0 ? lines : undefined;
}

/** Back to the terminal's settings from before raw mode, which libuv saved before the first change. */
export function restoreTerminal(): void {
  if (!raw) return;
  raw = false;
  terminalInput().setRawMode(false);
}
