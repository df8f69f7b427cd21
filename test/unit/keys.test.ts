// Key names and finding the detach/suspend keys in terminal input, in the legacy byte form
// and in the kitty (CSI u) and xterm modifyOtherKeys forms of Ctrl+key.

import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { DEFAULT_DETACH_KEY, SUSPEND_KEY, findKey, parseKeyName, type WatchedKeys } from '../../src/client/keys.js';

const DEFAULT_KEYS: WatchedKeys = { detach: 0x1c, suspend: 0x1a };

const chunk = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('key names', () => {
  it('defaults to ^\\ for detach and ^Z for suspend, like dtach', () => {
    expect(DEFAULT_DETACH_KEY).toBe(0x1c);
    expect(SUSPEND_KEY).toBe(0x1a);
  });

  it.each([
    ['^\\', 0x1c],
    ['^?', 0x7f],
    ['^a', 0x01],
    ['^A', 0x01],
    ['^@', 0x00],
    ['^[', 0x1b],
    ['^z', 0x1a],
    ['x', 0x78],
    ['^', 0x5e],
    ['\\', 0x5c],
  ])('parseKeyName(%j) is %i', (name, key) => {
    expect(parseKeyName(name)).toBe(key);
  });

  const ONE_BYTE = 'the detach character must be one byte: an ASCII character, or ^X for Ctrl-X.';
  it.each([
    ['ab', `Invalid escape character 'ab': ${ONE_BYTE}`],
    ['^ab', `Invalid escape character '^ab': ${ONE_BYTE}`],
    ['', `Invalid escape character '': ${ONE_BYTE}`],
    // One character, but not one byte: what is wrong is said, not "use one character".
    ['é', `Invalid escape character 'é': 'é' is not ASCII (2 bytes in UTF-8); ${ONE_BYTE}`],
    ['✓', `Invalid escape character '✓': '✓' is not ASCII (3 bytes in UTF-8); ${ONE_BYTE}`],
    ['😀', `Invalid escape character '😀': '😀' is not ASCII (4 bytes in UTF-8); ${ONE_BYTE}`],
    // Ctrl and a non-ASCII key is no byte a terminal sends: refused, not some control byte.
    ['^é', `Invalid escape character '^é': 'é' is not ASCII (2 bytes in UTF-8); ${ONE_BYTE}`],
    // é in Latin-1: one byte, not UTF-8 (escaped as decodeBytes does), and not ASCII.
    ['\udce9', `Invalid escape character '\udce9': '\udce9' is not ASCII; ${ONE_BYTE}`],
  ])('parseKeyName(%j) is a usage error that says why', (name, message) => {
    expect(() => parseKeyName(name)).toThrow(new UsageError(message));
  });
});

describe('findKey with legacy bytes', () => {
  it.each([
    ['first', '\x1cabc', 0],
    ['middle', 'ab\x1ccd', 2],
    ['last', 'abc\x1c', 3],
    ['alone', '\x1c', 0],
  ])('finds the detach byte %s in the chunk', (_where, text, index) => {
    expect(findKey(chunk(text), DEFAULT_KEYS)).toEqual({ action: 'detach', index, length: 1 });
  });

  it('finds the suspend byte', () => {
    expect(findKey(chunk('ls\x1a'), DEFAULT_KEYS)).toEqual({ action: 'suspend', index: 2, length: 1 });
  });

  it('returns null when no watched key is in the chunk', () => {
    expect(findKey(chunk('plain text\r\n\x03\x04'), DEFAULT_KEYS)).toBeNull();
    expect(findKey(Buffer.alloc(0), DEFAULT_KEYS)).toBeNull();
  });

  it('reports the earlier of detach and suspend', () => {
    expect(findKey(chunk('a\x1ab\x1c'), DEFAULT_KEYS)).toEqual({ action: 'suspend', index: 1, length: 1 });
    expect(findKey(chunk('a\x1cb\x1a'), DEFAULT_KEYS)).toEqual({ action: 'detach', index: 1, length: 1 });
  });

  it('reports the first occurrence when a key repeats', () => {
    expect(findKey(chunk('ab\x1c\x1c'), DEFAULT_KEYS)).toEqual({ action: 'detach', index: 2, length: 1 });
  });

  it('ignores disabled keys', () => {
    expect(findKey(chunk('a\x1cb'), { detach: null, suspend: 0x1a })).toBeNull();
    expect(findKey(chunk('a\x1ab'), { detach: 0x1c, suspend: null })).toBeNull();
    expect(findKey(chunk('\x1c\x1a'), { detach: null, suspend: null })).toBeNull();
    // A disabled detach key does not hide a later suspend key.
    expect(findKey(chunk('\x1c\x1a'), { detach: null, suspend: 0x1a })).toEqual({ action: 'suspend', index: 1, length: 1 });
  });

  it('finds a key at every position of a short chunk (typing) and of a long one (a paste)', () => {
    for (const length of [1, 2, 31, 32, 33, 100]) {
      for (let at = 0; at < length; at++) {
        for (const [key, action] of [[0x1c, 'detach'], [0x1a, 'suspend']] as const) {
          const bytes = Buffer.alloc(length, 'x');
          bytes[at] = key;
          expect(findKey(bytes, DEFAULT_KEYS), `${action} at ${at} of ${length}`).toEqual({ action, index: at, length: 1 });
        }
        const escape = Buffer.alloc(length, 'x');
        escape.write('\x1b[92;5u', at, 'latin1');
        const found = at + 7 <= length ? { action: 'detach', index: at, length: 7 } : null;
        expect(findKey(escape, DEFAULT_KEYS), `CSI u at ${at} of ${length}`).toEqual(found);
      }
      expect(findKey(Buffer.alloc(length, 'x'), DEFAULT_KEYS)).toBeNull();
      expect(findKey(Buffer.alloc(length, 0x1c), { detach: null, suspend: null })).toBeNull();
    }
  });

  it('watches a custom detach key', () => {
    expect(findKey(chunk('x\x1cy'), { detach: 0x78, suspend: null })).toEqual({ action: 'detach', index: 0, length: 1 });
    expect(findKey(chunk('ab\x7f'), { detach: 0x7f, suspend: null })).toEqual({ action: 'detach', index: 2, length: 1 });
  });
});

describe('findKey with CSI u (kitty) and modifyOtherKeys (xterm) sequences', () => {
  /** Expects `sequence`, placed after `before`, to be found as `action` and to span exactly the sequence. */
  function expectSequence(before: string, sequence: string, after: string, action: 'detach' | 'suspend', keys = DEFAULT_KEYS): void {
    const input = chunk(before + sequence + after);
    const match = findKey(input, keys);
    expect(match).toEqual({ action, index: before.length, length: sequence.length });
    expect(input.subarray(match!.index, match!.index + match!.length).toString('latin1')).toBe(sequence);
  }

  it.each([
    ['plain Ctrl', '\x1b[92;5u'],
    ['Ctrl with caps lock', '\x1b[92;69u'],
    ['Ctrl with num lock', '\x1b[92;133u'],
    ['Ctrl with caps and num lock', '\x1b[92;197u'],
    ['press event', '\x1b[92;5:1u'],
    ['repeat event', '\x1b[92;5:2u'],
    ['alternate keys', '\x1b[92:124;5u'],
    ['alternate keys with an empty shifted key', '\x1b[92::92;5u'],
    ['xterm modifyOtherKeys', '\x1b[27;5;92~'],
    ['xterm modifyOtherKeys with caps lock', '\x1b[27;69;92~'],
  ])('finds Ctrl+\\ as %s', (_what, sequence) => {
    expectSequence('', sequence, '', 'detach');
    expectSequence('abc', sequence, 'xyz', 'detach');
  });

  it.each([
    ['kitty', '\x1b[122;5u'],
    ['kitty, upper-case code', '\x1b[90;5u'],
    ['xterm', '\x1b[27;5;122~'],
  ])('finds Ctrl+Z (%s) as suspend', (_what, sequence) => {
    expectSequence('q', sequence, '', 'suspend');
  });

  it('ignores a key release but still finds a press in the same chunk', () => {
    expect(findKey(chunk('\x1b[92;5:3u'), DEFAULT_KEYS)).toBeNull();
    expectSequence('\x1b[92;5:3u', '\x1b[92;5:1u', '', 'detach');
  });

  it.each([
    ['no modifiers', '\x1b[92;1u'],
    ['Shift', '\x1b[92;2u'],
    ['Alt', '\x1b[92;3u'],
    ['Ctrl+Shift', '\x1b[92;6u'],
    ['Ctrl+Alt', '\x1b[92;7u'],
    ['Ctrl+Super', '\x1b[92;13u'],
    ['Ctrl+Shift with caps lock', '\x1b[92;70u'],
    ['xterm Ctrl+Shift', '\x1b[27;6;92~'],
    ['xterm Alt', '\x1b[27;3;92~'],
    ['Ctrl with another key', '\x1b[97;5u'],
    ['xterm Ctrl with another key', '\x1b[27;5;97~'],
    ['no modifier field', '\x1b[92u'],
    ['Ctrl+Shift+Z', '\x1b[122;6u'],
  ])('does not match %s', (_what, sequence) => {
    expect(findKey(chunk(`a${sequence}b`), DEFAULT_KEYS)).toBeNull();
  });

  it('does not match a disabled key in its escape form', () => {
    expect(findKey(chunk('\x1b[92;5u'), { detach: null, suspend: 0x1a })).toBeNull();
    expect(findKey(chunk('\x1b[122;5u'), { detach: 0x1c, suspend: null })).toBeNull();
  });

  it('matches a custom detach key in its escape form', () => {
    expectSequence('', '\x1b[97;5u', '', 'detach', { detach: 0x01, suspend: 0x1a });
    expectSequence('', '\x1b[27;5;97~', '', 'detach', { detach: 0x01, suspend: 0x1a });
  });

  it('reports whichever form comes first', () => {
    // escape-form suspend before a raw detach byte
    expect(findKey(chunk('a\x1b[122;5ub\x1c'), DEFAULT_KEYS)).toEqual({ action: 'suspend', index: 1, length: 8 });
    // raw suspend byte before an escape-form detach
    expect(findKey(chunk('a\x1ab\x1b[92;5u'), DEFAULT_KEYS)).toEqual({ action: 'suspend', index: 1, length: 1 });
    // escape-form detach before escape-form suspend
    expect(findKey(chunk('\x1b[92;5u\x1b[122;5u'), DEFAULT_KEYS)).toEqual({ action: 'detach', index: 0, length: 7 });
    // xterm-form suspend before kitty-form detach
    expect(findKey(chunk('\x1b[27;5;122~\x1b[92;5u'), DEFAULT_KEYS)).toEqual({ action: 'suspend', index: 0, length: 11 });
  });

  it('skips other escape sequences around the key', () => {
    expectSequence('\x1b[A\x1b[1;5C\x1b[97;5u', '\x1b[92;5u', '\x1b[0m', 'detach');
  });
});

describe('findKey with a detach key that escape sequences contain (-e ~, -e q)', () => {
  const TILDE: WatchedKeys = { detach: 0x7e, suspend: 0x1a };
  const Q: WatchedKeys = { detach: 0x71, suspend: 0x1a };
  const DEL: WatchedKeys = { detach: 0x7f, suspend: 0x1a };

  it.each([
    ['Delete', '\x1b[3~', TILDE],
    ['Page Up with Ctrl', '\x1b[5;5~', TILDE],
    ['F5', '\x1b[15~', TILDE],
    ['bracketed paste start', '\x1b[200~', TILDE],
    ['keypad 1 in application keypad mode (SS3)', '\x1bOq', Q],
    ['Alt+q', '\x1bq', Q],
    ['an X10 mouse report whose column byte is the key', '\x1b[M ~!', TILDE],
    ['an X10 mouse report at column 95 (DEL)', '\x1b[M \x7f!', DEL],
    ['a colour reply (OSC, ended by BEL)', '\x1b]11;rgb:7e7e/qqqq/0000\x07', Q],
    ['a version reply (DCS, ended by ST)', '\x1bP>|XTerm(q~)\x1b\\', TILDE],
  ])('does not take the key inside %s', (_what, sequence, keys) => {
    expect(findKey(chunk(sequence), keys)).toBeNull();
    expect(findKey(chunk(`ab${sequence}cd`), keys)).toBeNull();
  });

  it.each([
    ['after Delete', '\x1b[3~', TILDE, '~'],
    ['after keypad 1', '\x1bOq', Q, 'q'],
    ['after a mouse report', '\x1b[M ~!', TILDE, '~'],
    ['after a colour reply', '\x1b]11;rgb:qqqq/0000/0000\x1b\\', Q, 'q'],
  ])('finds the key typed %s in the same read', (_what, sequence, keys, key) => {
    expect(findKey(chunk(`${sequence}x${key}y`), keys)).toEqual({ action: 'detach', index: sequence.length + 1, length: 1 });
  });

  it('finds the key where a control byte cuts a sequence short, and at the end of a read that cuts one off', () => {
    expect(findKey(chunk('\x1b[3\x1c'), DEFAULT_KEYS)).toEqual({ action: 'detach', index: 3, length: 1 });
    expect(findKey(chunk('\x1b\x1c'), DEFAULT_KEYS)).toEqual({ action: 'detach', index: 1, length: 1 });
    expect(findKey(chunk('\x1b[1;5'), TILDE)).toBeNull();
    expect(findKey(chunk('~\x1b['), TILDE)).toEqual({ action: 'detach', index: 0, length: 1 });
  });

  it('still finds ESC itself as the detach key (-e ^[), as dtach does for a read that starts with it', () => {
    expect(findKey(chunk('a\x1b[A'), { detach: 0x1b, suspend: null })).toEqual({ action: 'detach', index: 1, length: 1 });
  });
});
