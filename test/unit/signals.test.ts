// Signal names ↔ numbers, as used by `dt -k` (parse), the status line (name) and main's
// 128+N exit codes (number). Numbers are Linux's, which is what dt runs on.

import { describe, expect, it } from 'vitest';
import { parseSignal, signalName, signalNumber } from '../../src/common/signals.js';

describe('parseSignal', () => {
  it.each([
    ['TERM', 15], ['SIGTERM', 15], ['term', 15], ['SigTerm', 15],
    ['INT', 2], ['SIGINT', 2], ['HUP', 1], ['KILL', 9], ['USR1', 10], ['WINCH', 28], ['CONT', 18],
    ['15', 15], ['9', 9], ['1', 1], ['64', 64], ['010', 10],
  ])('%j is %i', (name, number) => {
    expect(parseSignal(name)).toBe(number);
  });

  it.each(['', 'SIG', 'BOGUS', 'SIGBOGUS', '0', '65', '-9', '+9', ' 9', '9x', '1.5', 'SIG15', 'SIGSIGTERM'])(
    '%j is unknown',
    (name) => {
      expect(parseSignal(name)).toBeUndefined();
    },
  );
});

describe('signalName', () => {
  it.each([
    [1, 'SIGHUP'], [2, 'SIGINT'], [9, 'SIGKILL'], [11, 'SIGSEGV'], [15, 'SIGTERM'], [28, 'SIGWINCH'],
    // Two names share these numbers; the conventional one is reported.
    [6, 'SIGABRT'], [29, 'SIGIO'],
  ])('%i is %s', (number, name) => {
    expect(signalName(number)).toBe(name);
  });

  it.each([0, 40, 200])('%i has no name and is shown as "signal N"', (number) => {
    expect(signalName(number)).toBe(`signal ${number}`);
  });

  it('names every standard signal (1-31) with a name that parses back to the same number', () => {
    for (let number = 1; number <= 31; number++) {
      const name = signalName(number);
      expect(name, `signal ${number}`).toMatch(/^SIG[A-Z0-9]+$/);
      expect(parseSignal(name), name).toBe(number);
    }
  });
});

describe('signalNumber', () => {
  it.each([
    ['SIGHUP', 1], ['SIGINT', 2], ['SIGQUIT', 3], ['SIGTERM', 15], ['SIGWINCH', 28],
  ] as const)('%s is %i', (name, number) => {
    expect(signalNumber(name)).toBe(number);
  });
});
