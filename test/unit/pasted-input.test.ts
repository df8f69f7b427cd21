// Telling a bracketed paste (ESC [ 200 ~ ... ESC [ 201 ~) from typing in the terminal's reads,
// however the reads cut the paste and its markers.

import { describe, expect, it } from 'vitest';
import { PASTE_END, PastedInput } from '../../src/common/pasted-input.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Feeds the reads in order; returns each byte's part as T (typed) or P (pasted), one string for the whole input. */
function classify(reads: string[], input = new PastedInput()): string {
  let out = '';
  for (const read of reads) {
    let rest = bytes(read);
    while (rest.length > 0) {
      const part = input.nextPart(rest);
      expect(part.length).toBeGreaterThan(0);
      expect(part.length).toBeLessThanOrEqual(rest.length);
      out += (part.pasted ? 'P' : 'T').repeat(part.length);
      rest = rest.subarray(part.length);
    }
  }
  return out;
}

const STREAM = 'ab\x1c\x1b[200~x\x1cy\x1az\x1b[201~c\x1c';
/** The parts of STREAM: typed ab^\, the paste with its markers, typed c^\. */
const EXPECTED = 'TTT' + 'P'.repeat(6 + 5 + 6) + 'TT';
/**
 * The same when a read cuts the start marker after `cut` of its bytes: those are typed (nobody
 * can tell yet that a paste begins; no key is found inside an escape sequence anyway).
 */
const expectedCutInStart = (cut: number): string => 'TTT' + 'T'.repeat(cut) + 'P'.repeat(6 - cut + 5 + 6) + 'TT';

describe('bracketed pastes in the terminal\'s reads', () => {
  it('typing with no paste is one typed part, a key or an escape sequence included', () => {
    expect(classify(['abc\x1c'])).toBe('TTTT');
    expect(classify(['\x1b[A\x1b[3~'])).toBe('T'.repeat(7));
  });

  it('a paste in one read: its markers and everything between them are pasted', () => {
    expect(classify([STREAM])).toBe(EXPECTED);
  });

  it.each(Array.from({ length: STREAM.length - 1 }, (_, index) => index + 1))('a read cut at byte %i: the same parts (of the start marker, what comes before the cut typed)', (at) => {
    const cut = at - 3;
    expect(classify([STREAM.slice(0, at), STREAM.slice(at)])).toBe(cut > 0 && cut < 6 ? expectedCutInStart(cut) : EXPECTED);
  });

  it('one byte a read: the same parts, the start marker but its last byte typed', () => {
    expect(classify([...STREAM])).toBe(expectedCutInStart(5));
  });

  it('a paste that spans reads stays a paste until its end, which may come much later', () => {
    const input = new PastedInput();
    expect(classify(['\x1b[200~first', '\x1c\x1a second\r'], input)).toBe('P'.repeat(6 + 5 + 10));
    expect(input.inPaste).toBe(true);
    expect(classify(['third\x1b[201~', 'x'], input)).toBe('P'.repeat(5 + 6) + 'T');
    expect(input.inPaste).toBe(false);
  });

  it('what only looks like a marker\'s beginning is typed: ESC [ 2 0 then other bytes', () => {
    expect(classify(['\x1b[20', '3~\x1c'])).toBe('TTTTTTT');
    expect(classify(['\x1b[2', '1~'])).toBe('TTTTT');
  });

  it('an end marker outside a paste, or a start marker inside one, changes nothing', () => {
    expect(classify(['a\x1b[201~b'])).toBe('T'.repeat(8));
    expect(classify(['\x1b[200~a\x1b[200~b\x1b[201~c'])).toBe('P'.repeat(6 + 1 + 6 + 1 + 6) + 'T');
  });

  it('two pastes in one read, typing between them', () => {
    expect(classify(['\x1b[200~a\x1b[201~b\x1b[200~c\x1b[201~'])).toBe('P'.repeat(13) + 'T' + 'P'.repeat(13));
  });

  it('follow() takes whole reads: a paste begun in one and not ended is under way; the end marker, fed to it, ends it', () => {
    const input = new PastedInput();
    input.follow(bytes('typed \x1b[200~pasted'));
    expect(input.inPaste).toBe(true);
    input.follow(bytes(' more\x1b[20'));
    expect(input.inPaste).toBe(true);
    input.follow(PASTE_END);
    expect(input.inPaste).toBe(false);
    input.follow(bytes('\x1b[200~a\x1b[201~'));
    expect(input.inPaste).toBe(false);
  });
});
