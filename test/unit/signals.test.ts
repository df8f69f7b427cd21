// Signal names ↔ numbers, as used by `dt -k` (parse), the status line (name) and main's
// 128+N exit codes (number). Numbers are Linux's, which is what dt runs on.

import { describe, expect, it } from 'vitest';
import { invalidSignalMessage, parseSignal, signalName, signalNumber } from '../../src/common/signals.js';

describe('parseSignal', () => {
  it.each([
    ['TERM', 15], ['SIGTERM', 15], ['term', 15], ['SigTerm', 15],
    ['INT', 2], ['SIGINT', 2], ['HUP', 1], ['KILL', 9], ['USR1', 10], ['WINCH', 28], ['CONT', 18],
    ['15', 15], ['9', 9], ['1', 1], ['64', 64], ['010', 10], ['31', 31], ['34', 34],
    // kill(2)'s null signal, as kill -0 takes it: nothing is sent, the kernel only checks.
    ['0', 0], ['00', 0],
    // Real-time signals, named as bash's kill names them (glibc: RTMIN 34, RTMAX 64).
    ['RTMIN', 34], ['SIGRTMIN', 34], ['rtmin', 34], ['SigRtMin', 34],
    ['RTMAX', 64], ['SIGRTMAX', 64], ['rtmax', 64],
    ['RTMIN+1', 35], ['SIGRTMIN+1', 35], ['rtmin+1', 35], ['RTMIN+0', 34], ['RTMIN+01', 35], ['RTMIN+15', 49], ['RTMIN+30', 64],
    ['RTMAX-1', 63], ['SIGRTMAX-1', 63], ['rtmax-1', 63], ['RTMAX-0', 64], ['RTMAX-14', 50], ['RTMAX-30', 34],
  ])('%j is %i', (name, number) => {
    expect(parseSignal(name)).toBe(number);
  });

  it.each([
    '', 'SIG', 'BOGUS', 'SIGBOGUS', '65', '256', '+0', '0x0', 'SIG0', 'SIGNULL', 'NULL', '-9', '+9', ' 9', '9x', '1.5', 'SIG15', 'SIGSIGTERM',
    // glibc's own: no program can handle them.
    '32', '33', '032',
    // Beyond the real-time range, the wrong way from an end, or not a count.
    'RTMIN+31', 'RTMAX-31', 'RTMIN-1', 'RTMAX+1', 'RTMIN+', 'RTMAX-', 'RTMIN1', 'RTMIN++1', 'RTMIN+-1', 'RTMIN+0x1',
    'RTMIN +1', 'RTMIN+1 ', 'RTMIN+1.0', 'RTMIN+99999999999999999999', 'RT', 'RTMID', 'SIGRT', 'SIGSIGRTMIN', 'RTMINRTMAX',
  ])(
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

  it.each([
    [34, 'SIGRTMIN'], [35, 'SIGRTMIN+1'], [40, 'SIGRTMIN+6'], [49, 'SIGRTMIN+15'], [50, 'SIGRTMAX-14'], [63, 'SIGRTMAX-1'], [64, 'SIGRTMAX'],
  ])('real-time %i is %s, as bash names it', (number, name) => {
    expect(signalName(number)).toBe(name);
  });

  it.each([0, 32, 33, 65, 200])('%i has no name and is shown as "signal N"', (number) => {
    expect(signalName(number)).toBe(`signal ${number}`);
  });

  it('names every real-time signal (34-64) with a name that parses back to the same number', () => {
    for (let number = 34; number <= 64; number++) expect(parseSignal(signalName(number)), `signal ${number}`).toBe(number);
  });

  it('names every standard signal (1-31) with a name that parses back to the same number', () => {
    for (let number = 1; number <= 31; number++) {
      const name = signalName(number);
      expect(name, `signal ${number}`).toMatch(/^SIG[A-Z0-9]+$/);
      expect(parseSignal(name), name).toBe(number);
    }
  });
});

describe('invalidSignalMessage', () => {
  it.each(['32', '33', '032'])('%j says the C library keeps it, and which signals a program can have', (name) => {
    expect(invalidSignalMessage(name)).toBe(
      `Invalid signal '${name}' (32 and 33 are the C library's own; real-time signals are 34 to 64, RTMIN to RTMAX)`,
    );
  });

  it.each(['BOGUS', '65', 'RTMIN+31', ''])('%j is only invalid', (name) => {
    expect(invalidSignalMessage(name)).toBe(`Invalid signal '${name}'`);
  });

  it('names the signal as typed, -32 for 32', () => {
    expect(invalidSignalMessage('-32', '32')).toBe(
      "Invalid signal '-32' (32 and 33 are the C library's own; real-time signals are 34 to 64, RTMIN to RTMAX)",
    );
    expect(invalidSignalMessage('-BOGUS', 'BOGUS')).toBe("Invalid signal '-BOGUS'");
  });
});

describe('signalNumber', () => {
  it.each([
    ['SIGHUP', 1], ['SIGINT', 2], ['SIGQUIT', 3], ['SIGTERM', 15], ['SIGWINCH', 28],
  ] as const)('%s is %i', (name, number) => {
    expect(signalNumber(name)).toBe(number);
  });
});
