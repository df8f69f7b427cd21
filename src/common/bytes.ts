// Words that are not UTF-8 (a file name in Latin-1, any bytes at all), carried exactly in
// JavaScript strings. Node decodes argv and the environment as UTF-8 and replaces what is not
// UTF-8 with U+FFFD, so a program or a socket path would silently receive other bytes. Here
// each byte that is not part of valid UTF-8 becomes a lone surrogate U+DC80..U+DCFF (Python's
// "surrogateescape"), which no valid UTF-8 decodes to: the string works as any other (path
// functions, JSON) and turns back into exactly the original bytes at the system boundary.

const ESCAPE_BASE = 0xdc00;
/** An escaped byte: a low surrogate in its range that is not the second half of a pair. */
const ESCAPED = /(?<![\ud800-\udbff])[\udc80-\udcff]/;
const ALL_ESCAPED = new RegExp(ESCAPED.source, 'g');

/** The bytes as a string: valid UTF-8 decoded, every other byte escaped. */
export function decodeBytes(bytes: Uint8Array): string {
  let text = '';
  let start = 0; // start of the current run of valid UTF-8
  let index = 0;
  while (index < bytes.length) {
    const length = validSequenceLength(bytes, index);
    if (length > 0) {
      index += length;
      continue;
    }
    text += Buffer.from(bytes.buffer, bytes.byteOffset + start, index - start).toString('utf8');
    text += String.fromCharCode(ESCAPE_BASE + bytes[index]!);
    index++;
    start = index;
  }
  return text + Buffer.from(bytes.buffer, bytes.byteOffset + start, index - start).toString('utf8');
}

/** The exact bytes a decodeBytes string stands for. */
export function encodeBytes(text: string): Buffer {
  if (!hasEscapedBytes(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) {
      index++; // a pair: an ordinary character beyond U+FFFF
      continue;
    }
    if (unit < ESCAPE_BASE + 0x80 || unit > ESCAPE_BASE + 0xff) continue;
    parts.push(Buffer.from(text.slice(start, index), 'utf8'), Buffer.of(unit - ESCAPE_BASE));
    start = index + 1;
  }
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** True when the string holds bytes that are not UTF-8. */
export function hasEscapedBytes(text: string): boolean {
  return ESCAPED.test(text);
}

/** How many bytes encodeBytes(text) gives, without making them. */
export function exactByteLength(text: string): number {
  const length = Buffer.byteLength(text, 'utf8');
  if (!hasEscapedBytes(text)) return length;
  // Buffer.byteLength counts each escaped byte as U+FFFD, 3 bytes.
  return length - 2 * (text.match(ALL_ESCAPED)?.length ?? 0);
}

/** What to give node:fs for a path: the string itself, or its exact bytes. */
export function fsPath(text: string): string | Buffer {
  return hasEscapedBytes(text) ? encodeBytes(text) : text;
}

/** The text to show a person: escaped bytes as \xHH. */
export function displayText(text: string): string {
  return hasEscapedBytes(text)
    ? text.replace(new RegExp(ESCAPED.source, 'g'), (unit) => `\\x${(unit.charCodeAt(0) - ESCAPE_BASE).toString(16)}`)
    : text;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Length of the valid UTF-8 sequence at `index` (RFC 3629: shortest form, no surrogates), or 0. */
function validSequenceLength(bytes: Uint8Array, index: number): number {
  const first = bytes[index]!;
  if (first < 0x80) return 1;
  let length: number;
  let min: number;
  let max = 0xbf;
  if (first >= 0xc2 && first <= 0xdf) {
    length = 2;
    min = 0x80;
  } else if (first >= 0xe0 && first <= 0xef) {
    length = 3;
    min = first === 0xe0 ? 0xa0 : 0x80; // no overlong forms
    if (first === 0xed) max = 0x9f; // no UTF-16 surrogates
  } else if (first >= 0xf0 && first <= 0xf4) {
    length = 4;
    min = first === 0xf0 ? 0x90 : 0x80;
    if (first === 0xf4) max = 0x8f; // nothing beyond U+10FFFF
  } else {
    return 0;
  }
  if (index + length > bytes.length) return 0;
  const second = bytes[index + 1]!;
  if (second < min || second > max) return 0;
  for (let offset = 2; offset < length; offset++) {
    const next = bytes[index + offset]!;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}
