// Key names (`^\`, `^?`, `x`) and finding the detach and suspend keys in a read from the
// terminal, in the legacy single-byte form and in the CSI-u / modifyOtherKeys forms that
// kitty and recent xterm send for Ctrl+key.

import { hasEscapedBytes } from '../common/bytes.js';
import { UsageError } from '../common/errors.js';

/** Ctrl-\, dtach's default. */
export const DEFAULT_DETACH_KEY = 0x1c;
/** Ctrl-Z. */
export const SUSPEND_KEY = 0x1a;

const ONE_BYTE = 'the detach character must be one byte: an ASCII character, or ^X for Ctrl-X';

/**
 * `^X` → Ctrl-X, `^?` → DEL, any other single ASCII character → itself. dtach takes the first
 * byte of what it is given; dt refuses anything but one byte, and says why: a character such
 * as é is one character, but not one byte.
 */
export function parseKeyName(name: string): number {
  const nonAscii = /[^\x00-\x7f]/u.exec(name)?.[0];
  if (nonAscii !== undefined) {
    // A byte that is not UTF-8 (é in Latin-1) is one byte, but not ASCII either.
    const size = hasEscapedBytes(nonAscii) ? '' : ` (${Buffer.byteLength(nonAscii, 'utf8')} bytes in UTF-8)`;
    throw new UsageError(`Invalid escape character '${name}': '${nonAscii}' is not ASCII${size}; ${ONE_BYTE}.`);
  }
  if (name.length === 2 && name[0] === '^') {
    if (name[1] === '?') return 0x7f;
    return name.charCodeAt(1) & 0x1f;
  }
  if (name.length !== 1) throw new UsageError(`Invalid escape character '${name}': ${ONE_BYTE}.`);
  return name.charCodeAt(0);
}

export type KeyAction = 'detach' | 'suspend';

export interface KeyMatch {
  action: KeyAction;
  /** offset of the key's first byte in the chunk */
  index: number;
  /** bytes the key occupies (1, or the length of its escape sequence) */
  length: number;
}

export interface WatchedKeys {
  detach: number | null;
  suspend: number | null;
}

// kitty: ESC [ code[:alternates] ; modifiers[:event] u ; xterm modifyOtherKeys: ESC [ 27 ; modifiers ; code ~
const KITTY_KEY = /\x1b\[(\d+)(?::\d*)*;(\d+)(?::(\d+))?u/g;
const XTERM_KEY = /\x1b\[27;(\d+);(\d+)~/g;
const CTRL_BIT = 4;
const LOCK_BITS = 64 | 128; // caps lock, num lock: do not change which key was meant
const KEY_RELEASE_EVENT = 3;
const ESC = 0x1b;
const BEL = 0x07;
/** ESC ] (OSC), P (DCS), _ (APC), ^ (PM), X (SOS): a string follows, up to BEL or ESC \. */
const STRING_INTRODUCERS = [0x5d, 0x50, 0x5f, 0x5e, 0x58];
/** Reads up to this long are scanned byte by byte for a key (typing); longer ones (a paste) searched. */
const SHORT_CHUNK_BYTES = 32;

/** The earliest watched key in the chunk, or null. */
export function findKey(chunk: Buffer, keys: WatchedKeys): KeyMatch | null {
  // Nearly every chunk is plain typing: answered without allocating (a keystroke's garbage is
  // what makes the collector pause it, now and then).
  if (!mayHoldKey(chunk, keys)) return null;
  let best: KeyMatch | null = null;
  const consider = (match: KeyMatch): void => {
    if (best === null || match.index < best.index) best = match;
  };
  for (const [action, key] of [['detach', keys.detach], ['suspend', keys.suspend]] as const) {
    if (key === null) continue;
    const index = indexOfKey(chunk, key);
    if (index >= 0) consider({ action, index, length: 1 });
  }
  if (chunk.includes(ESC)) {
    const text = chunk.toString('latin1');
    for (const match of text.matchAll(KITTY_KEY)) {
      if (match[3] !== undefined && Number(match[3]) === KEY_RELEASE_EVENT) continue;
      const action = actionForCtrlKey(Number(match[1]), Number(match[2]), keys);
      if (action) consider({ action, index: match.index, length: match[0].length });
    }
    for (const match of text.matchAll(XTERM_KEY)) {
      const action = actionForCtrlKey(Number(match[2]), Number(match[1]), keys);
      if (action) consider({ action, index: match.index, length: match[0].length });
    }
  }
  return best;
}

/**
 * The first `key` byte of the chunk that is not inside an escape sequence, or -1. A printable
 * detach key (`-e '~'`) is also the last byte of Delete (ESC [ 3 ~), a byte of a mouse report
 * or of a colour reply: the user pressed another key, or none.
 */
function indexOfKey(chunk: Buffer, key: number): number {
  let index = chunk.indexOf(key);
  let escape = chunk.indexOf(ESC);
  while (index >= 0 && escape >= 0 && escape < index) {
    const end = escapeSequenceEnd(chunk, escape);
    if (index < end) index = chunk.indexOf(key, end);
    escape = chunk.indexOf(ESC, end);
  }
  return index;
}

/**
 * Where the sequence that the ESC at `at` begins ends (the index after it), as a terminal
 * sends them: CSI and SS3 (ESC [ or ESC O, parameters, a final byte: keys and replies), an X10
 * mouse report (ESC [ M and three bytes of any value), a string (OSC, DCS, APC, PM, SOS) up to
 * BEL or ESC \, or Alt+key (ESC and a printable byte). A control byte ends a sequence there:
 * it acts on its own.
 */
function escapeSequenceEnd(chunk: Buffer, at: number): number {
  const introducer = chunk[at + 1];
  if (introducer === undefined || introducer < 0x20 || introducer > 0x7e) return at + 1;
  if (introducer === 0x5b /* [ */ && chunk[at + 2] === 0x4d /* M */) return Math.min(at + 6, chunk.length);
  if (introducer === 0x5b || introducer === 0x4f /* O */) {
    let end = at + 2;
    while (end < chunk.length && chunk[end]! >= 0x20 && chunk[end]! <= 0x3f) end++;
    const final = chunk[end];
    return final !== undefined && final >= 0x40 && final <= 0x7e ? end + 1 : end;
  }
  if (STRING_INTRODUCERS.includes(introducer)) {
    for (let end = at + 2; end < chunk.length; end++) {
      if (chunk[end] === BEL) return end + 1;
      if (chunk[end] === ESC) return chunk[end + 1] === 0x5c /* \ */ ? end + 2 : end;
    }
    return chunk.length;
  }
  return at + 2;
}

function mayHoldKey(chunk: Buffer, keys: WatchedKeys): boolean {
  // A keystroke is a byte or a few: looked at one by one here, rather than searched for
  // three times in C++ (a call from JavaScript into C++ each).
  if (chunk.length <= SHORT_CHUNK_BYTES) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === ESC || byte === keys.detach || byte === keys.suspend) return true;
    }
    return false;
  }
  return (keys.detach !== null && chunk.includes(keys.detach)) || (keys.suspend !== null && chunk.includes(keys.suspend)) || chunk.includes(ESC);
}

function actionForCtrlKey(codepoint: number, modifiers: number, keys: WatchedKeys): KeyAction | null {
  if (((modifiers - 1) & ~LOCK_BITS) !== CTRL_BIT) return null;
  const byte = controlByteFor(codepoint);
  if (byte === null) return null;
  if (byte === keys.detach) return 'detach';
  if (byte === keys.suspend) return 'suspend';
  return null;
}

/** The byte a legacy terminal sends for Ctrl plus this key, if there is one. */
function controlByteFor(codepoint: number): number | null {
  if (codepoint >= 0x61 && codepoint <= 0x7a) return codepoint - 0x60; // a-z
  if (codepoint >= 0x40 && codepoint <= 0x5f) return codepoint - 0x40; // @ A-Z [ \ ] ^ _
  if (codepoint === 0x20) return 0; // Ctrl-Space
  if (codepoint === 0x3f) return 0x7f; // Ctrl-?
  return null;
}
