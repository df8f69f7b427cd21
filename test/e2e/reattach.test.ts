// Reattach, judged by a real terminal emulator (xterm.js) standing for the user's terminal:
// a new terminal attaching to a session is put in the modes the program set (alternate
// screen, keys, mouse, paste, cursor, title), to it alone and first; and the default redraw
// brings the program's screen back without typing anything into it. Real programs (vim,
// less, htop, nano, bash) are driven as a user would; each test says why it skips when its
// program is not installed.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIXTURES, Sandbox, TITLE_SAVE, isAlive, terminalModes, waitUntil, withoutTitleSave, type Term } from './harness.js';
import { Screen, screenOf, waitForScreen, type ScreenModes } from '../screen.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => { await sandbox.teardown(); });

/** The program's full path, or undefined when it is not installed. */
function findProgram(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = path.join(dir, name);
    if (dir !== '' && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `it`, skipping with the reason in the test's name when the program is absent. */
function withProgram(name: string): { it: ReturnType<typeof it.skipIf>; label: string } {
  const found = findProgram(name) !== undefined;
  return { it: it.skipIf(!found), label: found ? name : `${name} (skipped: ${name} is not installed; .ci/run installs it)` };
}

/** Programs run with a home of their own: no user configuration, nothing written to the real home. */
function programEnv(): NodeJS.ProcessEnv {
  // An empty HISTFILE: bash, hung up at the end of a test, writes no history into the sandbox being removed.
  return { HOME: sandbox.dir, LANG: 'C.UTF-8', PS1: 'PROMPT$ ', HISTFILE: '', TERM: 'xterm-256color' };
}

interface Watched {
  term: Term;
  screen: Screen;
}

function dtWithScreen(args: string[]): Watched {
  const term = sandbox.dt(args, { env: programEnv() });
  return { term, screen: screenOf(term) };
}

async function untilRaw(term: Term): Promise<void> {
  await waitUntil(() => terminalModes(term).includes('-icanon'), 'the client to put its terminal in raw mode');
}

const showing = (...texts: string[]) => (screen: Screen): boolean => texts.every((text) => screen.text.includes(text));

/** Detaches the client with Ctrl-\ and checks its status line ends in exactly \r\n. */
async function detach(client: Term): Promise<void> {
  client.write('\x1c');
  expect((await client.waitForExit()).exitCode).toBe(0);
  expect(client.text).toMatch(/\x1b\[999H\r\n\[detached\]\r\n$/);
}

/**
 * The scenario of every real program: create the session in one terminal, bring the program
 * to a state, note the modes that terminal is in, detach, attach from a new terminal with the
 * default redraw, and wait for the program's screen there. Returns the new client.
 */
async function detachAndReattach(
  socket: string, command: string[], reach: (client: Watched) => Promise<void>, expected: string[],
): Promise<{ client: Watched; modesBefore: ScreenModes }> {
  const creator = dtWithScreen(['-c', socket, ...command]);
  await untilRaw(creator.term);
  await sandbox.trackMaster(socket);
  await reach(creator);
  await creator.screen.settled();
  const modesBefore = creator.screen.modes;
  await detach(creator.term);

  const client = dtWithScreen(['-a', socket]);
  await untilRaw(client.term);
  await waitForScreen(client.screen, showing(...expected), `${JSON.stringify(expected)} after the reattach`);
  await waitForScreen(client.screen, (screen) => JSON.stringify(screen.modes) === JSON.stringify(modesBefore),
    `the modes the program had set before the detach: ${JSON.stringify(modesBefore)}`);
  return { client, modesBefore };
}

/** Types keys one group at a time, waiting for the screen to show each group's effect. */
async function type(target: Watched, keys: string, shows: string[]): Promise<void> {
  target.term.write(keys);
  await waitForScreen(target.screen, showing(...shows), JSON.stringify(shows));
}

/** Ends the session's program with SIGTERM; an attached client reports it (killed by SIGTERM). */
async function endSession(socket: string, attached: Term): Promise<void> {
  expect((await sandbox.dt(['-k', socket, 'TERM']).waitForExit()).exitCode).toBe(0);
  await attached.waitFor('[program killed by SIGTERM]\r\n');
}

async function programExits(client: Term): Promise<void> {
  expect((await client.waitForExit(15_000)).exitCode).toBe(0);
  expect(client.text).toMatch(/\x1b\[999H\r\n\[program exited with status 0\]\r\n$/);
}

describe('real programs come back drawn, in their modes, with the default redraw', () => {
  const vim = withProgram('vim');

  vim.it(`${vim.label}: insert mode; after :wq the file holds exactly what was typed`, async () => {
    const file = sandbox.path('insert.txt');
    const { client, modesBefore } = await detachAndReattach(sandbox.path('s'), ['vim', file], async (creator) => {
      await type(creator, 'i', ['-- INSERT --']);
      await type(creator, 'typed before the detach', ['typed before the detach']);
    }, ['typed before the detach', '-- INSERT --']);
    expect(modesBefore.buffer).toBe('alternate');
    await type(client, ' and after', ['typed before the detach and after']);
    client.term.write('\x1b:wq\r');
    await programExits(client.term);
    expect(fs.readFileSync(file, 'latin1')).toBe('typed before the detach and after\n');
    // The client has shown its last bytes; the emulator parses them in its own time.
    await client.screen.settled();
    expect(client.screen.modes.buffer).toBe('normal');
  });

  vim.it(`${vim.label}: normal mode`, async () => {
    const file = sandbox.path('normal.txt');
    fs.writeFileSync(file, 'first line\nsecond line\n');
    const { client, modesBefore } = await detachAndReattach(sandbox.path('s'), ['vim', file], async (creator) => {
      await type(creator, 'jdd', ['first line']);
      await waitForScreen(creator.screen, (screen) => !screen.text.includes('second line'), 'the second line deleted');
    }, ['first line', '1,1']);
    expect(modesBefore.buffer).toBe('alternate');
    expect(client.screen.text).not.toContain('second line');
    client.term.write(':wq\r');
    await programExits(client.term);
    expect(fs.readFileSync(file, 'latin1')).toBe('first line\n');
  });

  vim.it(`${vim.label}: command-line mode, the half-typed command shown and still usable`, async () => {
    const file = sandbox.path('cmdline.txt');
    const { client } = await detachAndReattach(sandbox.path('s'), ['vim', file], async (creator) => {
      await type(creator, 'ikept\x1b', ['kept']);
      await type(creator, ':set ts', [':set ts']);
    }, ['kept', ':set ts']);
    await waitForScreen(client.screen, (screen) => screen.lines.at(-1) === ':set ts', 'the command line on the last row');
    client.term.write('=4 | wq\r');
    await programExits(client.term);
    expect(fs.readFileSync(file, 'latin1')).toBe('kept\n');
  });

  const less = withProgram('less');
  less.it(`${less.label}: a file being paged`, async () => {
    const file = sandbox.path('paged.txt');
    fs.writeFileSync(file, Array.from({ length: 200 }, (_, index) => `paged line ${index + 1}`).join('\n'));
    const { client, modesBefore } = await detachAndReattach(sandbox.path('s'), ['less', file], async (creator) => {
      // less discards what was typed before it set up its terminal: wait for its first page.
      await waitForScreen(creator.screen, showing('paged line 23'), 'the first page');
      await type(creator, 'f', ['paged line 46']);
    }, ['paged line 24', 'paged line 46']);
    expect(modesBefore.buffer).toBe('alternate');
    expect(modesBefore.applicationCursorKeys).toBe(true);
    expect(client.screen.text).not.toContain('paged line 23\n');
    client.term.write('q');
    await programExits(client.term);
  });

  const htop = withProgram('htop');
  htop.it(`${htop.label}: its screen, mouse and hidden cursor`, async () => {
    const { client, modesBefore } = await detachAndReattach(sandbox.path('s'), ['htop'], async (creator) => {
      await waitForScreen(creator.screen, showing('Load average', 'F10'), 'htop drawn');
    }, ['Load average', 'F10']);
    expect(modesBefore.buffer).toBe('alternate');
    expect(modesBefore.mouseTracking).not.toBe('none');
    expect(modesBefore.cursorHidden).toBe(true);
    client.term.write('q');
    await programExits(client.term);
  });

  const nano = withProgram('nano');
  nano.it(`${nano.label}: the text being edited`, async () => {
    const file = sandbox.path('nano.txt');
    const { client, modesBefore } = await detachAndReattach(sandbox.path('s'), ['nano', file], async (creator) => {
      await type(creator, 'written in nano', ['written in nano', 'GNU nano']);
    }, ['written in nano', 'GNU nano']);
    expect(modesBefore.buffer).toBe('alternate');
    // The redraw puts the size back once nano has drawn a row shorter and gone quiet. nano takes
    // a key it reads together with that SIGWINCH for the resize alone (typed directly in a
    // terminal being resized, too): so, as a user would, type once it is drawn full height again.
    await waitForScreen(client.screen, (screen) => screen.lines[23]?.includes('^X Exit') === true, 'nano drawn full height again');
    await type(client, ' again', ['written in nano again']);
    client.term.write('\x0f'); // ^O: write out
    await type(client, '\r', ['Wrote 1 line']);
    client.term.write('\x18'); // ^X: exit
    await programExits(client.term);
    expect(fs.readFileSync(file, 'latin1')).toBe('written in nano again\n');
  });

  const bash = withProgram('bash');
  bash.it(`${bash.label}: a prompt with a half-typed command line`, async () => {
    const { client, modesBefore } = await detachAndReattach(sandbox.path('s'), ['bash', '--norc', '--noprofile', '-i'], async (creator) => {
      await waitForScreen(creator.screen, showing('PROMPT$ '), 'the prompt');
      await type(creator, 'echo half', ['PROMPT$ echo half']);
    }, ['PROMPT$ echo half']);
    expect(modesBefore.buffer).toBe('normal');
    client.term.write('-typed\r');
    await waitForScreen(client.screen, (screen) => screen.lines.includes('half-typed'), 'the command\'s output');
    client.term.write('exit\r');
    await programExits(client.term);
  });

  bash.it(`${bash.label}: running a command, which receives nothing from the attach`, async () => {
    const { client } = await detachAndReattach(sandbox.path('s'), ['bash', '--norc', '--noprofile', '-i'], async (creator) => {
      await waitForScreen(creator.screen, showing('PROMPT$ '), 'the prompt');
      await type(creator, 'od -c\r', ['PROMPT$ od -c']);
      await type(creator, 'before\r', ['before']);
    }, []);
    // od prints every byte it read at its end: only what was typed, no ^L, no escape.
    client.term.write('after\r\x04');
    await waitForScreen(client.screen, showing('PROMPT$ '), 'od to end and the prompt to return');
    expect(client.screen.text).toMatch(/0000000 +b +e +f +o +r +e +\\n +a +f +t +e +r +\\n\n0000015/);
    client.term.write('exit\r');
    await programExits(client.term);
  });
});

/** Every mode the tracker follows that xterm.js can show, set by a program, then output to wait on. */
const MODES_SET =
  '\x1b[?1049h\x1b[?1h\x1b=\x1b[?2004h\x1b[?1004h\x1b[?1002h\x1b[?1006h\x1b]2;dt title\x07\x1b[5 q\x1b[?25l\x1b[?7l';
/** What a program that wrote MODES_SET left its terminal in, as xterm.js shows it. */
const MODES_SET_SHOWN: ScreenModes = {
  applicationCursorKeys: true, applicationKeypad: true, autowrap: false, bracketedPaste: true, focusEvents: true,
  mouseTracking: 'drag', mouseEncoding: 'SGR', cursorHidden: true, cursorStyle: 'bar', buffer: 'alternate', title: 'dt title',
  characterSets: 'G0 ascii, G1 ascii, G0 in use: ascii',
};
/** The restore sequence's form of the private modes of MODES_SET (the program wrote them one by one). */
const RESTORED_PRIVATE_MODES = '\x1b[?1;1002;1006;1004;2004h';

/**
 * A program that sets MODES_SET, then writes a megabyte, then creates `marker`: once the
 * marker exists the master has read the mode sequences (the pty holds far less than a
 * megabyte), though nobody was attached to see them.
 */
function modeSetter(marker: string): string[] {
  const script = `printf '${MODES_SET.replace(/\x1b/g, '\\033').replace(/\x07/g, '\\007')}'; head -c 1048576 /dev/zero | tr '\\0' x; : > "$1"; exec cat >/dev/null`;
  return ['/bin/sh', '-c', script, 'sh', marker];
}

describe('terminal modes follow the program', () => {
  it('are followed while nobody is attached, and sent first to the terminal that attaches, to it alone', async () => {
    const socket = sandbox.path('s');
    const marker = sandbox.path('written');
    expect((await sandbox.dt(['-n', socket, ...modeSetter(marker)]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    await waitUntil(() => fs.existsSync(marker), 'the program to have written its modes and the megabyte after them');

    const first = dtWithScreen(['-a', socket, '-r', 'none']);
    await waitForScreen(first.screen, (screen) => JSON.stringify(screen.modes) === JSON.stringify(MODES_SET_SHOWN), 'the program\'s modes');
    expect(first.term.text.startsWith(`${TITLE_SAVE}\x1b[?1049h${RESTORED_PRIVATE_MODES}`)).toBe(true);

    const second = dtWithScreen(['-a', socket, '-r', 'none']);
    await waitForScreen(second.screen, (screen) => JSON.stringify(screen.modes) === JSON.stringify(MODES_SET_SHOWN), 'the program\'s modes');
    await untilRaw(second.term);
    await detach(first.term);
    // The second attach's restore went to the second terminal only.
    expect(first.term.text.split(RESTORED_PRIVATE_MODES).length - 1).toBe(1);
    await first.screen.settled();
    // The program's title too: the window's own (none) is back.
    expect(first.screen.modes).toEqual(new Screen().modes);
    await endSession(socket, second.term);
  });

  it('reach the creating client of -c once, as the program wrote them, with no restore before them', async () => {
    const socket = sandbox.path('s');
    const creator = dtWithScreen(['-c', socket, ...modeSetter(sandbox.path('written'))]);
    await waitForScreen(creator.screen, (screen) => JSON.stringify(screen.modes) === JSON.stringify(MODES_SET_SHOWN), 'the program\'s modes');
    expect(creator.term.text.split('\x1b[?1049h').length - 1).toBe(1);
    expect(creator.term.text).not.toContain(RESTORED_PRIVATE_MODES);
    await sandbox.trackMaster(socket);
    await untilRaw(creator.term);
    await endSession(socket, creator.term);
  });
});

describe('character sets follow the program', () => {
  // Curses on TERM=screen, tmux or linux (outside a UTF-8 locale, or with NCURSES_NO_UTF8_ACS)
  // designates line drawing as G1 once, at its start, then shifts into it with SO to draw.
  it('a program that designated line drawing as G1 before the attach draws lines, not letters, after it', async () => {
    const socket = sandbox.path('s');
    const program = `printf 'READY\\r\\n\\033)0'; read line; printf '\\016lqqk\\017 DRAWN\\r\\n\\016x'; exec cat >/dev/null`;
    const creator = dtWithScreen(['-c', socket, '/bin/sh', '-c', program]);
    await untilRaw(creator.term);
    await waitForScreen(creator.screen, showing('READY'), 'the program started');
    await sandbox.trackMaster(socket);
    await detach(creator.term);

    const client = dtWithScreen(['-a', socket, '-r', 'none']);
    await untilRaw(client.term);
    client.term.write('\r');
    await waitForScreen(client.screen, showing('DRAWN'), 'the program\'s drawing');
    expect(client.screen.lines).toContain('\u250c\u2500\u2500\u2510 DRAWN');
    // Left shifted out, as the program is: what it writes next is line drawing too.
    expect(client.screen.modes.characterSets).toBe('G0 ascii, G1 line drawing, G1 in use: line drawing');
    await endSession(socket, client.term);
  });
});

describe('the resize redraw', () => {
  it('is the default: a row shorter, then the size back, and no SIGWINCH-less redraw for the creating client', async () => {
    const socket = sandbox.path('s');
    const creator = sandbox.dt(['-c', socket, process.execPath, `${FIXTURES}/winsize.mjs`]);
    await creator.waitFor('SIZE 80x24 WINCH 0\r');
    await untilRaw(creator);
    await sandbox.trackMaster(socket);
    const watcher = sandbox.dt(['-a', socket, '-r', 'none']);
    await untilRaw(watcher);
    await detach(creator);
    sandbox.dt(['-a', socket]);
    await watcher.waitFor('SIZE 80x24 WINCH 2\r');
    // Nothing before: the creating client caused no resize; the new one exactly two.
    expect(withoutTitleSave(watcher.text)).toMatch(/^SIZE 80x23 WINCH 1\r\r\nSIZE 80x24 WINCH 2\r\r\n$/);
    expect(creator.text).not.toContain('80x23');
    await endSession(socket, watcher);
  });
});

describe('keys typed during the attach\'s redraw', () => {
  const nano = withProgram('nano');
  /** Attaches in a row, each with keys typed at once: nano drops a key it reads together with a size change. */
  const ATTACHES = 12;

  /** Attaches ATTACHES times, typing as each attach starts and as its redraw shows; returns the lines typed. */
  async function typeDuringAttaches(socket: string): Promise<string[]> {
    const typed: string[] = [];
    for (let attach = 0; attach < ATTACHES; attach++) {
      const client = dtWithScreen(['-a', socket]);
      // Typed in the same tick as the client starts: the keys reach the master right behind the
      // attach. No Return: typed before the terminal is raw, it would reach nano as ^J (justify).
      const early = `${attach} early abcdefghijklmnopqrstuvwxyz`;
      client.term.write(early);
      // And once the redraw's first screen is shown: the program is answering the smaller size.
      await waitForScreen(client.screen, showing('GNU nano'), `nano's screen in attach ${attach}`);
      const drawn = `${attach} drawn ABCDEFGHIJKLMNOPQRSTUVWXYZ`;
      client.term.write(`\r${drawn}\r`);
      typed.push(early, drawn);
      await waitForScreen(client.screen, showing(early, drawn), `every key of attach ${attach}: ${JSON.stringify([early, drawn])}`, 5_000);
      await detach(client.term);
    }
    return typed;
  }

  nano.it(`${nano.label}: every key typed while the attach resizes reaches nano, in order`, async () => {
    const socket = sandbox.path('s');
    const file = sandbox.path('typed.txt');
    expect((await sandbox.dt(['-n', socket, 'nano', file], { env: programEnv() }).waitForExit()).exitCode).toBe(0);
    const master = await sandbox.trackMaster(socket);
    try {
      const typed = await typeDuringAttaches(socket);
      const last = dtWithScreen(['-a', socket]);
      await waitForScreen(last.screen, (screen) => screen.lines[23]?.includes('^X Exit') === true, 'nano drawn full height');
      last.term.write('\x0f'); // ^O: write out (the empty line after the last Return is one too)
      await type(last, '\r', [`Wrote ${ATTACHES * 2 + 1} lines`]);
      last.term.write('\x18'); // ^X: exit
      await programExits(last.term);
      // Every line typed, then the empty one after the last Return (nano ends the file with a newline).
      expect(fs.readFileSync(file, 'latin1')).toBe(`${typed.join('\n')}\n\n`);
    } catch (error) {
      // nano is killed before the sandbox goes: hung up, it would write its .save file into it.
      await sandbox.dt(['-k', socket, 'KILL']).waitForExit();
      await waitUntil(() => !isAlive(master), 'the master to end with nano');
      throw error;
    }
  });
});
