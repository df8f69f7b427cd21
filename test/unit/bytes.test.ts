import { describe, expect, it } from 'vitest';
import { decodeBytes, displayText, encodeBytes, fsPath, hasEscapedBytes } from '../../src/common/bytes.js';

/** A reproducible byte sequence. */
function randomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let index = 0; index < length; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

describe('decodeBytes and encodeBytes', () => {
  it('round-trip every one- and two-byte sequence exactly', () => {
    for (let first = 0; first < 256; first++) {
      expect(encodeBytes(decodeBytes(Buffer.of(first)))).toEqual(Buffer.of(first));
      for (let second = 0; second < 256; second++) {
        const bytes = Buffer.of(first, second);
        expect(encodeBytes(decodeBytes(bytes)).equals(bytes)).toBe(true);
      }
    }
  });

  it('round-trip random bytes exactly, and any split of them into two words', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const bytes = randomBytes(64, seed);
      expect(encodeBytes(decodeBytes(bytes)).equals(bytes)).toBe(true);
      const at = seed % bytes.length;
      const joined = Buffer.concat([encodeBytes(decodeBytes(bytes.subarray(0, at))), encodeBytes(decodeBytes(bytes.subarray(at)))]);
      expect(joined.equals(bytes)).toBe(true);
    }
  });

  it.each([
    ['ASCII', 'plain-name.sock'],
    ['two-byte', 'café'],
    ['three-byte', '日本語'],
    ['four-byte (a surrogate pair in the string)', 'emoji 😀 and 𐂀 (U+10080)'],
  ])('decode valid UTF-8 (%s) exactly as Node does, with nothing escaped', (_, text) => {
    const bytes = Buffer.from(text, 'utf8');
    expect(decodeBytes(bytes)).toBe(text);
    expect(hasEscapedBytes(decodeBytes(bytes))).toBe(false);
    expect(encodeBytes(text).equals(bytes)).toBe(true);
    expect(fsPath(text)).toBe(text);
  });

  it.each([
    ['Latin-1 é', [0x63, 0x61, 0x66, 0xe9]],
    ['a lone continuation byte', [0x80]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an overlong three-byte form', [0xe0, 0x80, 0xaf]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a truncated sequence at the end', [0x41, 0xe6, 0x97]],
    ['0xff and 0xfe', [0xff, 0xfe]],
  ])('escape what is not UTF-8 (%s) and give back the same bytes', (_, list) => {
    const bytes = Buffer.from(list);
    const text = decodeBytes(bytes);
    expect(hasEscapedBytes(text)).toBe(true);
    expect(encodeBytes(text).equals(bytes)).toBe(true);
    expect(Buffer.isBuffer(fsPath(text))).toBe(true);
  });

  it('shows escaped bytes as \\xHH', () => {
    expect(displayText(decodeBytes(Buffer.from([0x73, 0xff, 0x2f, 0xe9])))).toBe('s\\xff/\\xe9');
    expect(displayText('café')).toBe('café');
  });
});
