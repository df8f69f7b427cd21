// Several terminals attached to one session: all see the same bytes, any can type, none gets
// a replay of what happened before it attached; and whose window size the program gets.

import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIXTURES, Sandbox, TITLE_SAVE, terminalModes, waitUntil, withoutTitleSave, type Term } from './harness.js';

const HEXECHO = `${FIXTURES}/hexecho.mjs`;
const RAWWRITE = `${FIXTURES}/rawwrite.mjs`;
// winsize-now, not winsize: winsize.mjs reports the size from before the SIGWINCH (see the fixture).
const WINSIZE = `${FIXTURES}/winsize.mjs`;

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('these tests check what viewers see; the end of a session is tested in lifecycle and faults');
});
afterEach(async () => { await sandbox.teardown(); });

async function untilRaw(term: Term): Promise<void> {
  await waitUntil(() => terminalModes(term).includes('-icanon'), 'the client to put its terminal in raw mode');
}

/** Attaches a client with -r none (nothing is sent to the program on attach). */
async function attach(socket: string, size = { cols: 80, rows: 24 }): Promise<Term> {
  const term = sandbox.dt(['-a', socket, '-r', 'none'], size);
  await untilRaw(term);
  return term;
}

/**
 * The WINSIZE program made by a 100x30 client, then a second client attached at 70x20: the
 * program has been told both sizes in turn. `start` is where the first client's output
 * stood after the program's first line, `from` after its second.
 */
async function twoSizedViewers(socket: string): Promise<{ first: Term; second: Term; start: number; from: number }> {
  const first = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, WINSIZE], { cols: 100, rows: 30 });
  const start = await first.waitFor('SIZE 100x30 WINCH 0\r\r\n');
  await untilRaw(first);
  const second = await attach(socket, { cols: 70, rows: 20 });
  const from = await first.waitFor('SIZE 70x20 WINCH 1\r\r\n', { from: start });
  return { first, second, start, from };
}

/** Waits until every terminal shows the marker after its offset; returns the new offsets. */
async function allSee(terms: Term[], marker: string, from: number[]): Promise<number[]> {
  return Promise.all(terms.map((term, index) => term.waitFor(marker, { from: from[index] })));
}

describe('three viewers of one session', () => {
  it('all see the same bytes, and input from any of them reaches the program', async () => {
    const socket = sandbox.path('s');
    const first = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, HEXECHO]);
    await first.waitFor('READY');
    await untilRaw(first);
    const second = await attach(socket);
    second.write('b'); // its Attach frame precedes its input: seeing the echo means it is a viewer
    await second.waitFor('HEX 62\r');
    const third = await attach(socket);
    third.write('c');
    const viewers = [first, second, third];
    await allSee(viewers, 'HEX 63\r\r\n', [0, 0, 0]);
    const starts = viewers.map((term) => term.output.length);
    let at = starts;
    for (const [typist, key, hex] of [[first, 'p', '70'], [second, 'q', '71'], [third, 'r', '72']] as const) {
      typist.write(key);
      at = await allSee(viewers, `HEX ${hex}\r\r\n`, at);
    }
    for (const [index, term] of viewers.entries()) {
      expect(term.text.slice(starts[index])).toBe('HEX 70\r\r\nHEX 71\r\r\nHEX 72\r\r\n');
    }
  });

  it('all receive 16 KiB of every byte value, identical and complete', async () => {
    const socket = sandbox.path('s');
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
    // 16 KiB: several pty reads and frames (the hex of the whole part must fit in one argv string).
    const payload = Buffer.concat(Array.from({ length: 64 }, () => everyByte));
    const marked = Buffer.concat([Buffer.from('BEGIN>'), payload, Buffer.from('<END')]);
    // rawwrite writes its next part on each keystroke: the joining viewers' keystrokes make it
    // say ONE and TWO, and each seeing its own word proves it is attached (its Attach frame
    // precedes its input); the first client's keystroke then makes it write the payload.
    const parts = [Buffer.from('ONE\r\n'), Buffer.from('TWO\r\n'), marked].map((part) => part.toString('hex'));
    const first = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, RAWWRITE, ...parts]);
    await first.waitFor('READY');
    await untilRaw(first);
    const others: Term[] = [];
    for (const word of ['ONE', 'TWO']) {
      const viewer = await attach(socket);
      viewer.write('k');
      await viewer.waitFor(word);
      others.push(viewer);
    }
    first.write('w');
    for (const term of [first, ...others]) {
      const start = await term.waitFor('BEGIN>');
      const end = await term.waitFor('<END', { from: start });
      expect(term.output.subarray(start, end - 4).equals(payload)).toBe(true);
    }
  });

  it('replays no history: a client attaching later sees only what happens after it attached', async () => {
    const socket = sandbox.path('s');
    const first = sandbox.dt(['-c', socket, '-r', 'none', process.execPath, HEXECHO]);
    await first.waitFor('READY');
    await untilRaw(first);
    first.write('a');
    await first.waitFor('HEX 61\r');
    const late = await attach(socket);
    late.write('b');
    await late.waitFor('HEX 62\r\r\n');
    expect(late.text).toBe(`${TITLE_SAVE}HEX 62\r\r\n`);
  });
});

describe('window size', () => {
  it('the creating client\'s size is the program\'s from the start', async () => {
    const term = sandbox.dt(['-c', sandbox.path('s'), process.execPath, WINSIZE], { cols: 100, rows: 30 });
    await term.waitFor('SIZE 100x30 WINCH 0\r');
  });

  it('an attaching client\'s size is applied, and resizing its terminal reaches the program as SIGWINCH', async () => {
    const socket = sandbox.path('s');
    expect((await sandbox.dt(['-n', socket, process.execPath, WINSIZE]).waitForExit()).exitCode).toBe(0);
    const term = await attach(socket, { cols: 120, rows: 40 });
    // The program may have started before or after the attach: WINCH 0 or 1, but this size.
    const from = await term.waitFor(/SIZE 120x40 WINCH \d+\r\r\n/);
    const count = Number(/WINCH (\d+)\r\r\n$/.exec(term.text.slice(0, from))![1]);
    term.resize(90, 20);
    await term.waitFor(`SIZE 90x20 WINCH ${count + 1}\r\r\n`, { from });
    expect(term.text.slice(from)).toBe(`SIZE 90x20 WINCH ${count + 1}\r\r\n`);
  });

  it('a program that set its own size (stty rows, resize) gets an attaching client\'s size, as with dtach, even the size it had before', async () => {
    const socket = sandbox.path('s');
    const sized = sandbox.path('sized');
    const program = ['/bin/sh', '-c', 'stty rows 5 cols 10 && : >"$0" && exec "$1" "$2"', sized, process.execPath, WINSIZE];
    const create = sandbox.dt(['-n', socket, ...program], { cols: 80, rows: 24 });
    expect((await create.waitForExit()).exitCode).toBe(0);
    await waitUntil(() => fs.existsSync(sized), 'the program to set its size');
    const viewer = await attach(socket, { cols: 80, rows: 24 });
    // The program may have started before or after the attach: WINCH 0 or 1, but this size.
    await viewer.waitFor(/SIZE 80x24 WINCH \d+\r\r\n/);
  });

  it('with two clients of different sizes, the latest attach or resize wins', async () => {
    const socket = sandbox.path('s');
    const viewers = await twoSizedViewers(socket);
    const { first, second, start } = viewers;
    let { from } = viewers;
    first.resize(110, 35);
    from = await first.waitFor('SIZE 110x35 WINCH 2\r\r\n', { from });
    second.resize(60, 15);
    from = await first.waitFor('SIZE 60x15 WINCH 3\r\r\n', { from });
    const expected = 'SIZE 70x20 WINCH 1\r\r\nSIZE 110x35 WINCH 2\r\r\nSIZE 60x15 WINCH 3\r\r\n';
    expect(first.text.slice(start)).toBe(expected);
    await second.waitFor('SIZE 60x15 WINCH 3\r\r\n');
    expect(withoutTitleSave(second.text)).toBe(expected);
  });

  it('when the viewer whose size the program has leaves (hung up, or detached), the program takes the size of the one still attached that set one last', async () => {
    const socket = sandbox.path('s');
    const viewers = await twoSizedViewers(socket);
    const { first, second, start } = viewers;
    let { from } = viewers;
    // A read-only viewer sets no size: it is never the one whose size the program takes.
    const watcher = sandbox.dt(['-a', socket, '-R'], { cols: 50, rows: 10 });
    await untilRaw(watcher);
    first.resize(110, 35);
    from = await first.waitFor('SIZE 110x35 WINCH 2\r\r\n', { from });
    second.resize(60, 15);
    from = await first.waitFor('SIZE 60x15 WINCH 3\r\r\n', { from });
    // Its terminal closes (ssh dropped): the first viewer's screen is drawn for its own window again.
    (second.pty as unknown as { destroy(): void }).destroy();
    from = await first.waitFor('SIZE 110x35 WINCH 4\r\r\n', { from });
    const third = await attach(socket, { cols: 90, rows: 25 });
    from = await first.waitFor('SIZE 90x25 WINCH 5\r\r\n', { from });
    third.write('\x1c');
    await third.waitForExit();
    from = await first.waitFor('SIZE 110x35 WINCH 6\r\r\n', { from });
    // The viewer that set it leaves, and only a read-only one is left: the size stays. A signal
    // of its own, after, shows that nothing came between.
    first.write('\x1c');
    await first.waitForExit();
    await sandbox.dt(['-k', socket, 'WINCH']).waitForExit();
    await watcher.waitFor('SIZE 110x35 WINCH 7\r\r\n');
    expect(first.text.slice(start)).toBe(
      'SIZE 70x20 WINCH 1\r\r\nSIZE 110x35 WINCH 2\r\r\nSIZE 60x15 WINCH 3\r\r\nSIZE 110x35 WINCH 4\r\r\n' +
      'SIZE 90x25 WINCH 5\r\r\nSIZE 110x35 WINCH 6\r\r\n' + first.text.slice(first.text.indexOf('\x1b[?1049h', start)));
    expect(watcher.text).toMatch(/SIZE 110x35 WINCH 6\r\r\nSIZE 110x35 WINCH 7\r\r\n$/);
  });
});
