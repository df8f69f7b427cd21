// Terminals that are not xterm: what dt writes as a client leaves must leave them as a shell
// needs them. dt runs inside tmux and GNU screen, each on a socket of the test's own and ended
// by the test (a test skips, saying so, when its multiplexer is not installed: Debian packages
// tmux and screen); and the Linux console, which cannot run here, is judged by the bytes.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DT, Sandbox, childPids, isAlive, terminalModes, waitForViewers, waitUntil, type Term } from './harness.js';

const ROWS = 24;

/** The first of a program's paths that exists, or undefined. */
function installed(name: string): string | undefined {
  return (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
}

const TMUX = installed('tmux');
const SCREEN = installed('screen');
if (!TMUX) console.warn('terminals.test.ts: no tmux (Debian package tmux); its tests are skipped');
if (!SCREEN) console.warn('terminals.test.ts: no screen (Debian package screen); its tests are skipped');

/** A multiplexer running one window with `command` in it, on the test's own socket. */
interface Multiplexer {
  /** The pid of the shell the window runs. */
  windowShell(): number;
  /** The window's lines, top to bottom, trailing spaces dropped. */
  lines(): Promise<string[]>;
  stop(): Promise<void>;
}

function startTmux(sandbox: Sandbox, command: string): Multiplexer {
  const socket = sandbox.path('tmux.sock');
  const tmux = (...args: string[]): string =>
    execFileSync(TMUX!, ['-S', socket, '-f', '/dev/null', ...args], { env: { ...process.env, ...sandbox.env(), TERM: 'xterm-256color' }, encoding: 'utf8' });
  tmux('new-session', '-d', '-x', '80', '-y', String(ROWS), command);
  const server = Number(tmux('display-message', '-p', '#{pid}').trim());
  return {
    windowShell: () => Number(tmux('display-message', '-p', '#{pane_pid}').trim()),
    lines: async () => tmux('capture-pane', '-p').split('\n').slice(0, ROWS).map((line) => line.trimEnd()),
    async stop() {
      tmux('kill-server');
      await waitUntil(() => !isAlive(server), `the tmux server (pid ${server}) to exit`);
    },
  };
}

function startScreen(sandbox: Sandbox, command: string): Multiplexer {
  const directory = sandbox.path('screens');
  fs.mkdirSync(directory, { mode: 0o700 });
  const config = sandbox.path('screenrc');
  // The alternate screen is off by default in GNU screen: full-screen programs draw over the shell's lines.
  fs.writeFileSync(config, 'startup_message off\naltscreen on\n');
  const env = { ...process.env, ...sandbox.env(), SCREENDIR: directory, TERM: 'xterm-256color' };
  // -D -m: the session's server in the foreground, detached, our child, ended by its pid.
  const server: ChildProcess = spawn(SCREEN!, ['-D', '-m', '-c', config, '-S', 'dt-test', '/bin/sh', '-c', command], { env, stdio: 'ignore' });
  const copy = sandbox.path('hardcopy');
  return {
    windowShell: () => childPids(server.pid!)[0] ?? 0,
    lines: async () => {
      fs.rmSync(copy, { force: true });
      try {
        execFileSync(SCREEN!, ['-S', 'dt-test', '-X', 'hardcopy', copy], { env, stdio: 'ignore' });
      } catch {
        return []; // No session yet: the server is still starting.
      }
      // The command is carried out by the server after this client has gone.
      await waitUntil(() => fs.existsSync(copy), 'screen\'s hardcopy of the window');
      return fs.readFileSync(copy, 'utf8').split('\n').slice(0, ROWS).map((line) => line.trimEnd());
    },
    async stop() {
      server.kill('SIGKILL');
      await waitUntil(() => server.exitCode !== null || server.signalCode !== null, `screen (pid ${server.pid}) to exit`);
    },
  };
}

let sandbox: Sandbox;
let multiplexer: Multiplexer | undefined;
beforeEach(() => {
  sandbox = new Sandbox();
});
afterEach(async () => {
  await multiplexer?.stop();
  multiplexer = undefined;
  await sandbox.teardown();
});

const multiplexers = [
  { name: 'tmux', start: startTmux, present: TMUX !== undefined },
  { name: 'GNU screen', start: startScreen, present: SCREEN !== undefined },
];

describe.each(multiplexers)('dt inside $name', ({ start, present }) => {
  it.skipIf(!present)('a client killed while the program is on the alternate screen leaves the cursor where the shell had it', async () => {
    const socket = sandbox.path('s');
    // The program leaves the alternate screen's cursor far from the shell's.
    const program = `printf '\\033[?1049h\\033[10;30HALT'; read line`;
    const shell = `echo BEFORE; "${process.execPath}" "${DT}" -c "${socket}" -r none /bin/sh -c "${program}"; echo "AFTER $?"; read line`;
    multiplexer = start(sandbox, shell);
    const window = multiplexer;
    await waitUntil(async () => (await window.lines())[9] === `${' '.repeat(29)}ALT`, 'the program on the alternate screen');
    await sandbox.trackMaster(socket);
    const client = childPids(window.windowShell())[0]!;
    process.kill(client, 'SIGTERM');
    let lines: string[] = [];
    await waitUntil(async () => (lines = await window.lines()).some((line) => line.includes('AFTER')), 'the shell\'s line after dt');
    expect(lines.slice(0, 3), lines.join('\n')).toEqual(['BEFORE', 'AFTER 143', '']);
    expect((await sandbox.dt(['-k', socket]).waitForExit()).exitCode).toBe(0);
  });
});

/**
 * The control sequences in `text` that the Linux console's parser before Linux 5.0 misreads:
 * a CSI sequence ends at the first byte that is not a digit or ';' (after an optional '?'), so
 * a private marker '<' '=' '>' or an intermediate byte (CSI 0 SP q) ends it there and the rest
 * is printed ("99u", "4m", "q"); and an OSC but the console's own palette ones (P, R) ends at
 * its first byte, its parameters printed (before Linux 4.12).
 */
function misreadByLinuxConsole(text: string): string[] {
  const misread: string[] = [];
  for (const match of text.matchAll(/\x1b\[[\x20-\x3f]*[\x40-\x7e]?|\x1b\][^PR]/g)) {
    if (!/^\x1b\[\??[\d;]*[\x40-\x7e]$/.test(match[0])) misread.push(JSON.stringify(match[0]));
  }
  return misread;
}

describe('dt on the Linux console (TERM=linux)', () => {
  const endings = [
    { name: 'detach', end: (term: Term) => term.write('\x1c') },
    { name: 'program end', end: (term: Term) => term.write('\r') },
    { name: 'client SIGTERM', end: (term: Term) => process.kill(term.pid, 'SIGTERM') },
  ];
  it.each(endings)('$name: dt writes no sequence the console would show part of as text', async ({ end }) => {
    const socket = sandbox.path('s');
    // node-pty names every terminal xterm-256color: env sets the TERM dt sees.
    const term = sandbox.run('/usr/bin/env', ['TERM=linux', process.execPath, DT, '-c', socket, '-r', 'none', '/bin/sh', '-c', 'echo READY; read line']);
    await term.waitFor('READY');
    await waitUntil(() => terminalModes(term).includes('-icanon'), 'the client to put its terminal in raw mode');
    await sandbox.trackMaster(socket);
    end(term);
    await term.waitForExit();
    if (!term.text.includes('[program exited')) expect((await sandbox.dt(['-k', socket]).waitForExit()).exitCode).toBe(0);
    expect(misreadByLinuxConsole(term.text)).toEqual([]);
  });

  it('the check finds what an xterm gets and the console would misread', () => {
    expect(misreadByLinuxConsole('\x1b[?1049h\x1b[<99u\x1b[>4m\x1b[0 q\x1b]8;;\x1b\\\x1b[22;0t\x1b[0m')).toEqual(
      ['"\\u001b[<99u"', '"\\u001b[>4m"', '"\\u001b[0 q"', '"\\u001b]8"']);
  });
});

describe('dt inside dt', () => {
  it('the detach character reaches the outer client first; the inner one, given another with -e, detaches alone', async () => {
    const outer = sandbox.path('outer');
    const inner = sandbox.path('inner');
    const term = sandbox.dt(['-c', outer, '-r', 'none', '/bin/sh']);
    await waitUntil(() => terminalModes(term).includes('-icanon'), 'the outer client in raw mode');
    await sandbox.trackMaster(outer);
    term.write(`"${process.execPath}" "${DT}" -c "${inner}" -e '^A' -r none /bin/sh -c 'echo INNER; read line'; echo "INNER LEFT $?"\r`);
    let from = await term.waitFor('INNER\r\n');
    await sandbox.trackMaster(inner);
    term.write('\x01');
    from = await term.waitFor(/\[detached\]\r\n(\r\n)?INNER LEFT 0/, { from });
    term.write('echo OUTER STILL\r');
    from = await term.waitFor('OUTER STILL\r\n', { from });
    // The inner client again, with the outer one's character: the outer client detaches.
    term.write(`"${process.execPath}" "${DT}" -a "${inner}" -r none\r`);
    await waitForViewers(inner, 1);
    term.write('\x1c');
    expect((await term.waitForExit()).exitCode).toBe(0);
    // The outer session's shell, interactive, ignores SIGTERM.
    for (const socket of [inner, outer]) expect((await sandbox.dt(['-k', socket, 'KILL']).waitForExit()).exitCode).toBe(0);
  });
});
