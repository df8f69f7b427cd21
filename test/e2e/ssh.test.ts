// Real SSH drops: a real sshd on loopback (test/e2e/sshd.ts), a real ssh client in a node-pty
// terminal, dt run on the far side as a user runs it (`ssh -t host dt -A work vim`). The
// connection is then dropped as it really drops: the ssh client killed, its sshd process
// killed, the `~.` escape. Each time the dt client on the server must end (checked by pid),
// the master and the program run on, `dt -l` says so, and a new `ssh -t host dt -a` gets the
// program back, its screen and modes judged by xterm.js, with nothing typed into it on the
// user's behalf. (A client stopped until the server's keepalive gives up ends the connection
// as a killed sshd process does, but only after 2 to 4 s of sshd's own timer: not here.) The
// whole file skips, saying why, where sshd is not installed, or where an sshd run by a user
// other than root cannot give a session a terminal.

import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FIXTURES, Sandbox, checkPattern, hexReceived, isAlive, masterInfo, patternBytes, socketCount, waitForNoEcho, waitForViewers, waitUntil,
  type Term,
} from './harness.js';
import { listSessions, runDt } from './lifecycle-helpers.js';
import { screenOf, waitForScreen, type Screen } from '../screen.js';
import { SSH, Sshd, remoteDt, shellQuote, sshUnavailable } from './sshd.js';

const HEXECHO = `${FIXTURES}/hexecho.mjs`;
const PATTERN = `${FIXTURES}/pattern.mjs`;

const unavailable = sshUnavailable();
const VIM = ['/usr/bin/vim', '/bin/vim'].find((file) => fs.existsSync(file));

let sshd: Sshd;
let sandbox: Sandbox;
/** Every dt client seen running for an ssh connection in this test: none may outlive it. */
let remoteClients: Set<number>;

interface Connection {
  term: Term;
  screen: Screen;
}

/** The environment dt gets on the far side, given explicitly: sshd starts a session with a fresh one. */
function remoteEnv(): NodeJS.ProcessEnv {
  return {
    ...sandbox.env(), XDG_RUNTIME_DIR: sandbox.path('xdg'), HOME: sandbox.dir, LANG: 'C.UTF-8', HISTFILE: '', HEXECHO_EXIT_ON_EOT: '1',
  };
}

/** `ssh [-t] host dt ...args` in a new terminal, with a screen watching it. */
function ssh(args: string[], options: { tty: boolean }): Connection {
  const term = sandbox.run(SSH, sshd.sshArgs(remoteDt(sandbox.dir, remoteEnv(), args), options));
  return { term, screen: screenOf(term) };
}

/** `ssh host dt ...args` without a terminal, as a script runs it: its exit status and what it printed. */
async function sshScript(args: string[], stdin?: string): Promise<{ status: number; output: string }> {
  const remote = remoteDt(sandbox.dir, remoteEnv(), args).map(shellQuote).join(' ');
  const term = sandbox.run(SSH, sshd.sshArgs(['sh', '-c', stdin === undefined ? remote : `printf %s '${stdin}' | ${remote}`], { tty: false }));
  const { exitCode } = await term.waitForExit();
  return { status: exitCode, output: term.text };
}

/** The one dt client running on the server for an ssh connection, once it runs. */
async function remoteClient(): Promise<number> {
  let clients: number[] = [];
  await waitUntil(() => (clients = sshd.dtClients()).length === 1, 'one dt client on the server').catch((error: Error) => {
    throw new Error(`${error.message} (running: ${clients.join(', ') || 'none'})\n--- sshd's log ---\n${sshd.transcript.slice(-2000)}`);
  });
  remoteClients.add(clients[0]!);
  return clients[0]!;
}

/** What `dt -l --json` says of the session `name` (the server's registry is the sandbox's). */
async function listed(name: string): Promise<{ state: string; clients?: number }> {
  const sessions = await listSessions(sandbox, true) as { name?: string; state: string; clients?: number }[];
  const session = sessions.find((entry) => entry.name === name);
  expect(session, JSON.stringify(sessions)).toBeDefined();
  return session!;
}

const showing = (...texts: string[]) => (screen: Screen): boolean => texts.every((text) => screen.text.includes(text));

describe.skipIf(unavailable !== undefined)(`over a real ssh connection${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => { sshd = await Sshd.start(); });
  afterAll(async () => {
    const connections = sshd?.connections() ?? [];
    await sshd?.stop();
    expect(connections, 'ssh connections still open after the last test').toEqual([]);
  });
  beforeEach(() => {
    sandbox = new Sandbox();
    remoteClients = new Set();
  });
  afterEach(async () => {
    // Looked at before teardown: it ends the programs, and a client that never noticed its
    // connection drop would then end by the program's exit, unseen.
    const leftBehind = [...remoteClients].filter(isAlive);
    await sandbox.teardown();
    await waitUntil(() => sshd.connections().length === 0, 'the ssh connections to close', 5_000);
    expect(leftBehind, 'dt clients left behind on the server').toEqual([]);
  });

  it.skipIf(VIM === undefined)(`the ssh client killed while vim is in insert mode: vim runs on, and ssh -t host dt -a brings it back${VIM ? '' : ' (skipped: vim is not installed; .ci/run installs it)'}`, async () => {
    const file = sandbox.path('notes.txt');
    const first = ssh(['-A', 'work', VIM!, file], { tty: true });
    await waitForScreen(first.screen, showing('[New]'), 'vim started on a new file');
    first.term.write('i');
    await waitForScreen(first.screen, showing('-- INSERT --'), 'vim in insert mode');
    first.term.write('typed over ssh');
    await waitForScreen(first.screen, showing('typed over ssh'), 'the text typed');
    const modesBefore = first.screen.modes;
    expect(modesBefore).toMatchObject({ buffer: 'alternate', bracketedPaste: true });
    expect(modesBefore.mouseTracking).not.toBe('none');
    const client = await remoteClient();
    const socket = `${sandbox.sessionDir}/work`;
    const master = await sandbox.trackMaster(socket);
    const { programPid } = await masterInfo(socket);

    process.kill(first.term.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(client), `the dt client ${client} on the server to end`);
    expect(isAlive(master) && isAlive(programPid), 'the master and vim alive').toBe(true);
    expect(await listed('work')).toMatchObject({ state: 'detached', clients: 0 });

    const again = ssh(['-a', 'work'], { tty: true });
    await waitForScreen(again.screen, showing('typed over ssh', '-- INSERT --'), 'vim\'s screen after the reattach');
    await waitForScreen(again.screen, (screen) => JSON.stringify(screen.modes) === JSON.stringify(modesBefore),
      `the modes vim had set: ${JSON.stringify(modesBefore)}`);
    await remoteClient();
    again.term.write(' and after\x1b:wq\r');
    expect((await again.term.waitForExit()).exitCode).toBe(0);
    expect(again.term.text).toMatch(/\[program exited with status 0\]\r\n/);
    // Exactly what was typed: the drop and the reattach typed nothing.
    expect(fs.readFileSync(file, 'latin1')).toBe('typed over ssh and after\n');
  });

  const DROPS: [string, (connection: Connection) => void][] = [
    ['its sshd process is killed', () => {
      const [perConnection] = sshd.connections();
      process.kill(perConnection!, 'SIGKILL');
    }],
    ['the ~. escape', (connection) => connection.term.write('~.')],
  ];

  it.each(DROPS)('the connection drops (%s): the client on the server ends, the program gets only what was typed', async (_how, drop) => {
    const first = ssh(['-A', 'work', process.execPath, HEXECHO], { tty: true });
    await first.term.waitFor('READY');
    first.term.write('abc\r');
    await first.term.waitFor(/HEX 616263(0d)?\r/);
    const client = await remoteClient();
    const socket = `${sandbox.sessionDir}/work`;
    const master = await sandbox.trackMaster(socket);

    drop(first);
    await waitUntil(() => !isAlive(client), `the dt client ${client} on the server to end`);
    expect(isAlive(master)).toBe(true);
    expect(await listed('work')).toMatchObject({ state: 'detached', clients: 0 });

    const again = ssh(['-a', 'work', '-r', 'none'], { tty: true });
    await remoteClient();
    await waitForViewers(socket, 1);
    again.term.write('z\x04');
    expect((await again.term.waitForExit()).exitCode).toBe(0);
    const received = hexReceived(first.term.text) + hexReceived(again.term.text);
    expect(received).toBe('6162630d7a04');
  });

  it('a drop in the middle of an output burst: the viewer that stays gets every byte, and the log all of them', async () => {
    const TOTAL = 4 * 1024 * 1024;
    const log = sandbox.path('burst.log');
    expect((await sandbox.dt(['-n', 'burst', '-L', log, process.execPath, PATTERN, String(TOTAL)], { env: { PATTERN_STAY: '1' } }).waitForExit()).exitCode).toBe(0);
    const socket = `${sandbox.sessionDir}/burst`;
    await sandbox.trackMaster(socket);
    const stays = sandbox.dt(['-a', socket, '-r', 'none']);
    const staysCheck = checkPattern(stays);
    const remote = ssh(['-a', 'burst', '-r', 'none'], { tty: true });
    let remoteBytes = 0;
    remote.term.onOutput((chunk) => { remoteBytes += chunk.length; });
    const client = await remoteClient();
    await waitForViewers(socket, 2);
    await waitForNoEcho(socket);

    stays.write('g');
    await waitUntil(() => remoteBytes > 512 * 1024, 'half a MiB through ssh');
    process.kill(remote.term.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(client), `the dt client ${client} on the server to end`);
    await waitUntil(() => staysCheck.ended, 'the viewer that stays to receive the whole stream');
    expect(staysCheck.matched).toBe(TOTAL);
    expect(staysCheck.tail).toBe(`END ${TOTAL}\n`);
    expect(remoteBytes).toBeLessThan(TOTAL);
    stays.write('x');
    expect((await stays.waitForExit()).exitCode).toBe(0);
    // The status waits for the log's last writes: the log is whole once a client has it.
    const logged = fs.readFileSync(log);
    expect(logged.length).toBe(TOTAL + `END ${TOTAL}\n`.length);
    expect(logged.subarray(0, TOTAL).equals(patternBytes(0, TOTAL))).toBe(true);
  });

  it('scripts without -t: dt -n returns, dt -p types; the status of a program that ended meanwhile comes back with ssh -t host dt -a', async () => {
    const started = await sshScript(['-n', 'job', 'sh', '-c', 'read line; printf %s "$line" > got; exit 7']);
    expect(started).toEqual({ status: 0, output: '' });
    const master = await sandbox.trackMaster(`${sandbox.sessionDir}/job`);
    expect(await sshScript(['-p', 'job'], 'typed by a script\n')).toEqual({ status: 0, output: '' });
    await waitUntil(() => !isAlive(master), 'the program to end, and its master');
    expect(fs.readFileSync(sandbox.path('got'), 'latin1')).toBe('typed by a script');

    const attached = ssh(['-a', 'job'], { tty: true });
    expect((await attached.term.waitForExit()).exitCode).toBe(7);
    expect(attached.term.text).toMatch(/\[program exited with status 7\] at .*, while detached\r\n$/);
    expect(await listSessions(sandbox, true), 'the status, reported and forgotten').toEqual([]);
  });

  it('a waiter run without -t whose connection drops goes, and leaves the program\'s status kept', async () => {
    expect(await runDt(['-n', 'job', 'sh', '-c', 'read line; exit 7'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
    const socket = `${sandbox.sessionDir}/job`;
    const master = await sandbox.trackMaster(socket);
    await waitUntil(() => socketCount(master) === 1, 'the master to hold its listening socket alone');

    const waiter = ssh(['-w', 'job'], { tty: false });
    const client = await remoteClient();
    // Connected: it has taken note of its parent, which it tells apart from the one that adopts it.
    await waitUntil(() => socketCount(master) === 2, 'the waiter to connect (the master\'s listening socket and one connection)');
    process.kill(waiter.term.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(client), `the waiter ${client} on the server to end`);

    expect(await runDt(['-p', 'job'], { cwd: sandbox.dir, env: sandbox.env(), input: 'go\n' })).toMatchObject({ code: 0 });
    await waitUntil(() => !isAlive(master), 'the program to end, and its master');
    expect(await listed('job')).toMatchObject({ state: 'exited' });
    expect(await runDt(['-w', 'job'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 7, stderr: '' });
  });
});
