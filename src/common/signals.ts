// Signal names and numbers, and the shell's convention for reporting death by signal.

import { constants } from 'node:os';

const SIGNALS = constants.signals as Record<string, number>;

/** `TERM`, `SIGTERM`, `term` or `15` → 15; undefined when unknown. */
export function parseSignal(name: string): number | undefined {
  if (/^\d+$/.test(name)) {
    const number = Number(name);
    return number > 0 && number < 65 ? number : undefined;
  }
  const upper = name.toUpperCase();
  return SIGNALS[upper.startsWith('SIG') ? upper : `SIG${upper}`];
}

export function signalName(number: number): string {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === number) return name;
  return `signal ${number}`;
}

export function signalNumber(name: NodeJS.Signals): number {
  return SIGNALS[name] ?? 0;
}
