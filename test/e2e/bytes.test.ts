// Raw bytes both ways between the user's terminal and the program, byte for byte, in dt and
// (for comparison) in dtach 0.9. The client's terminal is a node-pty terminal: its own line
// discipline would translate bytes unless dt puts it in full raw mode, so these tests also
// prove that dt's raw mode is cfmakeraw's, not just Node's setRawMode.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DTACH, FIXTURES, HAVE_DTACH, Sandbox, hexReceived, killDtachMasters, type Term,
} from './harness.js';

const HEXECHO = `${FIXTURES}/hexecho.mjs`;
const RAWWRITE = `${FIXTURES}/rawwrite.mjs`;
const BEGIN = 'BEGIN>';
const END = '<END';

const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
const without = (bytes: Buffer, ...excluded: number[]): Buffer => Buffer.from(bytes.filter((byte) => !excluded.includes(byte)));

/** Invalid UTF-8 of several kinds, and NULs, which a decoding relay would replace or drop. */
const INVALID_UTF8 = Buffer.from([
  0x00, 0xc3, 0x28, // bad continuation
  0xa0, 0xa1, // lone continuation bytes
  0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, // bad 3- and 4-byte sequences
  0xc0, 0xaf, 0xe0, 0x80, 0xaf, // overlong '/'
  0xed, 0xa0, 0x80, // UTF-16 surrogate
  0xfe, 0xff, 0x00, 0x00, 0xf8, 0x88, 0x80, 0x80, 0x80, // never valid; NULs
]);

type Tool = 'dt' | 'dtach';

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('these tests check bytes; the end of a session is tested in lifecycle and faults');
});
afterEach(async () => {
  await killDtachMasters(sandbox);
  await sandbox.teardown();
});

/** Creates a session running `program` and attaches to it in a new terminal, with dt or dtach. */
function createSession(tool: Tool, options: string[], program: string[]): Term {
  const socket = sandbox.path(`${tool}.sock`);
  // -r none: no ^L on attach, so the program receives only what the test types.
  const args = ['-c', socket, '-r', 'none', ...options, process.execPath, ...program];
  return tool === 'dt' ? sandbox.dt(args) : sandbox.run(DTACH, args);
}

/** The bytes the terminal showed between BEGIN> (from `from`) and the <END marker, checked to be there. */
async function betweenMarkers(term: Term, from: number): Promise<Buffer> {
  const start = await term.waitFor(BEGIN, { from });
  const end = await term.waitFor(END, { from: start });
  return term.output.subarray(start, end - END.length);
}

const marked = (...parts: Buffer[]): Buffer => Buffer.concat([Buffer.from(BEGIN), ...parts, Buffer.from(END)]);

/** Types `input` in one write and returns every byte the hexecho program reported, as hex. */
async function typeAndCollect(term: Term, input: Buffer): Promise<string> {
  const from = await term.waitFor('READY');
  term.write(input);
  const expectedHex = input.toString('hex');
  // Reads may split the input; wait until as many bytes as were typed have been reported.
  await term.until(() => hexReceived(term.text.slice(from)).length >= expectedHex.length, `${input.length} bytes to reach the program`);
  return hexReceived(term.text.slice(from));
}

/** Runs rawwrite with these parts: each keystroke makes the program write the next part. */
async function startWriter(tool: Tool, parts: Buffer[]): Promise<{ term: Term; from: number }> {
  const term = createSession(tool, [], [RAWWRITE, ...parts.map((part) => part.toString('hex'))]);
  const from = await term.waitFor('READY');
  return { term, from };
}

describe.each(['dt', 'dtach'] as const)('%s', (tool) => {
  const maybe = tool === 'dtach' && !HAVE_DTACH ? it.skip : it;

  maybe('passes every input byte 0x00..0xff to the program unmodified, with -E -z', async () => {
    const term = createSession(tool, ['-E', '-z'], [HEXECHO]);
    expect(await typeAndCollect(term, EVERY_BYTE)).toBe(EVERY_BYTE.toString('hex'));
  });

  maybe('shows every output byte 0x00..0xff exactly as the program wrote it', async () => {
    const { term, from } = await startWriter(tool, [marked(EVERY_BYTE)]);
    term.write('w');
    expect((await betweenMarkers(term, from)).toString('hex')).toBe(EVERY_BYTE.toString('hex'));
  });

  maybe('shows invalid UTF-8 and NUL bytes exactly as the program wrote them', async () => {
    const { term, from } = await startWriter(tool, [marked(INVALID_UTF8)]);
    term.write('w');
    expect((await betweenMarkers(term, from)).toString('hex')).toBe(INVALID_UTF8.toString('hex'));
  });

  maybe('shows an escape sequence and a UTF-8 character split across two writes at once and intact', async () => {
    // Part one ends inside an SGR sequence and inside a 3-byte character ("€" = e2 82 ac).
    const first = Buffer.from(`${BEGIN}\x1b[3\xe2\x82`, 'latin1');
    const second = Buffer.from(`\xac1mRED\x1b[0m${END}`, 'latin1');
    const { term, from } = await startWriter(tool, [first, second]);
    term.write('1');
    // The first half is shown without waiting for the rest: nothing is held back to be decoded.
    const start = await term.waitFor(first.toString('latin1'), { from });
    term.write('2');
    await term.waitFor(END, { from: start });
    expect(term.output.subarray(start - first.length, start + second.length).toString('hex'))
      .toBe(Buffer.concat([first, second]).toString('hex'));
  });

  maybe('does not post-process output: a bare \\n arrives as 0a, not 0d 0a', async () => {
    const { term, from } = await startWriter(tool, [marked(Buffer.from('A\nB'))]);
    term.write('w');
    expect((await betweenMarkers(term, from)).toString('hex')).toBe(Buffer.from('A\nB').toString('hex'));
  });
});

it('passes every input byte except the detach key with default options (no job control: ^Z included)', async () => {
  // The client leads its own session in this terminal, so there is no job control and ^Z is
  // the program's (the kernel would discard the SIGTSTP); only ^\ is taken by dt.
  const term = createSession('dt', [], [HEXECHO]);
  const input = without(EVERY_BYTE, 0x1c);
  expect(await typeAndCollect(term, input)).toBe(input.toString('hex'));
  expect(term.exited).toBeUndefined();
});

it('control: a terminal in Node setRawMode alone turns a bare \\n into \\r\\n (why dt clears OPOST)', async () => {
  // Without dt in between, the same writer with only setRawMode: the terminal adds the \r.
  const term = sandbox.run(process.execPath, [RAWWRITE, '--setrawmode', marked(Buffer.from('A\nB')).toString('hex')]);
  expect((await betweenMarkers(term, 0)).toString('hex')).toBe(Buffer.from('A\r\nB').toString('hex'));
});

it('sends the program 16 KiB of typed bytes in order (more than the terminal buffers at once)', async () => {
  const term = createSession('dt', ['-E', '-z'], [HEXECHO]);
  // 16 KiB: four times a pty's 4 KiB input buffer, so the bytes cross in many reads.
  const input = Buffer.concat(Array.from({ length: 64 }, () => EVERY_BYTE));
  expect(await typeAndCollect(term, input)).toBe(input.toString('hex'));
});
