// unchangedStartLength against the kernel itself: a program in a real terminal turns on every
// output flag that changes bytes (olcuc onlcr ocrnl onocr onlret tab3) and writes each byte
// between two markers; what the terminal passes on shows which bytes were changed. Every byte
// the function lets through early must come out unchanged.

import { spawn } from 'node-pty';
import { expect, it } from 'vitest';
import { unchangedStartLength } from '../../src/client/post-processing.js';

const ALL_OUTPUT_FLAGS = ['opost', 'olcuc', 'onlcr', 'ocrnl', 'onocr', 'onlret', 'tab3'];
const OPEN = 0x3c; // '<'
const CLOSE = 0x3e; // '>'
const DONE = 'DONE';

/** Each byte 0-255 as `<b>`, written by a program whose terminal has every output flag on; the bytes that came out. */
function throughPostProcessing(): Promise<Buffer> {
  const program = `
    const { spawnSync } = require('node:child_process');
    spawnSync('stty', ['-echo', ...${JSON.stringify(ALL_OUTPUT_FLAGS)}], { stdio: ['inherit', 'ignore', 'inherit'] });
    const bytes = [];
    for (let byte = 0; byte < 256; byte++) bytes.push(${OPEN}, byte, ${CLOSE});
    process.stdout.write(Buffer.from(bytes));
    process.stdout.write('${DONE}');
    setInterval(() => {}, 1 << 30);
  `;
  // The program stays until the test has read DONE, and is then killed: one that wrote and
  // exited at once could lose its last words to libuv's early end of a pty's stream.
  const term = spawn(process.execPath, ['-e', program], { cols: 200, rows: 24, encoding: null });
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      term.kill('SIGKILL');
      reject(new Error(`no ${DONE} within 10 s; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`));
    }, 10_000);
    term.onData((data) => {
      chunks.push(Buffer.from(data));
      if (done || !Buffer.concat(chunks).includes(DONE)) return;
      done = true;
      clearTimeout(timer);
      term.kill('SIGKILL');
    });
    term.onExit(() => {
      if (done) resolve(Buffer.concat(chunks));
    });
  });
}

it('every byte it passes comes out of a terminal with every output flag on as it went in', async () => {
  const output = await throughPostProcessing();
  expect(output.toString('latin1')).toContain(DONE);
  const changed: number[] = [];
  let at = 0;
  for (let byte = 0; byte < 256; byte++) {
    const unchanged = output[at] === OPEN && output[at + 1] === byte && output[at + 2] === CLOSE;
    if (unchanged) {
      at += 3;
      continue;
    }
    changed.push(byte);
    // Skip what the terminal made of it: up to the next '<' (ONLCR or TAB3 may lengthen it, ONOCR drop it).
    at = output.indexOf(CLOSE, at + 1) + 1;
  }
  // The flags took effect: a-z upper-cased, \t \n \r changed.
  expect(changed).toEqual(expect.arrayContaining([0x09, 0x0a, 0x0d, 0x61, 0x7a]));
  for (const byte of changed) expect(unchangedStartLength(Buffer.of(byte)), `byte 0x${byte.toString(16)}`).toBe(0);
});

it('returns the length up to the first byte that may be changed, or the whole length', () => {
  expect(unchangedStartLength(Buffer.alloc(0))).toBe(0);
  expect(unchangedStartLength(Buffer.from('Q'))).toBe(1);
  expect(unchangedStartLength(Buffer.from('\x1b[2J\x1b[H'))).toBe(7);
  expect(unchangedStartLength(Buffer.from('BEGIN>A\nB'))).toBe(7);
  expect(unchangedStartLength(Buffer.from('Ab'))).toBe(1);
  expect(unchangedStartLength(Buffer.from('A\r'))).toBe(1);
  expect(unchangedStartLength(Buffer.from('A\t'))).toBe(1);
  expect(unchangedStartLength(Buffer.from('A\x04'))).toBe(1);
  expect(unchangedStartLength(Buffer.from([0x41, 0xc3, 0xa9]))).toBe(1);
  // A view into a larger buffer counts from its own start.
  expect(unchangedStartLength(Buffer.from('ab12CD').subarray(2))).toBe(4);
});

it('counts as changeable exactly \\t, \\n, \\r, ^D, a-z and every byte above 0x7f', () => {
  const changeable = Array.from({ length: 256 }, (_, byte) => byte).filter((byte) => unchangedStartLength(Buffer.of(byte)) === 0);
  const expected = [0x04, 0x09, 0x0a, 0x0d];
  for (let byte = 0x61; byte <= 0x7a; byte++) expected.push(byte);
  for (let byte = 0x80; byte <= 0xff; byte++) expected.push(byte);
  expect(changeable).toEqual(expected);
});
