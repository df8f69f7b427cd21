// The client's terminal while it enters raw mode. Node's setRawMode is immediate; the rest of
// cfmakeraw (output post-processing off) is stty's, a child the client does not wait for:
// keys flow at once, but nothing that post-processing could change may reach the terminal
// until stty has ended, and a client that leaves meanwhile must restore the terminal only
// after it. Here stty waits at a gate the test opens (a wrapper first in PATH), so that
// everything happens inside that window, whatever the load.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DT, FIXTURES, Sandbox, TITLE_SAVE, freshTerminalModes, hasEnded, hexReceived, statusLinePattern, waitForChildNamed, waitUntil, type Term } from './harness.js';
import { runDt } from './lifecycle-helpers.js';

const HEXECHO = `${FIXTURES}/hexecho.mjs`;
/** futex(2)'s number: /proc/PID/syscall starts with it while the main thread waits in Atomics.wait. */
const FUTEX_SYSCALL = process.arch === 'arm64' ? 98 : 202;
const RAWWRITE = `${FIXTURES}/rawwrite.mjs`;

let sandbox: Sandbox;
/** The environment of a client whose stty waits at the gate until openGate(). */
let gatedPath: NodeJS.ProcessEnv;
let gate: string;
beforeEach(() => {
  sandbox = new Sandbox();
  const realStty = execFileSync('/bin/sh', ['-c', 'command -v stty'], { encoding: 'latin1' }).trim();
  gate = sandbox.path('gate');
  execFileSync('mkfifo', [gate]);
  const bin = sandbox.path('gated-bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(`${bin}/stty`, `#!/bin/sh\nread line < "${gate}"\nexec "${realStty}" "$@"\n`, { mode: 0o755 });
  gatedPath = { PATH: `${bin}:${process.env.PATH}` };
});

/**
 * Lets the stty waiting at the gate go on. The FIFO is opened without blocking: that fails
 * (ENXIO) until stty has opened it to read, and a test never hangs on a gate nobody waits at.
 */
async function openGate(): Promise<void> {
  await waitUntil(() => {
    let fd: number;
    try {
      fd = fs.openSync(gate, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENXIO') return false;
      throw error;
    }
    try {
      fs.writeSync(fd, 'go\n');
    } finally {
      fs.closeSync(fd);
    }
    return true;
  }, 'stty to wait at its gate');
}

/** The log's text so far; empty until the master has created it. */
function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** True while the process's main thread waits in futex(2): a client that leaves waits so for stty. */
function waitingInFutex(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/syscall`, 'latin1').startsWith(`${FUTEX_SYSCALL} `);
  } catch {
    return false;
  }
}
afterEach(async () => {
  await sandbox.teardown();
});

/**
 * A session started with `dt -n` running node with `program`; resolves with its socket once
 * the master has read the program's first line (it logs it with -L), when the program prints
 * one: read before anyone attached, it is discarded. Read after, its \r would hold back
 * everything that follows until stty has ended, which is what the tests wait for first.
 */
async function detachedSession(program: string[], printsFirstLine = false): Promise<string> {
  const socket = sandbox.path('s');
  const log = sandbox.path('out.log');
  const created = await runDt(['-n', socket, '-L', log, process.execPath, ...program], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  await sandbox.trackMaster(socket);
  if (printsFirstLine) await waitUntil(() => readLog(log).includes('\n'), `the program's first line in ${log}`);
  return socket;
}

describe('while stty is still at work', () => {
  it('holds the session\'s output back from its first \\n: a bare \\n the program writes at attach time stays 0a', async () => {
    sandbox.leavesMaster('the writer never ends; teardown kills the session');
    // The program writes all the time, so output reaches the client with the session's first answer.
    const socket = await detachedSession([RAWWRITE, '--repeat', Buffer.from('BEGIN>A\nB<END').toString('hex')], true);
    const term = sandbox.dt(['-a', socket, '-r', 'none'], { env: gatedPath });
    await waitForChildNamed(term.pid, 'stty');
    // Output has reached the client while stty waits: shown up to its first \n, the rest held.
    await term.waitFor('BEGIN>A');
    await openGate();
    let from = 0;
    for (let part = 0; part < 3; part++) from = await term.waitFor('<END', { from });
    // The program writes no \r after its first line, which was read before the attach: any \r
    // came from the terminal's ONLCR.
    const shown = term.output.subarray(0, from).toString('latin1');
    expect(shown, JSON.stringify(shown)).not.toContain('\r');
    expect(shown).toContain('BEGIN>A\nB<END');
  });

  it('shows the output up to its first byte post-processing could change (\\n here) at once; the rest once stty has ended', async () => {
    sandbox.leavesMaster('the program waits on; teardown kills the session');
    const early = 'SHOWN AT ONCE \x1b[1;2H';
    // Raw itself, the program answers each of the first two keys with one write; the file
    // `ready` says it is raw.
    const script = "stty raw -echo; : > ready; head -c 1 >/dev/null; printf 'FIRST '; head -c 1 >/dev/null; " +
      "printf 'SHOWN AT ONCE \\033[1;2H\\nheld'; exec cat >/dev/null";
    const socket = await detachedSession(['-e', `require('node:child_process').spawnSync('/bin/sh', ['-c', ${JSON.stringify(script)}], { stdio: 'inherit' })`]);
    await waitUntil(() => fs.existsSync(sandbox.path('ready')), 'the program to be in raw mode');
    const term = sandbox.dt(['-a', socket, '-r', 'none'], { env: gatedPath });
    const stty = await waitForChildNamed(term.pid, 'stty');
    term.write('k');
    const first = await term.waitFor('FIRST ');
    // Typed once the first answer is shown: the second comes in a read of its own.
    term.write('j');
    const shown = await term.waitFor(early, { from: first });
    // stty cannot have ended: it waits at the gate.
    expect(hasEnded(stty)).toBe(false);
    await openGate();
    await term.waitFor('held', { from: shown });
    // The rest was held until then: its \n reached the terminal bare, not as ONLCR's \r\n.
    expect(term.text).toBe(`${TITLE_SAVE}FIRST ${early}\nheld`);
  });

  it('passes a key typed as the client starts to the program exactly once', async () => {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO], true);
    const term = sandbox.dt(['-a', socket, '-r', 'none'], { env: gatedPath });
    // Typed before the client has even started: the terminal holds it, cooked, until raw mode.
    term.write('k');
    await waitForChildNamed(term.pid, 'stty');
    // Answered while stty waits: shown up to its first lowercase letter (OLCUC could change it).
    await term.waitFor('HEX 6');
    await openGate();
    const from = await term.waitFor('HEX 6b\r');
    term.write('z');
    await term.waitFor('HEX 7a\r', { from });
    expect(hexReceived(term.text)).toBe('6b7a');
  });

  /**
   * A client attached from a shell to a hexecho session, its stty started and waiting at the
   * gate; and the modes of a fresh terminal, which the shell must have again after it.
   */
  async function shellClientAtStty(): Promise<{ fresh: string; term: Term; client: number; stty: number }> {
    sandbox.leavesMaster('hexecho runs on; teardown kills the session');
    const socket = await detachedSession([HEXECHO], true);
    const fresh = await freshTerminalModes(sandbox);
    const term = clientUnderShell(socket);
    const client = await waitForChildNamed(term.pid, 'node');
    const stty = await waitForChildNamed(client, 'stty');
    return { fresh, term, client, stty };
  }

  it('detaches at once on the detach key, prints its status line in raw mode, and restores the terminal after stty', async () => {
    const { fresh, term, client, stty } = await shellClientAtStty();
    term.write('\x1c');
    // Leaving, the client waits (a second at most) for stty before it writes its status line:
    // stty is let go only once it waits, so the detach key came while stty was at work.
    await waitUntil(() => waitingInFutex(client) || hasEnded(client), 'the client to wait for stty');
    await openGate();
    const { shown, status, modes } = await shellReport(term, stty);
    expect(status).toBe(0);
    expect(shown).toMatch(statusLinePattern('[detached]'));
    // Printed with output processing off: the line ends in exactly \r\n, not \r\r\n.
    expect(shown).not.toContain('\r\r\n');
    expect(modes).toBe(fresh);
  });

  it('restores the terminal when it is terminated, after stopping stty', async () => {
    const { fresh, term, client, stty } = await shellClientAtStty();
    process.kill(client, 'SIGTERM');
    const { status, modes } = await shellReport(term, stty);
    expect(status).toBe(128 + 15);
    expect(modes).toBe(fresh);
  });

  it('gives up on an stty that hangs after its wait, and stops it: the terminal it restored stays restored', async () => {
    const { fresh, term, stty } = await shellClientAtStty();
    // The gate stays shut: stty never gets to work, and would make the terminal raw whenever it did.
    term.write('\x1c');
    const { shown, status, modes } = await shellReport(term, stty);
    expect(status).toBe(0);
    expect(shown).toMatch(/\[detached\]/);
    expect(modes).toBe(fresh);
  });
});

/**
 * `dt -a` run by a shell, with the gated stty first in PATH. Once dt has ended the shell prints
 * STATUS, then waits for a line before it prints MODES (with the real stty, which the wrapper
 * would only delay): the terminal's modes are read once the stty dt started is gone, so that
 * one that outlived dt would be seen.
 */
function clientUnderShell(socket: string): Term {
  const script = `"${process.execPath}" "${DT}" -a "${socket}" -r none; echo "STATUS $?"; read line; PATH="${process.env.PATH}"; echo "MODES $(stty -g)"`;
  return sandbox.run('/bin/sh', ['-c', script], { env: gatedPath });
}

/** What dt showed, its exit status, and the terminal's modes once `stty` (a pid) has ended. */
async function shellReport(term: Term, stty: number): Promise<{ shown: string; status: number; modes: string }> {
  const end = await term.waitFor(/STATUS \d+\r\n/);
  await waitUntil(() => hasEnded(stty), `stty (pid ${stty}) to end`);
  term.write('\r');
  await term.waitFor(/MODES \S+\r\n/, { from: end });
  const text = term.text;
  const status = /STATUS (\d+)\r\n/.exec(text)!;
  return { shown: text.slice(0, status.index), status: Number(status[1]), modes: /MODES (\S+)\r\n/.exec(text.slice(end))![1]! };
}
