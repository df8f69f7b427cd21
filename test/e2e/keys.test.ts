// The keys dt takes for itself: the detach key in its legacy and CSI-u / modifyOtherKeys forms,
// -e / -E, and the suspend key with and without job control; and a bracketed paste, in which
// they are text, and which is ended for the program when the terminal is lost in its middle.
// What the program received is read from hexlog's file, so it is known even while no client
// shows the program's output.

import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DT, DTACH, FIXTURES, HAVE_DTACH, Peer, Sandbox, childPids, hasEnded, hexReceived, killDtachMasters, processState, statusLinePattern, terminalModes,
  waitForViewers, waitUntil,
  type Term,
} from './harness.js';
import { runDt } from './lifecycle-helpers.js';
import { Screen, screenOf, waitForScreen } from '../screen.js';

const HEXLOG = `${FIXTURES}/hexlog.mjs`;
// winsize-now, not winsize: winsize.mjs reports the size from before the SIGWINCH (see the fixture).
const WINSIZE = `${FIXTURES}/winsize.mjs`;

let sandbox: Sandbox;
/** Clients started inside a shell: not Terms of their own, so killed here by pid. */
let shellClients: number[];
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('these tests check keys; the end of a session is tested in lifecycle and faults');
  shellClients = [];
});
afterEach(async () => {
  for (const pid of shellClients) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: it exited.
    }
  }
  await killDtachMasters(sandbox);
  await sandbox.teardown();
});

/** Everything the program has read so far, as one hex string (from hexlog's file). */
function received(log: string): string {
  return fs.existsSync(log) ? fs.readFileSync(log, 'latin1').split('\n').join('') : '';
}

/** Starts a detached hexlog session; resolves once the program is in raw mode (it made its log). */
async function hexlogSession(options: string[] = ['-r', 'none'], env?: NodeJS.ProcessEnv): Promise<{ socket: string; log: string }> {
  const socket = sandbox.path('s');
  const log = sandbox.path('received.log');
  expect((await sandbox.dt(['-n', socket, ...options, process.execPath, HEXLOG, log], { env }).waitForExit()).exitCode).toBe(0);
  await sandbox.trackMaster(socket);
  await waitUntil(() => fs.existsSync(log), 'hexlog to be in raw mode');
  return { socket, log };
}

/**
 * Waits until the client has put its terminal in raw mode. Typing before that would meet the
 * terminal's cooked mode: ^\\ would be SIGQUIT for the client itself, ^Z a SIGTSTP.
 */
async function untilRaw(term: Term): Promise<void> {
  await waitUntil(() => terminalModes(term).includes('-icanon'), 'the client to put its terminal in raw mode');
}

/**
 * Waits until `client`, started from a job-control shell, has the terminal again (`fg`) and has
 * put it in raw mode. bash's line editor keeps the terminal out of canonical mode while it
 * reads a command too: a key typed then could meet the shell's modes, and be taken with the
 * shell's pending input when it switches back. bash switches back before it gives the
 * terminal to the job, so raw modes seen once the client's group is the terminal's foreground
 * are the client's.
 */
async function untilRawInForeground(term: Term, client: number): Promise<void> {
  await waitUntil(() => {
    const stat = fs.readFileSync(`/proc/${client}/stat`, 'latin1');
    const [processGroup, , , foregroundGroup] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(2, 6);
    return processGroup === foregroundGroup && terminalModes(term).includes('-icanon');
  }, 'the client to have the terminal again, in raw mode');
}

/** Attaches a client and proves it is attached by a round trip of one typed byte. */
async function attachAndType(socket: string, options: string[], byte: string): Promise<Term> {
  const term = sandbox.dt(['-a', socket, '-r', 'none', ...options]);
  await untilRaw(term);
  term.write(byte);
  await term.waitFor(`HEX ${Buffer.from(byte, 'latin1').toString('hex')}\r`);
  return term;
}

/** After a detach, a new client's keystroke is a barrier: anything sent before it has arrived. */
async function receivedAfterBarrier(socket: string, log: string): Promise<string> {
  await attachAndType(socket, [], 'z');
  await waitUntil(() => received(log).endsWith('7a'), 'the barrier keystroke in the log');
  return received(log);
}

describe('the detach key', () => {
  const cases: Array<{ name: string; options: string[]; key: string; passesThrough?: string }> = [
    { name: 'default ^\\', options: [], key: '\x1c' },
    { name: "-e '^A'", options: ['-e', '^A'], key: '\x01', passesThrough: '\x1c' },
    { name: "-e 'q'", options: ['-e', 'q'], key: 'q', passesThrough: '\x1c' },
    { name: "-e '^?'", options: ['-e', '^?'], key: '\x7f', passesThrough: '\x1c' },
    { name: 'kitty CSI-u Ctrl+\\', options: [], key: '\x1b[92;5u' },
    { name: 'xterm modifyOtherKeys Ctrl+\\', options: [], key: '\x1b[27;5;92~' },
    { name: "kitty CSI-u Ctrl+a with -e '^A'", options: ['-e', '^A'], key: '\x1b[97;5u' },
  ];

  it.each(cases)('$name detaches without reaching the program', async ({ options, key, passesThrough }) => {
    const { socket, log } = await hexlogSession();
    const term = await attachAndType(socket, options, 'x');
    let expected = '78';
    if (passesThrough !== undefined) {
      // With another key set, ^\ is an ordinary key for the program.
      term.write(passesThrough);
      expected += Buffer.from(passesThrough, 'latin1').toString('hex');
      await term.waitFor(`HEX ${Buffer.from(passesThrough, 'latin1').toString('hex')}\r`);
    }
    term.write(key);
    await term.waitFor('[detached]');
    expect((await term.waitForExit()).exitCode).toBe(0);
    expect(await receivedAfterBarrier(socket, log)).toBe(`${expected}7a`);
  });

  it('is recognised anywhere in a read: "abc^\\" in one write sends abc, then detaches', async () => {
    const { socket, log } = await hexlogSession();
    const term = sandbox.dt(['-a', socket, '-r', 'none']);
    await untilRaw(term);
    term.write('abc\x1c');
    await term.waitFor('[detached]');
    expect((await term.waitForExit()).exitCode).toBe(0);
    expect(await receivedAfterBarrier(socket, log)).toBe('6162637a');
  });

  it("-e '~': Delete (ESC [ 3 ~) and a mouse report holding a ~ reach the program whole; ~ typed alone detaches", async () => {
    const { socket, log } = await hexlogSession();
    const term = await attachAndType(socket, ['-e', '~'], '\x1b[3~');
    term.write('\x1b[M ~!');
    await term.waitFor('HEX 1b5b4d207e21\r');
    expect(term.exited).toBeUndefined();
    term.write('~');
    await term.waitFor('[detached]');
    expect((await term.waitForExit()).exitCode).toBe(0);
    expect(await receivedAfterBarrier(socket, log)).toBe('1b5b337e1b5b4d207e217a');
  });

  it('-E disables detaching: ^\\ and its CSI-u form reach the program unchanged', async () => {
    const { socket, log } = await hexlogSession();
    const term = await attachAndType(socket, ['-E'], '\x1c');
    term.write('\x1b[92;5u');
    await term.waitFor('HEX 1b5b39323b3575\r');
    expect(term.exited).toBeUndefined();
    expect(received(log)).toBe('1c1b5b39323b3575');
  });

  it('a kitty key-release event of Ctrl+\\ does not detach; it reaches the program', async () => {
    const { socket } = await hexlogSession();
    const term = await attachAndType(socket, [], '\x1b[92;5:3u');
    expect(term.exited).toBeUndefined();
  });
});

describe('a bracketed paste', () => {
  it('is text for dt: one holding ^\\ and ^Z, over two reads, reaches the program whole; ^\\ typed after it detaches', async () => {
    const { socket, log } = await hexlogSession();
    const term = await attachAndType(socket, [], 'x');
    // The program turned bracketed paste on, so the terminal brackets what is pasted.
    const hex = (text: string): string => Buffer.from(text, 'latin1').toString('hex');
    // The program may read each write in pieces: what counts is all it received, in order.
    term.write('\x1b[200~a\x1cb');
    await term.until(() => hexReceived(term.text) === hex('x\x1b[200~a\x1cb'), 'the paste\'s first read to reach the program');
    term.write('\x1ac\x1c\x1b[201~');
    await term.until(() => hexReceived(term.text) === hex('x\x1b[200~a\x1cb\x1ac\x1c\x1b[201~'), 'the rest of the paste to reach the program');
    expect(term.exited).toBeUndefined();
    term.write('\x1c');
    await term.waitFor('[detached]');
    expect((await term.waitForExit()).exitCode).toBe(0);
    expect(await receivedAfterBarrier(socket, log)).toBe(`${hex('x\x1b[200~a\x1cb\x1ac\x1c\x1b[201~')}7a`);
  });

  /** The terminal goes away: its master side closed (a window closed, ssh dropped), or the client killed. */
  const goings: Array<[string, (term: Term) => void]> = [
    ['its terminal closes', (term) => (term.pty as unknown as { destroy(): void }).destroy()],
    ['the client is killed (SIGKILL)', (term) => term.kill('SIGKILL')],
  ];

  it.each(goings)('cut short as %s is ended for the program, which has bracketed paste on; not when it has it off', async (_how, goAway) => {
    const hex = (text: string): string => Buffer.from(text, 'latin1').toString('hex');
    for (const pasteMode of ['h', 'l']) {
      const socket = sandbox.path(`paste-${pasteMode}`);
      const log = sandbox.path(`paste-${pasteMode}.log`);
      const program = `printf '\\033[?2004${pasteMode}'; exec "$0" "$1" "$2"`;
      expect((await sandbox.dt(['-n', socket, '-r', 'none', 'sh', '-c', program, process.execPath, HEXLOG, log]).waitForExit()).exitCode).toBe(0);
      await sandbox.trackMaster(socket);
      await waitUntil(() => fs.existsSync(log), 'hexlog to be in raw mode');
      const term = await attachAndType(socket, [], 'x');
      term.write('\x1b[200~cut sho');
      await term.until(() => hexReceived(term.text) === hex('x\x1b[200~cut sho'), 'the paste\'s beginning to reach the program');
      goAway(term);
      await term.waitForExit();
      // The master has seen it leave: the barrier's z comes after whatever it sends for it.
      await waitForViewers(socket, 0);
      const barrier = await attachAndType(socket, [], 'z');
      const ended = pasteMode === 'h' ? '\x1b[201~' : '';
      await waitUntil(() => received(log).endsWith('7a'), 'the barrier keystroke in the log');
      expect(received(log), `bracketed paste ${pasteMode === 'h' ? 'on' : 'off'}`).toBe(hex(`x\x1b[200~cut sho${ended}z`));
      barrier.write('\x1c');
      await barrier.waitForExit();
    }
  });
});

describe.skipIf(!HAVE_DTACH)('dtach, for reference', () => {
  it('detaches on ^\\ alone, but checks only the first byte of a read: "abc^\\" reaches its program whole', async () => {
    const term = sandbox.run(DTACH, ['-c', sandbox.path('d'), '-r', 'none', process.execPath, `${FIXTURES}/hexecho.mjs`]);
    await term.waitFor('READY');
    term.write('abc\x1c');
    // dt detaches here instead (tested above): a deliberate difference.
    await term.waitFor('HEX 6162631c\r');
    term.write('\x1c');
    await term.waitFor('[detached]');
    expect((await term.waitForExit()).exitCode).toBe(0);
  });
});

/**
 * An interactive sh (job control on: the client gets a process group of its own, and the shell
 * takes the terminal back when it stops), with the client started in it. Also returns the
 * terminal's modes just before the client started.
 */
async function clientInJobControlShell(dtArgs: string[], shellCommand = ['/bin/sh', '-i']): Promise<{ shell: Term; client: number; cookedModes: string }> {
  const shell = sandbox.run(shellCommand[0]!, shellCommand.slice(1), { env: { PS1: 'PROMPT$ ', ENV: '' } });
  await shell.waitFor('PROMPT$ ');
  const cookedModes = terminalModes(shell, '-g');
  shell.write(`${process.execPath} ${DT} ${dtArgs.join(' ')}\r`);
  let client = 0;
  await waitUntil(() => {
    client = childPids(shell.pid).find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(DT)) ?? 0;
    return client > 0;
  }, 'the client to start in the shell');
  shellClients.push(client);
  await untilRaw(shell);
  return { shell, client, cookedModes };
}

describe('the suspend key', () => {
  it('^Z under job control: restores the terminal, stops the client, and fg re-attaches with a redraw', async () => {
    // The session's default redraw is ctrl_l (given at creation, the attach gives none); hexlog
    // is raw, so it gets ^L, on the attach and again on fg.
    const { socket, log } = await hexlogSession(['-r', 'ctrl_l']);
    const { shell: jobShell, client, cookedModes } = await clientInJobControlShell(['-a', socket]);
    await jobShell.waitFor('HEX 0c\r');
    jobShell.write('x');
    await jobShell.waitFor('HEX 78\r');

    jobShell.write('\x1a');
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
    const stoppedAt = await jobShell.waitFor('Stopped');
    // The terminal the shell gets back is exactly as it was before dt started.
    expect(terminalModes(jobShell, '-g')).toBe(cookedModes);
    expect(received(log)).toBe('0c78');

    jobShell.write('fg\r');
    const resumedAt = await jobShell.waitFor('HEX 0c\r', { from: stoppedAt });
    expect(processState(client)).not.toBe('T');
    expect(terminalModes(jobShell)).toMatch(/-icanon .*-echo\b/s);
    jobShell.write('y');
    await jobShell.waitFor('HEX 79\r', { from: resumedAt });
    // No 0x1a ever reached the program; the resume's ^L came before the next keystroke.
    expect(received(log)).toBe('0c780c79');
  });

  it('^Z leaves the shell no scroll region, origin, insert, shifted-out state or hyperlink the program was in', async () => {
    const socket = sandbox.path('h');
    const setModes = '\\033]8;;http://dt.test/\\007\\033[5;10r\\033[?6h\\033[4h\\033[?2026h\\033)0\\016';
    expect((await sandbox.dt(['-n', socket, '/bin/sh', '-c', `read line; printf '${setModes}'; exec cat >/dev/null`]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    const { shell, client } = await clientInJobControlShell(['-a', socket, '-r', 'none']);
    const screen = screenOf(shell);
    shell.write('\r');
    await waitForScreen(screen, (shown) => shown.terminal.modes.originMode && shown.terminal.modes.insertMode, 'the program\'s modes');
    shell.write('\x1a');
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
    const stoppedAt = await shell.waitFor('Stopped');
    await shell.waitFor('PROMPT$ ', { from: stoppedAt });
    shell.write('seq -f n%g 1 30; printf \'\\033(0qq\\033(B\\n\'; echo DONE\r');
    await waitForScreen(screen, (shown) => shown.lines.includes('DONE'), 'the shell\'s lines after the suspend');
    expect(screen.terminal.modes).toMatchObject({ originMode: false, insertMode: false, synchronizedOutputMode: false });
    const done = screen.lines.indexOf('DONE');
    expect(screen.lines.slice(done - 3, done + 1), screen.text).toEqual(['n29', 'n30', '\u2500\u2500', 'DONE']);
    expect(screen.linkAt(done, 0), 'the hyperlink of the shell\'s line').toBe(0);
  });

  it('^Z gives the window back its title (none here), fg the program\'s, and a detach after it the window\'s again', async () => {
    const socket = sandbox.path('t');
    expect((await sandbox.dt(['-n', socket, '/bin/sh', '-c', `printf '\\033]2;program title\\007'; exec cat >/dev/null`]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    const { shell, client } = await clientInJobControlShell(['-a', socket, '-r', 'none']);
    // Everything the shell's terminal has shown, from its start on.
    const screen = new Screen();
    screen.write(shell.text);
    shell.onOutput((chunk) => screen.write(chunk));
    await waitForScreen(screen, (shown) => shown.modes.title === 'program title', 'the program\'s title');
    shell.write('\x1a');
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
    await shell.waitFor('Stopped');
    await waitForScreen(screen, (shown) => shown.modes.title === '', 'no title after the suspend');
    shell.write('fg\r');
    await waitForScreen(screen, (shown) => shown.modes.title === 'program title', 'the program\'s title after fg');
    await untilRaw(shell);
    shell.write('\x1c');
    const detachedAt = await shell.waitFor('[detached]');
    await shell.waitFor('PROMPT$ ', { from: detachedAt });
    await waitForScreen(screen, (shown) => shown.modes.title === '', 'no title after the detach');
  });

  it('after fg, a client attached with -r winch redraws with SIGWINCH (its own method, not the session default)', async () => {
    const socket = sandbox.path('w');
    expect((await sandbox.dt(['-n', socket, process.execPath, WINSIZE]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    const { shell, client } = await clientInJobControlShell(['-a', socket, '-r', 'winch']);
    await shell.waitFor('SIZE 80x24');
    shell.write('\x1a');
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
    const stoppedAt = await shell.waitFor('Stopped');
    // Whether the program was up in time to count the attach's SIGWINCH varies: take the count
    // it last reported; by the time the client has stopped, that report is long out.
    const count = Math.max(...[...shell.text.slice(0, stoppedAt).matchAll(/WINCH (\d+)\r/g)].map((match) => Number(match[1])));
    shell.write('fg\r');
    await shell.waitFor(`SIZE 80x24 WINCH ${count + 1}\r`, { from: stoppedAt, timeoutMs: 5_000 });
  });

  it.each([['a viewer', []], ['a read-only viewer', ['-R']]])(
    '%s suspended before it sent anything is still attached at fg, after longer than an idle connection is kept',
    async (_what, options) => {
      const idleTimeoutMs = 1_000;
      const { socket, log } = await hexlogSession(['-r', 'none'], { DT_TEST_IDLE_CONNECTION_TIMEOUT_MS: String(idleTimeoutMs) });
      const { shell, client } = await clientInJobControlShell(['-a', socket, ...options]);
      shell.write('\x1a');
      await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
      const stoppedAt = await shell.waitFor('Stopped');
      // Connections opened after the client was last heard, closed as idle one after the other:
      // the client has been quiet for longer than the idle timeout, with a whole timeout to spare.
      for (const turn of ['first', 'second']) {
        const witness = await Peer.connect(socket);
        await waitUntil(() => witness.closed, `the ${turn} idle witness connection to be closed`, 20 * idleTimeoutMs);
      }
      shell.write('fg\r');
      await waitUntil(() => terminalModes(shell).includes('-icanon'), 'the client to be back in raw mode');
      expect((await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'q' })).code).toBe(0);
      await shell.waitFor('HEX 71\r', { from: stoppedAt });
      expect(shell.text.slice(stoppedAt)).not.toContain('[dt:');
      expect(received(log)).toBe('71');
    },
  );

  it('a suspended client ends on `kill %1` (bash: SIGTERM, then SIGCONT), leaving the shell its terminal modes', async () => {
    const { socket } = await hexlogSession();
    const { shell, client } = await clientInJobControlShell(['-a', socket], ['/bin/bash', '--norc', '--noprofile', '-i']);
    shell.write('\x1a');
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
    const stoppedAt = await shell.waitFor('Stopped');
    await shell.waitFor('PROMPT$ ', { from: stoppedAt });
    // The modes bash's line editor reads the next command in.
    const shellModes = terminalModes(shell, '-g');
    shell.write('kill %1\r');
    // Stopped again, the client would be waiting for fg to end: the kernel stops a background
    // job that sets the terminal's modes (SIGTTOU), which Node and libuv do as a process exits.
    await waitUntil(() => hasEnded(client), 'the client to end (not to be stopped again, waiting for fg)').catch((error: Error) => {
      // What the client and its children were doing, for a failure seen once in a loaded full run.
      const children = childPids(client).map((pid) => `${pid} ${processState(pid)}`).join(', ') || 'none';
      throw new Error(`${error.message}; the client is in state ${processState(client)}, its children: ${children}\n${shell.text}`);
    });
    // Read before the next prompt, where the line editor would set its modes again.
    expect(terminalModes(shell, '-g')).toBe(shellModes);
    // bash tells how its job ended before its next prompt.
    shell.write('\r');
    await shell.waitFor(/Exit 143.*\r\n.*PROMPT\$ /s, { from: stoppedAt });
  });

  it('`bg` of a suspended client stops it again (it cannot take the terminal), and `fg` attaches it', async () => {
    const { socket, log } = await hexlogSession();
    const { shell, client } = await clientInJobControlShell(['-a', socket], ['/bin/bash', '--norc', '--noprofile', '-i']);
    shell.write('\x1a');
    const stoppedAt = await shell.waitFor('Stopped');
    await shell.waitFor('PROMPT$ ', { from: stoppedAt });
    shell.write('bg\r');
    const continuedAt = await shell.waitFor('&\r\n', { from: stoppedAt });
    // Stopped again by itself, not left running, where `fg` would send it no SIGCONT: bash's
    // `jobs` says so once it has seen the client stop (a state /proc shows before and after).
    let asked = continuedAt;
    await waitUntil(async () => {
      shell.write('jobs\r');
      const answered = await shell.waitFor(/(Running|Stopped)[^\r]*dt -a[^\r]*\r\n/, { from: asked });
      const stopped = shell.text.slice(asked, answered).includes('Stopped');
      asked = answered;
      return stopped;
    }, 'bash to see the client stopped again');
    expect(processState(client)).toBe('T');
    shell.write('fg\r');
    await untilRawInForeground(shell, client);
    shell.write('a');
    await shell.waitFor('HEX 61\r', { from: continuedAt });
    expect(received(log)).toBe('61');
  });

  it('a client suspended when the program ends reports its status at fg, and the status is then not kept for another report', async () => {
    const socket = sandbox.path('s');
    const go = sandbox.path('go');
    const program = ['/bin/sh', '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; exit 7`];
    expect((await sandbox.dt(['-n', socket, ...program]).waitForExit()).exitCode).toBe(0);
    await sandbox.trackMaster(socket);
    const { shell, client } = await clientInJobControlShell(['-a', socket, '-r', 'none']);
    shell.write('\x1a');
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped');
    const stoppedAt = await shell.waitFor('Stopped');
    fs.writeFileSync(go, '');
    // The master removes the socket as the program ends (it then waits a while for the client).
    await waitUntil(() => !fs.existsSync(socket), 'the program to end');
    shell.write('fg\r');
    await shell.waitFor(statusLinePattern('[program exited with status 7]'), { from: stoppedAt });
    await waitUntil(() => hasEnded(client), 'the client to exit');
    // Told once: dt -l lists nothing, and dt -a says what dtach says.
    const listed = sandbox.dt(['-l', '--json']);
    await listed.waitForExit();
    expect(JSON.parse(listed.text)).toEqual([]);
  });

  it('^Z of a client a script runs under a job-control shell stops the script with it, as the terminal would: fg attaches again', async () => {
    const { socket, log } = await hexlogSession();
    const shell = sandbox.run('/bin/bash', ['--norc', '--noprofile', '-i'], { env: { PS1: 'PROMPT$ ' } });
    await shell.waitFor('PROMPT$ ');
    // The script's shell and the client share the process group bash made for the job.
    shell.write(`/bin/sh -c '"${process.execPath}" "${DT}" -a "${socket}"; echo "AFTER $?"'\r`);
    let script = 0;
    let client = 0;
    await waitUntil(() => {
      script = childPids(shell.pid)[0] ?? 0;
      client = script === 0 ? 0 : childPids(script)[0] ?? 0;
      return client > 0;
    }, 'the script to start the client');
    shellClients.push(client);
    await untilRaw(shell);
    shell.write('\x1a');
    // Stopped alone, the client would leave the script waiting for it and bash waiting for the
    // script: a terminal nobody reads.
    const stoppedAt = await shell.waitFor('Stopped');
    expect(processState(script)).toBe('T');
    // bash reports its child, the script, stopped; the client's own stop may come a moment
    // later, as the kernel stops each member of the group in turn.
    await waitUntil(() => processState(client) === 'T', 'the client to be stopped with the script');
    await shell.waitFor('PROMPT$ ', { from: stoppedAt });
    shell.write('fg\r');
    await untilRawInForeground(shell, client);
    shell.write('a');
    await shell.waitFor('HEX 61\r', { from: stoppedAt });
    shell.write('\x1c');
    await shell.waitFor('AFTER 0', { from: stoppedAt });
    expect(received(log)).toBe('61');
  });

  it('-z: ^Z under job control goes to the program as 0x1a and the client keeps running', async () => {
    const { socket, log } = await hexlogSession();
    const { shell, client } = await clientInJobControlShell(['-a', socket, '-r', 'none', '-z']);
    shell.write('\x1a');
    await shell.waitFor('HEX 1a\r');
    expect(processState(client)).not.toBe('T');
    expect(shell.text).not.toContain('Stopped');
    expect(received(log)).toBe('1a');
  });

  it('without job control (the client leads its session) ^Z goes to the program: the kernel would discard SIGTSTP', async () => {
    const { socket, log } = await hexlogSession();
    const term = await attachAndType(socket, [], '\x1a');
    expect(term.exited).toBeUndefined();
    expect(processState(term.pid)).not.toBe('T');
    expect(received(log)).toBe('1a');
  });
});
