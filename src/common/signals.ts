// Signal names and numbers, and the shell's convention for reporting death by signal.

import { constants } from 'node:os';

const SIGNALS = constants.signals as Record<string, number>;

/**
 * The real-time signals a program can have, as glibc gives them (Node knows no names for
 * them): the kernel's 32 and 33 are glibc's own (threads, timers), so SIGRTMIN is 34.
 */
const SIGRTMIN = 34;
/** Linux's highest signal: nothing above it is one. */
export const SIGRTMAX = 64;
/** How far RTMIN+n and RTMAX-n may count from their end: across the whole range. */
const MAX_REAL_TIME_OFFSET = SIGRTMAX - SIGRTMIN;

/**
 * `TERM`, `SIGTERM`, `term` or `15` → 15; `RTMIN`, `RTMIN+n`, `RTMAX-n`, `RTMAX` (with or
 * without SIG) as bash's kill takes them; undefined when unknown or one of glibc's own.
 * `0` is kill(2)'s null signal, as kill -0 sends it: nothing is sent, the kernel only checks
 * that the process exists and may be signalled.
 */
export function parseSignal(name: string): number | undefined {
  if (/^\d+$/.test(name)) {
    const number = Number(name);
    return number <= SIGRTMAX && !isGlibcSignal(number) ? number : undefined;
  }
  const upper = name.toUpperCase();
  const bare = upper.startsWith('SIG') ? upper.slice(3) : upper;
  return SIGNALS[`SIG${bare}`] ?? parseRealTimeSignal(bare);
}

/** `RTMIN`, `RTMIN+n`, `RTMAX-n`, `RTMAX`, counting into the range from its end. */
function parseRealTimeSignal(name: string): number | undefined {
  const match = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
  if (match === null) return undefined;
  const offset = Number(match[1] ?? 0);
  if (offset > MAX_REAL_TIME_OFFSET) return undefined;
  return name.startsWith('RTMIN') ? SIGRTMIN + offset : SIGRTMAX - offset;
}

/** Signals 32 and 33 exist in the kernel, but no program can handle them: one sent kills it. */
function isGlibcSignal(number: number): boolean {
  return number > 31 && number < SIGRTMIN;
}

/**
 * What dt -k says of a signal parseSignal does not know (`name`, typed as `word`: `-32` for
 * 32): why, for glibc's own.
 */
export function invalidSignalMessage(word: string, name = word): string {
  if (!/^\d+$/.test(name) || !isGlibcSignal(Number(name))) return `Invalid signal '${word}'`;
  return `Invalid signal '${word}' (32 and 33 are the C library's own; real-time signals are ${SIGRTMIN} to ${SIGRTMAX}, RTMIN to RTMAX)`;
}

export function signalName(number: number): string {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === number) return name;
  if (number >= SIGRTMIN && number <= SIGRTMAX) return realTimeSignalName(number);
  return `signal ${number}`;
}

/** As bash's `kill -l`: the lower half counted up from SIGRTMIN, the upper half down from SIGRTMAX. */
function realTimeSignalName(number: number): string {
  if (number === SIGRTMIN) return 'SIGRTMIN';
  if (number === SIGRTMAX) return 'SIGRTMAX';
  const offset = number - SIGRTMIN;
  return offset <= MAX_REAL_TIME_OFFSET / 2 ? `SIGRTMIN+${offset}` : `SIGRTMAX-${SIGRTMAX - number}`;
}

export function signalNumber(name: NodeJS.Signals): number {
  return SIGNALS[name] ?? 0;
}

/** A death by the signal named so, as dt words it, as a shell would: `SIGSEGV`, or `SIGSEGV (core dumped)`. */
export function describeSignalDeath(name: string, coreDumped: boolean | undefined): string {
  return coreDumped ? `${name} (core dumped)` : name;
}
