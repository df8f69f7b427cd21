// Redraw on attach (-r ctrl_l / winch / none, and the session default), compared with dtach
// where it should match; and the user's terminal left as it was on every way the client ends.
//
// "Nothing was sent" cannot be waited for, so each absence is closed by a later event that is
// sent after it and must be seen: any stray ^L or SIGWINCH shows up before that event's output,
// and the transcripts are compared whole.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DT, DTACH, FIXTURES, HAVE_DTACH, Sandbox, childPids, hexReceived, killDtachMasters, masterInfo, terminalModes, waitForViewers, waitUntil,
  withoutTitleSave,
  type Term,
} from './harness.js';

import { screenOf, waitForScreen } from '../screen.js';

const HEXECHO = `${FIXTURES}/hexecho.mjs`;
// winsize-now, not winsize: winsize.mjs reports the size from before the SIGWINCH (see the fixture).
const WINSIZE = `${FIXTURES}/winsize.mjs`;

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('these tests check redraws and the terminal of the client; the end of a session is tested in lifecycle and faults');
});
afterEach(async () => {
  await killDtachMasters(sandbox);
  await sandbox.teardown();
});

type Tool = 'dt' | 'dtach';

async function untilRaw(term: Term): Promise<void> {
  await waitUntil(() => terminalModes(term).includes('-icanon'), 'the client to put its terminal in raw mode');
}

/** Starts a detached session (dt -n or dtach -n) and returns its socket. */
async function detachedSession(tool: Tool, options: string[], program: string[]): Promise<string> {
  const socket = sandbox.path(`${tool}.sock`);
  const args = ['-n', socket, ...options, ...program];
  const creator = tool === 'dt' ? sandbox.dt(args) : sandbox.run(DTACH, args);
  expect((await creator.waitForExit()).exitCode).toBe(0);
  if (tool === 'dt') await sandbox.trackMaster(socket);
  return socket;
}

/** Attaches a client (raw mode reached before returning, so typed keys are not the terminal's). */
async function attach(tool: Tool, socket: string, options: string[]): Promise<Term> {
  const args = ['-a', socket, ...options];
  const term = tool === 'dt' ? sandbox.dt(args) : sandbox.run(DTACH, args);
  await untilRaw(term);
  return term;
}

/** What a client showed of the program, without dtach's clear-screen or dt's title save on attach. */
const shown = (term: Term): string => withoutTitleSave(term.text).replace(/^\x1b\[H\x1b\[J/, '');

describe.each(['dt', 'dtach'] as const)('%s: -r ctrl_l', (tool) => {
  const maybe = tool === 'dtach' && !HAVE_DTACH ? it.skip : it;

  maybe('sends ^L to a raw no-echo program only when asked: not for -r none nor the session default none', async () => {
    const socket = await detachedSession(tool, ['-r', 'none'], [process.execPath, HEXECHO]);
    const watcher = await attach(tool, socket, ['-r', 'none']);
    watcher.write('x');
    await watcher.waitFor('HEX 78\r'); // the program is in raw mode now
    const byDefault = await attach(tool, socket, []);
    byDefault.write('d');
    await watcher.waitFor('HEX 64\r');
    await attach(tool, socket, ['-r', 'ctrl_l']);
    await watcher.waitFor('HEX 0c\r');
    // The one ^L is the -r ctrl_l attach's: the default (none) attach sent nothing before or after 'd'.
    expect(hexReceived(shown(watcher))).toBe('78640c');
  });

  maybe('sends no ^L to cat in cooked mode, then one to the same session once its program is raw', async () => {
    // cat reads cooked lines; after ^D the shell execs hexecho in the same terminal, which is raw.
    const program = ['/bin/sh', '-c', `cat; exec ${process.execPath} ${HEXECHO}`];
    const socket = await detachedSession(tool, ['-r', 'none'], program);
    const client = await attach(tool, socket, ['-r', 'ctrl_l']);
    client.write('mark\r');
    await client.waitFor('mark\r\nmark\r\n');
    client.write('\x04');
    await client.waitFor('READY\r');
    client.write('x');
    await client.waitFor('HEX 78\r');
    await attach(tool, socket, ['-r', 'ctrl_l']);
    await client.waitFor('HEX 0c\r\r\n');
    // A ^L sent to cat would show as an echoed "^L" or as a 0c inside a HEX line: neither is here.
    expect(shown(client)).toBe('mark\r\nmark\r\nREADY\r\r\nHEX 78\r\r\nHEX 0c\r\r\n');
  });
});

describe('dt: -r winch', () => {
  it('sends SIGWINCH on attach at an unchanged size, by -r winch or the session default from -c ... -r winch; -r none does not', async () => {
    const socket = sandbox.path('s');
    const creator = sandbox.dt(['-c', socket, '-r', 'winch', process.execPath, WINSIZE]);
    // The program prints this once its SIGWINCH handler is installed: later signals all count.
    await creator.waitFor('SIZE 80x24 WINCH 0\r');
    await untilRaw(creator);
    creator.write('\x1c');
    expect((await creator.waitForExit()).exitCode).toBe(0);

    const watcher = await attach('dt', socket, ['-r', 'none']);
    watcher.write('a'); // echoed by the program's cooked terminal: proves the watcher is attached
    await watcher.waitFor('a');
    sandbox.dt(['-a', socket]); // no -r: the session's default, winch
    const at = await watcher.waitFor(/SIZE 80x24 WINCH \d+\r\r\n/);
    // The count so far depends on whether the program was up for the creating attach's signal.
    const count = Number(/WINCH (\d+)\r\r\n$/.exec(watcher.text.slice(0, at))![1]);
    const quiet = await attach('dt', socket, ['-r', 'none']);
    quiet.write('k');
    await watcher.waitFor('k', { from: at });
    sandbox.dt(['-a', socket, '-r', 'winch']);
    await watcher.waitFor(`SIZE 80x24 WINCH ${count + 1}\r\r\n`, { from: at });
    // Exactly one signal per winch attach, none for the -r none one (it would come before 'k').
    expect(shown(watcher)).toBe(`aSIZE 80x24 WINCH ${count}\r\r\nkSIZE 80x24 WINCH ${count + 1}\r\r\n`);
  });

  it('holds keys typed at a -r winch attach until the program has answered the signal', async () => {
    // The program reads nothing (its terminal echoes input the moment the master writes it) and
    // answers each signal 30 ms late: keys let go with the signal would be echoed first. nano
    // dropped one typed with it.
    // It starts once the watcher is there to see it up.
    const socket = await detachedSession('dt', [], ['/bin/sh', '-c', `read line; exec ${process.execPath} ${WINSIZE} 30`]);
    const watcher = await attach('dt', socket, ['-R']);
    const pusher = sandbox.dt(['-p', socket]);
    pusher.write('go\r\x04');
    await watcher.waitFor('SIZE 80x24 WINCH 0\r');
    expect((await pusher.waitForExit()).exitCode).toBe(0);
    const client = sandbox.dt(['-a', socket, '-r', 'winch']);
    client.write('typed'); // before the client started: sent with its attach request
    await watcher.waitFor('typed');
    expect(shown(watcher)).toBe('go\r\nSIZE 80x24 WINCH 0\r\r\nSIZE 80x24 WINCH 1\r\r\ntyped');
  });
});

describe('dt: the default redraw (resize)', () => {
  it('spares the creating client: it is shown the output held for it, so its program gets no SIGWINCH on that attach', async () => {
    // The shell writes at once, so that its output is held for the creating client; the fixture
    // then reports its size at start and on each SIGWINCH. Several sessions: whether the first
    // output is read before the creating client's attach is up to the scheduler.
    for (let session = 0; session < 3; session++) {
      const socket = sandbox.path(`s${session}`);
      const creator = sandbox.dt(['-c', socket, '/bin/sh', '-c', `echo early; exec ${process.execPath} ${WINSIZE}`]);
      await creator.waitFor(/SIZE \d+x\d+ WINCH 0\r\r\n/);
      // A resize the test makes closes the absence: a redraw's signals would show before it.
      creator.resize(100, 30);
      await creator.waitFor(/SIZE 100x30 WINCH \d+\r\r\n/);
      expect(shown(creator), `session ${session}`).toBe('early\r\nSIZE 80x24 WINCH 0\r\r\nSIZE 100x30 WINCH 1\r\r\n');
      creator.write('\x1c');
      expect((await creator.waitForExit()).exitCode).toBe(0);
      expect((await sandbox.dt(['-k', socket, 'KILL']).waitForExit()).exitCode).toBe(0);
    }
  });

  it('holds keys typed during it, by the attaching client and by dt -p, until the program has answered the size put back', async () => {
    // The program reads nothing: its terminal echoes input the moment the master writes it. It
    // answers each size 30 ms late: input let go with the size put back would be echoed first.
    const socket = await detachedSession('dt', [], [process.execPath, WINSIZE, '30']);
    const watcher = await attach('dt', socket, ['-R']);
    // dt -p of its terminal: a line typed there (ended by ^D, no newline) is pushed at once.
    const pusher = sandbox.dt(['-p', socket]);
    pusher.write('first\x04');
    await watcher.waitFor('first');
    const client = sandbox.dt(['-a', socket]);
    client.write('typed'); // before the client started: sent with its attach request
    await watcher.waitFor('SIZE 80x23 WINCH 1\r');
    pusher.write('pushed\x04');
    await watcher.waitFor('typedpushed');
    // (The watcher may have attached before the program's first report.)
    expect(shown(watcher).replace(/^SIZE 80x24 WINCH 0\r\r\n/, '')).toBe('firstSIZE 80x23 WINCH 1\r\r\nSIZE 80x24 WINCH 2\r\r\ntypedpushed');
    pusher.write('\x04');
    expect((await pusher.waitForExit()).exitCode).toBe(0);
    client.write('later');
    await watcher.waitFor('typedpushedlater');
  });

  it('holds keys typed during it until the program has answered a size the client set meanwhile, not just until that size is set', async () => {
    // The program writes all the time, so the redraw lasts its timeouts (about 1 s) and the
    // client's resize comes during it; it reports each size it is given (stty size, "rows
    // cols") from its trap. Let go with the size change, the keys were read with its signal,
    // and nano dropped one.
    const program = 'trap "stty size" WINCH; while :; do printf .; sleep 0.02; done';
    const socket = await detachedSession('dt', [], ['/bin/sh', '-c', program]);
    const watcher = await attach('dt', socket, ['-R']);
    await watcher.waitFor('.');
    const client = sandbox.dt(['-a', socket]);
    client.write('typed'); // before the client started: sent with its attach request
    await watcher.waitFor('23 80\r\n');
    client.resize(100, 30);
    await watcher.waitFor('typed');
    await watcher.waitFor('30 100\r\n');
    // The dots left out: "23 80", the client's size, its answer, then the keys.
    expect(shown(watcher).replace(/\.+/g, '')).toMatch(/^(24 80\r\n)?23 80\r\n(24 80\r\n)?30 100\r\ntyped$/);
    // The client's size is the one kept: nothing was put back over it.
    const terminal = fs.readlinkSync(`/proc/${(await masterInfo(socket)).programPid}/fd/0`);
    expect(execFileSync('stty', ['-F', terminal, 'size'], { encoding: 'latin1' })).toBe('30 100\n');
  });

  it('lets no held key through between two attaches\' redraws: the second attach\'s redraw takes over from the first', async () => {
    const socket = await detachedSession('dt', [], [process.execPath, WINSIZE]);
    const watcher = await attach('dt', socket, ['-R']);
    for (let round = 0; round < 10; round++) {
      const from = watcher.text.length;
      // Started together: the second attach most often comes while the first one's redraw is under way.
      const [first, second] = [sandbox.dt(['-a', socket]), sandbox.dt(['-a', socket])];
      first.write(`k${round}`); // sent with the first client's attach request
      await watcher.waitFor(`k${round}`, { from });
      // The keys come once the program has answered its full size. Let go between the two
      // redraws, they would be echoed before the answer to the second attach's size, right
      // after the answer to the first one's smaller size. (When the second attach comes after
      // the first redraw ended, its own redraw's sizes follow the keys.)
      first.write(`e${round}`);
      await watcher.waitFor(`e${round}`, { from });
      const size = 'SIZE 80x2[34] WINCH \\d+\r\r\n';
      expect(withoutTitleSave(watcher.text.slice(from)), `round ${round}`).toMatch(new RegExp(`^(${size})*SIZE 80x24 WINCH \\d+\r\r\nk${round}(${size})*e${round}$`));
      for (const client of [first, second]) {
        await untilRaw(client);
        client.write('\x1c');
        expect((await client.waitForExit()).exitCode).toBe(0);
      }
    }
  });
});

/**
 * Every mode a full-screen program may leave on, with the bytes that turn it off (written out
 * here, not taken from dt's code). Returns the groups that `leaving` does not turn off.
 */
function modesNotReset(leaving: string): string[] {
  const groups: Array<[string, string[]]> = [
    ['alternate screen', ['\x1b[?1049l']],
    ['mouse reporting', ['\x1b[?9l', '\x1b[?1000l', '\x1b[?1002l', '\x1b[?1003l']],
    ['mouse encodings', ['\x1b[?1005l', '\x1b[?1006l', '\x1b[?1015l', '\x1b[?1016l']],
    ['focus events', ['\x1b[?1004l']],
    ['bracketed paste', ['\x1b[?2004l']],
    ['application cursor keys', ['\x1b[?1l']],
    ['application keypad', ['\x1b>']],
    ['kitty keyboard flags', ['\x1b[<u']],
    ['modifyOtherKeys', ['\x1b[>4m']],
    ['autowrap off', ['\x1b[?7h']],
    ['cursor style', ['\x1b[0 q']],
    ['colours', ['\x1b[0m']],
    ['hidden cursor', ['\x1b[?25h']],
    ['scroll region', ['\x1b[r']],
    ['origin mode', ['\x1b[?6l']],
    ['insert mode', ['\x1b[4l']],
    ['reverse video', ['\x1b[?5l']],
    ['synchronized update', ['\x1b[?2026l']],
    ['line-drawing character set', ['\x0f', '\x1b(B']],
    ['hyperlink', ['\x1b]8;;\x1b\\']],
  ];
  return groups.filter(([, sequences]) => !sequences.every((sequence) => leaving.includes(sequence))).map(([name]) => name);
}

/**
 * The kitty keyboard flags in force on each screen after `bytes`, as kitty keeps them (which
 * xterm.js does not): a stack per screen, kept when the terminal switches screens; CSI > f u
 * pushes, CSI < n u pops n (emptied past its bottom), CSI = f ; m u changes the top.
 */
function kittyFlagsAfter(bytes: string): { normal: number; alternate: number } {
  const stacks = { normal: [0], alternate: [0] };
  let screen: 'normal' | 'alternate' = 'normal';
  for (const [, marker, first, second, final] of bytes.matchAll(/\x1b\[([<=>?]?)(\d*)(?:;(\d*))?([hlu])/g)) {
    const stack = stacks[screen];
    if (marker === '?' && first === '1049' && final !== 'u') screen = final === 'h' ? 'alternate' : 'normal';
    if (final !== 'u') continue;
    if (marker === '>') stack.push(Number(first || 0));
    else if (marker === '<') stack.splice(Math.max(1, stack.length - Number(first || 1)));
    else if (marker === '=') {
      const flags = Number(first || 0);
      const mode = Number(second || 1);
      const top = stack[stack.length - 1]!;
      stack[stack.length - 1] = mode === 2 ? top | flags : mode === 3 ? top & ~flags : flags;
    }
  }
  return { normal: stacks.normal.at(-1)!, alternate: stacks.alternate.at(-1)! };
}

describe('the terminal is left as it was', () => {
  it('kitty keyboard flags pushed on both screens, by the program and by an attach, are all gone after each detach', async () => {
    const socket = sandbox.path('s');
    // As neovim does on kitty: its flags pushed once on the alternate screen; here twice, and once before it.
    const program = `printf '\\033[>1u\\033[?1049h\\033[>1u\\033[>11u'; echo SET; exec cat >/dev/null`;
    const creator = sandbox.dt(['-c', socket, '/bin/sh', '-c', program]);
    await creator.waitFor('SET');
    await untilRaw(creator);
    expect(kittyFlagsAfter(creator.text)).toEqual({ normal: 1, alternate: 11 });
    creator.write('\x1c');
    expect((await creator.waitForExit()).exitCode).toBe(0);
    expect(kittyFlagsAfter(creator.text)).toEqual({ normal: 0, alternate: 0 });

    const viewer = sandbox.dt(['-a', socket, '-r', 'none']);
    await untilRaw(viewer);
    await viewer.waitFor('\x1b[>11u');
    expect(kittyFlagsAfter(viewer.text)).toEqual({ normal: 1, alternate: 11 });
    viewer.write('\x1c');
    expect((await viewer.waitForExit()).exitCode).toBe(0);
    expect(kittyFlagsAfter(viewer.text)).toEqual({ normal: 0, alternate: 0 });
  });

  /**
   * Runs the client under sh, which prints the terminal's modes before and after it and the
   * client's exit status; the client is the shell's child, so it can be signalled alone.
   */
  async function clientUnderShell(socket: string): Promise<{ term: Term; client: number }> {
    const script = `stty -g; ${process.execPath} ${DT} -a ${socket} -r none; echo "STATUS $?"; stty -g; stty -a; echo DONE`;
    const term = sandbox.run('/bin/sh', ['-c', script]);
    await untilRaw(term);
    term.write('x');
    await term.waitFor('HEX 78\r');
    const client = childPids(term.pid)[0]!;
    expect(fs.readFileSync(`/proc/${client}/cmdline`, 'latin1')).toContain(DT);
    return { term, client };
  }

  const ways: Array<{ name: string; status: number; line?: string; end: (term: Term, client: number, master: number) => void }> = [
    { name: 'detach', status: 0, line: '[detached]', end: (term) => term.write('\x1c') },
    { name: 'program end', status: 0, line: '[program exited with status 0]', end: (term) => term.write('\x04') },
    { name: 'master SIGKILL', status: 1, line: '[dt: lost the session', end: (_term, _client, master) => process.kill(master, 'SIGKILL') },
    { name: 'client SIGTERM', status: 143, end: (_term, client) => process.kill(client, 'SIGTERM') },
    { name: 'client SIGHUP', status: 129, end: (_term, client) => process.kill(client, 'SIGHUP') },
    // Signals that end a process by default, which a user may send it as well: SIGQUIT
    // (dtach's client handles it as SIGTERM), and two of those no terminal sends.
    { name: 'client SIGQUIT', status: 131, end: (_term, client) => process.kill(client, 'SIGQUIT') },
    { name: 'client SIGUSR2', status: 140, end: (_term, client) => process.kill(client, 'SIGUSR2') },
    { name: 'client SIGALRM', status: 142, end: (_term, client) => process.kill(client, 'SIGALRM') },
  ];

  it.each(ways)('after $name: cooked modes as before, every program mode reset, exit status $status', async ({ status, line, end }) => {
    const socket = sandbox.path('s');
    const creator = sandbox.dt(['-n', socket, process.execPath, HEXECHO], { env: { HEXECHO_EXIT_ON_EOT: '1' } });
    expect((await creator.waitForExit()).exitCode).toBe(0);
    const master = await sandbox.trackMaster(socket);
    const { term, client } = await clientUnderShell(socket);
    const programOutputEnd = term.output.length;
    end(term, client, master);
    await term.waitFor('DONE');

    const text = term.text;
    const match = /^([0-9a-f:]+)\r\n[^]*STATUS (\d+)\r\n([0-9a-f:]+)\r\n([^]*)DONE/.exec(text);
    expect(match, JSON.stringify(text)).not.toBeNull();
    const [, before, exitStatus, after, settings] = match!;
    expect(Number(exitStatus)).toBe(status);
    expect(after).toBe(before);
    expect(settings).toMatch(/(^|\s)icanon\s/);
    expect(settings).toMatch(/(^|\s)echo\s/);
    expect(settings).toMatch(/(^|\s)opost\s/);
    expect(settings).toMatch(/(^|\s)onlcr\s/);
    expect(settings).toMatch(/(^|\s)isig\s/);
    const leaving = text.slice(programOutputEnd, text.indexOf('STATUS'));
    expect(modesNotReset(leaving), JSON.stringify(leaving)).toEqual([]);
    if (line !== undefined) expect(leaving).toContain(line);
  });

  // The modes as a terminal emulator sees them: first set by the program (so the check can see
  // them), then off once dt has left. Kitty's keyboard flags xterm.js does not keep; colours
  // are judged by the colour of what the shell prints after dt.
  it.each([
    { name: 'detach', key: '\x1c', status: 0 },
    { name: 'program end', key: '\r', status: 0 },
  ])('after $name, a terminal emulator shows every mode the program set turned off', async ({ key, status }) => {
    const socket = sandbox.path('s');
    // Red before the alternate screen: leaving that screen restores the colour it was entered with.
    const setModes = '\\033[31m\\033[?1049h\\033[?1000h\\033[?1002h\\033[?1003h\\033[?1006h\\033[?1004h' +
      '\\033[?2004h\\033[?1h\\033=\\033[?25l';
    const program = `read line; printf '${setModes}'; echo SET; read line`;
    const term = sandbox.run('/bin/sh', ['-c', `"${process.execPath}" "${DT}" -c "${socket}" -r none /bin/sh -c "${program}"; echo "STATUS $?"`]);
    const screen = screenOf(term);
    await waitUntil(() => fs.existsSync(socket), 'the session\'s socket');
    await waitForViewers(socket, 1);
    term.write('\r');
    await waitForScreen(screen, (shown) => shown.modes.buffer === 'alternate' && shown.text.includes('SET'), 'the program\'s modes');
    expect(screen.modes).toMatchObject({
      buffer: 'alternate', mouseTracking: 'any', mouseEncoding: 'SGR', focusEvents: true, bracketedPaste: true,
      applicationCursorKeys: true, applicationKeypad: true, cursorHidden: true,
    });
    term.write(key);
    await term.waitFor(`STATUS ${status}`);
    await waitForScreen(screen, (shown) => shown.text.includes(`STATUS ${status}`), 'the shell\'s line after dt');
    expect(screen.modes).toMatchObject({
      buffer: 'normal', mouseTracking: 'none', mouseEncoding: 'DEFAULT', focusEvents: false, bracketedPaste: false,
      applicationCursorKeys: false, applicationKeypad: false, cursorHidden: false,
    });
    const buffer = screen.terminal.buffer.active;
    const row = screen.lines.findIndex((line) => line.includes('STATUS'));
    const cell = buffer.getLine(buffer.viewportY + row)!.getCell(screen.lines[row]!.indexOf('STATUS'))!;
    expect(cell.isFgDefault(), 'the colour of what the shell printed after dt').toBe(true);
  });

  // What a program may leave half done when left in the middle of a screen update, on the
  // normal screen (where leaving the alternate screen undoes nothing): a scroll region with
  // origin mode (apt's progress bar), insert mode, a synchronized update, line drawing
  // shifted in as the G1 set (a `cat` of a binary file), and an open hyperlink (ls
  // --hyperlink). The shell after dt then prints numbered lines, and a line drawn as a
  // program using G0 draws it.
  const halfDone = [
    { name: 'detach', status: 0, end: (term: Term) => term.write('\x1c') },
    { name: 'program end', status: 0, end: (term: Term) => term.write('\r') },
    { name: 'client SIGTERM', status: 143, end: (_term: Term, client: number) => process.kill(client, 'SIGTERM') },
  ];
  it.each(halfDone)('after $name, a terminal emulator shows no scroll region, origin, insert, shifted-out state or hyperlink left', async ({ status, end }) => {
    const socket = sandbox.path('s');
    const setModes = '\\033[5;10r\\033[?6h\\033[4h\\033[?2026h\\033)0\\016';
    const program = `read line; printf '\\033]8;;http://dt.test/\\007SET\\r\\n${setModes}'; read line`;
    const after = `echo "STATUS $?"; seq -f 'n%g' 1 30; printf '\\033(0qq\\033(B\\n'; echo DONE`;
    const term = sandbox.run('/bin/sh', ['-c', `"${process.execPath}" "${DT}" -c "${socket}" -r none /bin/sh -c "${program}"; ${after}`]);
    const screen = screenOf(term);
    await waitUntil(() => fs.existsSync(socket), 'the session\'s socket');
    await waitForViewers(socket, 1);
    await untilRaw(term);
    term.write('\r');
    await waitForScreen(screen, (shown) => shown.terminal.modes.originMode && shown.terminal.modes.insertMode, 'the program\'s modes');
    expect(screen.linkAt(screen.lines.indexOf('SET'), 0), 'the program\'s hyperlink').not.toBe(0);
    expect(screen.terminal.modes.synchronizedOutputMode).toBe(true);
    end(term, childPids(term.pid)[0]!);
    await term.waitFor('DONE');
    await waitForScreen(screen, (shown) => shown.text.includes('DONE'), 'the shell\'s lines after dt');
    expect(term.text).toContain(`STATUS ${status}`);
    expect(screen.terminal.modes).toMatchObject({ originMode: false, insertMode: false, synchronizedOutputMode: false });
    // Each line below the one before, the screen scrolling whole; line drawing drawn as lines.
    const done = screen.lines.indexOf('DONE');
    expect(screen.lines.slice(done - 4, done + 1), screen.text).toEqual(['n28', 'n29', 'n30', '\u2500\u2500', 'DONE']);
    expect(screen.linkAt(done, 0), 'the hyperlink of the shell\'s line').toBe(0);
  });

  it.each(halfDone)('after $name, the window shows the user\'s title again, not the program\'s', async ({ status, end }) => {
    const socket = sandbox.path('s');
    const program = `printf '\\033]2;program title\\007'; echo SET; read line`;
    const term = sandbox.run('/bin/sh', ['-c', `printf '\\033]2;user title\\007'; "${process.execPath}" "${DT}" -c "${socket}" -r none /bin/sh -c "${program}"; echo "STATUS $?"`]);
    const screen = screenOf(term);
    await waitForScreen(screen, (shown) => shown.text.includes('SET'), 'the program\'s line');
    await untilRaw(term);
    expect(screen.modes.title).toBe('program title');
    end(term, childPids(term.pid)[0]!);
    await waitForScreen(screen, (shown) => shown.text.includes('STATUS'), 'the shell\'s line after dt');
    expect(term.text).toContain(`STATUS ${status}`);
    expect(screen.modes.title).toBe('user title');
  });

  it('a reattach shows the program\'s title again, and each detach the user\'s', async () => {
    const socket = sandbox.path('s');
    expect((await sandbox.dt(['-n', socket, '/bin/sh', '-c', `printf '\\033]2;program title\\007'; exec cat >/dev/null`]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    const term = sandbox.run('/bin/sh', ['-c', `printf '\\033]2;user title\\007'; for i in 1 2; do "${process.execPath}" "${DT}" -a "${socket}" -r none; echo "DETACHED $i"; read line; done`]);
    const screen = screenOf(term);
    for (const round of [1, 2]) {
      await waitForScreen(screen, (shown) => shown.modes.title === 'program title', `the program's title, attach ${round}`);
      await untilRaw(term);
      term.write('\x1c');
      await waitForScreen(screen, (shown) => shown.text.includes(`DETACHED ${round}`), `detach ${round}`);
      expect(screen.modes.title).toBe('user title');
      term.write('\r');
    }
    await term.waitForExit();
  });

  it('after client SIGTERM, the cursor stays below the program\'s last line, not at the top of the screen', async () => {
    const socket = sandbox.path('s');
    const program = 'read line; seq -f p%g 1 5; read line';
    const term = sandbox.run('/bin/sh', ['-c', `"${process.execPath}" "${DT}" -c "${socket}" -r none /bin/sh -c "${program}"; echo "STATUS $?"`]);
    const screen = screenOf(term);
    await waitUntil(() => fs.existsSync(socket), 'the session\'s socket');
    await waitForViewers(socket, 1);
    await untilRaw(term);
    term.write('\r');
    await waitForScreen(screen, (shown) => shown.lines.includes('p5'), 'the program\'s lines');
    process.kill(childPids(term.pid)[0]!, 'SIGTERM');
    await term.waitFor('STATUS 143');
    await waitForScreen(screen, (shown) => shown.text.includes('STATUS 143'), 'the shell\'s line after dt');
    expect(screen.lines.indexOf('STATUS 143'), screen.text).toBe(screen.lines.indexOf('p5') + 1);
  });

  it('control: after client SIGKILL (nothing can restore it) the modes differ, so the checks above can fail', async () => {
    const socket = sandbox.path('s');
    expect((await sandbox.dt(['-n', socket, process.execPath, HEXECHO]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    const { term, client } = await clientUnderShell(socket);
    process.kill(client, 'SIGKILL');
    await term.waitFor('DONE');
    const match = /^([0-9a-f:]+)\r\n[^]*STATUS (\d+)\r?\n([0-9a-f:]+)\r?\n/.exec(term.text); // raw: no \r added
    expect(match, JSON.stringify(term.text)).not.toBeNull();
    expect(match![2]).toBe('137');
    expect(match![3]).not.toBe(match![1]);
  });
});
