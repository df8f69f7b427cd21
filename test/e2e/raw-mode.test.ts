// The client's terminal in raw mode: cfmakeraw's modes, read from outside while it is
// attached, set before the session's first byte reaches the terminal and before the first key
// is read; and what an attaching command does when dt's terminal binding (build/Release) is
// missing, or is not dt's. How every way of leaving restores the terminal is tested in
// redraw.test.ts. What the terminal held in canonical mode before the client made it raw: its
// lines and ends of file, typed or written by script(1).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DT, FIXTURES, ROOT, Sandbox, copyBuiltDt, childPids, hexReceived, terminalModes, waitUntil } from './harness.js';
import { runDt } from './lifecycle-helpers.js';

const HEXECHO = `${FIXTURES}/hexecho.mjs`;
const RAWWRITE = `${FIXTURES}/rawwrite.mjs`;
/**
 * cfmakeraw(3) in stty's words, as its manual page lists the flags (and VMIN 1, VTIME 0, as
 * glibc sets them): what the client's terminal must have while it is attached. -inpck is
 * Node's (libuv's raw mode clears it), and a fresh terminal has it off anyway.
 */
const CFMAKERAW = [
  '-ignbrk', '-brkint', '-parmrk', '-istrip', '-inlcr', '-igncr', '-icrnl', '-ixon', '-inpck',
  '-opost', '-echo', '-echonl', '-icanon', '-isig', '-iexten', '-parenb', 'cs8', 'min', '1', 'time', '0',
];

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
});
afterEach(async () => {
  await sandbox.teardown();
});

/** The log's text so far; empty until the master has created it. */
function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/**
 * A session started with `dt -n` running node with `program`; resolves with its socket once
 * the master has read the program's first line (it logs it with -L): read before anyone
 * attached, it is discarded, and what the client is sent is what the program writes after.
 */
async function detachedSession(program: string[]): Promise<string> {
  const socket = sandbox.path('s');
  const log = sandbox.path('out.log');
  const created = await runDt(['-n', socket, '-L', log, process.execPath, ...program], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  await sandbox.trackMaster(socket);
  await waitUntil(() => readLog(log).includes('\n'), `the program's first line in ${log}`);
  return socket;
}

/** The modes `stty` (run in a fresh terminal, as the client's is) makes of its terminal with `args`, as `stty -g`. */
async function modesAfterStty(args: string[]): Promise<string> {
  const term = sandbox.run('/bin/sh', ['-c', 'stty "$@" && stty -g', 'sh', ...args]);
  expect((await term.waitForExit()).exitCode).toBe(0);
  return term.text.trim();
}

describe('raw mode', () => {
  it('is cfmakeraw\'s while attached, read from outside, and the terminal\'s own modes again after', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    const term = sandbox.dt(['-a', socket, '-r', 'none']);
    const before = await modesAfterStty([]);
    term.write('x');
    await term.waitFor('HEX 78\r');
    expect(terminalModes(term, '-g')).toBe(await modesAfterStty(CFMAKERAW));
    // The check can fail: the terminal was not raw to begin with.
    expect(before).not.toBe(await modesAfterStty(CFMAKERAW));
    term.write('\x1c');
    expect((await term.waitForExit()).exitCode).toBe(0);
  });

  it('is complete before the session\'s first answer: a bare \\n the program writes at attach time reaches the terminal as 0a', async () => {
    sandbox.leavesMaster('the writer never ends; teardown kills the session');
    // The program writes all the time, so output reaches the client with the session's first answer.
    const socket = await detachedSession([RAWWRITE, '--repeat', Buffer.from('BEGIN>A\nB<END').toString('hex')]);
    const term = sandbox.dt(['-a', socket, '-r', 'none']);
    let from = 0;
    for (let part = 0; part < 3; part++) from = await term.waitFor('<END', { from });
    // The program writes no \r after its first line, which was read before the attach: any \r
    // would come from the terminal's ONLCR.
    const shown = term.output.subarray(0, from).toString('latin1');
    expect(shown, JSON.stringify(shown)).not.toContain('\r');
    expect(shown).toContain('BEGIN>A\nB<END');
  });

  it('passes a key typed as the client starts to the program exactly once', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    const term = sandbox.dt(['-a', socket, '-r', 'none']);
    // Typed before the client has even started: the terminal holds it until the client reads it.
    term.write('k');
    const from = await term.waitFor('HEX 6b\r');
    term.write('z');
    await term.waitFor('HEX 7a\r', { from });
    expect(hexReceived(term.text)).toBe('6b7a');
  });
});

describe('input the terminal held before raw mode', () => {
  /** The keys hexecho reported so far, as one hex string, once the last one, `last`, is among them. */
  async function receivedUpTo(term: { text: string; until: (condition: () => boolean, what: string) => Promise<void> }, last: string): Promise<string> {
    await term.until(() => hexReceived(term.text).endsWith(last), `the program to report ${last} last`);
    return hexReceived(term.text);
  }

  it('passes an end of file typed before raw mode at the start of a line as the ^D it was, and the keys one ended, a NUL as a NUL, in order', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    // sh takes the first line and starts the client: the rest waits in the terminal, in
    // canonical mode, where an end of file (^D) is a mark between lines, not a byte, and a NUL
    // (^@, ^space) is an ordinary character: `a` ended by ^D, a line with a NUL in it, a ^D at
    // the start of a line, and a line begun with a NUL, not ended. The ^D after `a` only hands
    // `a` over, as it would to any program reading the terminal then.
    const term = sandbox.run('/bin/sh', ['-c', 'read -r line && exec "$0" "$@"', process.execPath, DT, '-a', socket, '-r', 'none']);
    term.write('go\n' + 'a\x04' + 'b\x00c\n' + '\x04' + '\x00z');
    expect(await receivedUpTo(term, '7a')).toBe('61' + '6200630a' + '04' + '007a');
    // Typed while attached: a NUL is a key like any other.
    term.write('\x00y');
    expect(await receivedUpTo(term, '79')).toBe('616200630a' + '04007a' + '0079');
    term.write('\x1c');
    expect((await term.waitForExit()).exitCode).toBe(0);
  });

  it('passes keys typed while the terminal was out of canonical mode as they were, with no ^D added', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    const go = sandbox.path('go');
    // As a shell's line editor does while it reads a command: keys typed ahead then are still
    // there when it sets canonical mode again and starts the client, and the kernel hands them
    // over as a line whose end nobody typed.
    const term = sandbox.run('/bin/sh', ['-c', `stty -icanon && echo READY && while [ ! -e '${go}' ]; do sleep 0.01; done && stty icanon && exec "$0" "$@"`,
      process.execPath, DT, '-a', socket, '-r', 'none']);
    const readyAt = await term.waitFor('READY\r\n');
    term.write('ab');
    await term.waitFor('ab', { from: readyAt }); // echoed: the terminal holds them
    fs.writeFileSync(go, '');
    await term.until(() => terminalModes(term).includes('-icanon') && hexReceived(term.text).length > 0, 'the client to pass the keys on and go raw');
    term.write('z');
    expect(await receivedUpTo(term, '7a')).toBe('61627a');
    term.write('\x1c');
    expect((await term.waitForExit()).exitCode).toBe(0);
  });

  it('passes the ^D that script(1) types when its input ends as 04, not as a NUL', async (context) => {
    if (!fs.existsSync('/usr/bin/script')) return context.skip('script(1) (util-linux) is not installed');
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    const log = sandbox.path('out.log');
    const command = `exec '${process.execPath}' '${DT}' -a '${socket}' -r none`;
    // Standard input /dev/null: script writes its end-of-file character into the client's
    // terminal at once, before the client has made it raw.
    const script = spawn('/usr/bin/script', ['-qc', command, '/dev/null'], { cwd: sandbox.dir, env: { ...process.env, ...sandbox.env() }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => script.on('exit', (code) => resolve(code)));
    await waitUntil(() => /HEX [0-9a-f]+\r/.test(readLog(log)), () => `the program to report a key; its log: ${JSON.stringify(readLog(log))}`);
    // The client ends, and script with it (script's own SIGTERM would wait 2 s for it).
    for (const client of childPids(script.pid!)) process.kill(client, 'SIGTERM');
    await exited;
    expect(hexReceived(readLog(log))).toBe('04');
  });
});

describe('without dt\'s terminal binding', () => {
  /** A copy of dt (bin/ and dist/, node-pty from this checkout) whose build/Release is missing. */
  function unbuiltCopy(): string {
    const root = copyBuiltDt(sandbox.path('unbuilt'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    return root;
  }

  /** `dt args` of the copy, run by sh between two readings of the terminal's modes. */
  async function underShell(root: string, args: string[]): Promise<{ shown: string; status: number; before: string; after: string }> {
    const script = 'stty -g; "$0" "$@"; echo "STATUS $?"; stty -g';
    const term = sandbox.run('/bin/sh', ['-c', script, process.execPath, path.join(root, 'bin', 'dt'), ...args]);
    expect((await term.waitForExit()).exitCode).toBe(0);
    const match = /^(\S+)\r\n([^]*)STATUS (\d+)\r\n(\S+)\r\n$/.exec(term.text);
    expect(match, JSON.stringify(term.text)).not.toBeNull();
    return { before: match![1]!, shown: match![2]!, status: Number(match![3]), after: match![4]! };
  }

  const binding = (root: string): string => path.join(root, 'build', 'Release', 'termios.node');

  it('dt -a says what is missing and how to build it, exits 1, and leaves the terminal and the session as they were', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    const root = unbuiltCopy();
    const { shown, status, before, after } = await underShell(root, ['-a', socket, '-r', 'none']);
    expect(shown).toBe(
      `dt: cannot load the terminal binding: ${binding(root)}: cannot open shared object file: No such file or directory\r\n` +
      `dt: build it with \`npm rebuild\` in ${root}; that needs Python 3, make and a C++ compiler\r\n`,
    );
    expect(status).toBe(1);
    expect(after).toBe(before);
    // The session did not see the attempt: no viewer, and the program got no key.
    const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env() });
    expect(JSON.parse(listed.stdout)).toMatchObject([{ socket, clients: 0 }]);
  });

  it('another Node addon in its place: dt -a and dt -c say it is not dt\'s, exit 1, and touch nothing', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO]);
    const root = unbuiltCopy();
    // A binding that loads, but offers none of dt's calls (an older dt's would lack one too).
    fs.mkdirSync(path.dirname(binding(root)), { recursive: true });
    fs.copyFileSync(path.join(path.dirname(path.dirname(DT)), 'node_modules/node-pty/build/Release/pty.node'), binding(root));
    const attached = await underShell(root, ['-a', socket, '-r', 'none']);
    expect(attached.shown).toMatch(new RegExp(`^dt: cannot load the terminal binding: ${binding(root)} is not dt's: it has no makeRaw\\r\\ndt: build it with `));
    expect(attached.status).toBe(1);
    expect(attached.after).toBe(attached.before);
    const created = sandbox.path('new');
    const creating = await underShell(root, ['-c', created, '/bin/sh']);
    expect(creating.shown).toMatch(/^dt: cannot load the terminal binding: .* is not dt's/);
    expect(creating.status).toBe(1);
    expect(creating.after).toBe(creating.before);
    expect(fs.existsSync(created)).toBe(false);
    const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env() });
    expect(JSON.parse(listed.stdout)).toMatchObject([{ socket, clients: 0 }]);
  });

  it('dt -c and dt -A start no session', async () => {
    const root = unbuiltCopy();
    for (const option of ['-c', '-A']) {
      const socket = sandbox.path(`new${option}`);
      const { shown, status, before, after } = await underShell(root, [option, socket, '/bin/sh']);
      expect(shown).toMatch(/^dt: cannot load the terminal binding: .*\r\ndt: build it with /);
      expect(status).toBe(1);
      expect(after).toBe(before);
      expect(fs.existsSync(socket)).toBe(false);
    }
    const listed = await runDt(['-l'], { cwd: sandbox.dir, env: sandbox.env() });
    expect(listed.stdout).toBe('No sessions.\n');
  });
});
