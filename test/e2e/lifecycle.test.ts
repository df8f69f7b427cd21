// Session lifecycle, part 1: creating, attaching, detaching, the master's independence from
// terminals (own session, no inherited descriptors, hangups) and the socket's mode bits.
// See lifecycle-modes.test.ts (-A, -N, program end) and lifecycle-push.test.ts (-p, paths).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, FIXTURES, Sandbox, childPids, isAlive, processState, waitUntil, type Term } from './harness.js';
import {
  HEXECHO, descriptorTargets, expectStatusLine, hexReceived, isSocketFile, killTracked, modeOf, procStat, run, runDt, runInTerminal,
  sessionInfo, trackPid, waitForClients, waitForMode,
} from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** A session started with -n running hexecho; returns its master's and program's pids. */
async function startDetachedHexecho(socket: string): Promise<{ masterPid: number; programPid: number }> {
  const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  return { masterPid, programPid };
}

/** Attaches with -a and proves the attachment works by a keystroke round trip. */
async function attachAndType(socket: string, key: string): Promise<Term> {
  const term = sandbox.dt(['-a', socket]);
  term.write(key);
  // The key may share a read with the ^L the master sends to redraw the program.
  await term.until(() => hexReceived(term).includes(key), `hexecho to receive ${JSON.stringify(key)}`);
  return term;
}

it('dt -c shows the creating client the output the program printed before anyone attached', async () => {
  sandbox.leavesMaster('only what the creating client shows is checked');
  const socket = sandbox.path('s');
  const term = sandbox.dt(['-c', socket, 'sh', '-c', 'printf FIRST; exec cat']);
  const afterFirst = await term.waitFor('FIRST');
  // The master holds the program's output in its pty until the creating client attached:
  // FIRST reaches the screen whole and once, before anything typed.
  expect(term.text.split('FIRST')).toHaveLength(2);
  term.write('typed\r');
  // The terminal echoes the line, then cat repeats it.
  await term.waitFor('typed\r\ntyped\r\n', { from: afterFirst });
  await sandbox.trackMaster(socket);
});

it('dt -n returns at once with status 0, leaves a private socket, and -a attaches to it later', async () => {
  const socket = sandbox.path('s');
  const { masterPid, programPid } = await startDetachedHexecho(socket);
  expect(isSocketFile(socket)).toBe(true);
  // srw------- : nobody else may connect, and no client is attached (owner-execute clear).
  expect(modeOf(socket)).toBe(0o600);
  expect(isAlive(masterPid) && isAlive(programPid)).toBe(true);

  const term = await attachAndType(socket, 'x');
  const from = term.text.length;
  term.write('yz');
  // The keys may reach the program in one read or two.
  await term.until(() => hexReceived(term, from).includes('yz'), 'hexecho to receive "yz"');
});

it('dt -n from a terminal leaves a master with no controlling terminal and no descriptor of it', async () => {
  sandbox.leavesMaster('the master descriptors are checked while it runs');
  const socket = sandbox.path('s');
  const creator = sandbox.dt(['-n', socket, ...HEXECHO]);
  expect((await creator.waitForExit()).exitCode).toBe(0);
  const masterPid = await sandbox.trackMaster(socket);
  const master = procStat(masterPid);
  expect(master.ttyNr).toBe(0);
  // setsid: the master leads a session of its own, not the terminal's (led by the creator).
  expect(master.session).toBe(masterPid);
  expect(master.session).not.toBe(creator.pid);
  // node-pty knows its terminal's device name but does not declare it in its types.
  const creatorTty = (creator.pty as unknown as { ptsName: string }).ptsName;
  expect(creatorTty).toMatch(/^\/dev\/pts\/\d+$/);
  expect(descriptorTargets(masterPid)).not.toContain(creatorTty);
});

it('dt -n with stdout and stderr on pipes returns and the pipes reach end of file', async () => {
  const socket = sandbox.path('s');
  // stdout is a named pipe, so that its identity can be looked for among the master's
  // descriptors; stderr is an anonymous pipe, which runDt reads until end of file.
  const fifo = sandbox.path('stdout.fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writer = fs.openSync(fifo, fs.constants.O_WRONLY);
  try {
    const created = await runDt(['-n', socket, ...HEXECHO], { cwd: sandbox.dir, stdout: writer });
    expect(created).toMatchObject({ code: 0, stderr: '' });
    fs.closeSync(writer);
    // With our write end closed, the named pipe reads as end of file only if no other
    // process (the master, the program) holds a write end of it.
    await waitUntil(() => readIsEndOfFile(reader), 'the stdout pipe to reach end of file');
    const masterPid = await sandbox.trackMaster(socket);
    const { programPid } = await sessionInfo(socket);
    trackPid(programPid);
    expect(descriptorTargets(masterPid)).not.toContain(fifo);
    expect(descriptorTargets(programPid)).not.toContain(fifo);
  } finally {
    fs.closeSync(reader);
  }
});

it('dt -n does not pass on descriptors it inherited beyond stdio (a shell\'s 200>&1, a held lock)', async () => {
  const socket = sandbox.path('s');
  // bash hands fd 200, a copy of the stdout pipe, to dt without close-on-exec. If the master
  // or the program kept it, the pipe would never reach end of file and run() would time out.
  const created = await runDtViaShell(`exec 200>&1; exec "$0" "$@"`, ['-n', socket, ...HEXECHO]);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  for (const pid of [masterPid, programPid]) {
    expect(fs.existsSync(`/proc/${pid}/fd/200`)).toBe(false);
  }
});

/** Runs `bash -c script node bin/dt ...args` on pipes, until the pipes reach end of file. */
function runDtViaShell(script: string, args: string[]): ReturnType<typeof runDt> {
  return run('/bin/bash', ['-c', script, process.execPath, DT, ...args], { cwd: sandbox.dir });
}

function readIsEndOfFile(fd: number): boolean {
  try {
    return fs.readSync(fd, Buffer.alloc(64)) === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return false; // a writer is still open
    throw error;
  }
}

it('the master runs in a session of its own and a SIGHUP does not end it', async () => {
  sandbox.leavesMaster('the master must survive SIGHUP: that is what is checked');
  const socket = sandbox.path('s');
  const client = sandbox.dt(['-c', socket, ...HEXECHO]);
  await client.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  expect(procStat(client.pid).session).toBe(client.pid);
  expect(procStat(masterPid).session).toBe(masterPid);

  process.kill(masterPid, 'SIGHUP');
  // A round trip through the master runs its event loop, so the signal has been handled.
  const from = client.text.length;
  client.write('h');
  await client.waitFor('HEX 68\r', { from });
  expect(isAlive(masterPid)).toBe(true);
});

/** Whether a terminal device can be opened: not once it has hung up (EIO). */
function opens(device: string): boolean {
  try {
    fs.closeSync(fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_NOCTTY));
    return true;
  } catch {
    return false;
  }
}

/** Closes a terminal window: its master side is destroyed and the kernel hangs up its side. */
function closeTerminal(term: Term): void {
  (term.pty as unknown as { destroy(): void }).destroy();
}

/** Closes `term`'s window and waits until the terminal that process `pid` reads from has hung up. */
async function hangUpTerminalOf(term: Term, pid: number): Promise<void> {
  const terminal = fs.readlinkSync(`/proc/${pid}/fd/0`);
  closeTerminal(term);
  await waitUntil(() => !opens(terminal), `${terminal} to hang up`);
}

/**
 * `dt -a socket` run by a shell that ignores SIGHUP (so that the hangup reaches the client
 * from its terminal only), its stderr and exit status kept in files; `report` waits for them.
 */
function clientUnderHangupIgnoringShell(socket: string, env?: NodeJS.ProcessEnv): { client: Term; report: () => Promise<{ status: string; stderr: string }> } {
  const stderrFile = sandbox.path('client.stderr');
  const statusFile = `${stderrFile}.status`;
  const script = 'trap "" HUP; "$@" 2>"$0"; echo "$?" >"$0.status"';
  const client = sandbox.run('sh', ['-c', script, stderrFile, process.execPath, DT, '-a', socket], { env });
  const report = async (): Promise<{ status: string; stderr: string }> => {
    await waitUntil(() => fs.existsSync(statusFile) && fs.readFileSync(statusFile, 'utf8').endsWith('\n'), 'the client to exit');
    return { status: fs.readFileSync(statusFile, 'utf8'), stderr: fs.readFileSync(stderrFile, 'utf8') };
  };
  return { client, report };
}

/** Ways a client's terminal goes away, and how the client must end; after each the session lives on. */
const hangups: Array<[string, (term: Term) => void, { exitCode: number; signal: number }]> = [
  ['the client is killed (SIGKILL)', (term) => term.kill('SIGKILL'), { exitCode: 0, signal: 9 }],
  ['the client receives SIGHUP', (term) => term.kill('SIGHUP'), { exitCode: 129, signal: 0 }],
  // Exit 129, as for SIGHUP: not an abort (SIGABRT) while giving back a terminal that is gone.
  ['the terminal is closed (its master side destroyed)', closeTerminal, { exitCode: 129, signal: 0 }],
];

for (const [how, hangUp, expectedExit] of hangups) {
  it(`the program keeps running and can be attached again when ${how}`, async () => {
    const socket = sandbox.path('s');
    const { masterPid, programPid } = await startDetachedHexecho(socket);
    const first = await attachAndType(socket, 'a');
    await waitForMode(socket, 0o700);

    hangUp(first);
    // The wait status as the kernel reported it to the terminal's owner (node-pty's waitpid).
    expect(await first.waitForExit()).toEqual(expectedExit);
    await waitUntil(() => !isAlive(first.pid), `the client (pid ${first.pid}) to be gone`);
    // The master saw the client go: no client is attached any more.
    await waitForMode(socket, 0o600);
    expect(isAlive(masterPid) && isAlive(programPid)).toBe(true);

    await attachAndType(socket, 'b');
  });
}

it('a client whose terminal is closed leaves quietly: status 129, nothing on stderr', async () => {
  const socket = sandbox.path('s');
  await startDetachedHexecho(socket);
  const stderrFile = sandbox.path('client.stderr');
  const client = runInTerminal(sandbox, stderrFile, process.execPath, [DT, '-a', socket]);
  client.write('q');
  await client.until(() => hexReceived(client).includes('q'), 'the client to be attached');
  closeTerminal(client);
  expect(await client.waitForExit()).toEqual({ exitCode: 129, signal: 0 });
  // Not Node's "Assertion failed" and native stack trace, nor anything else.
  expect(fs.readFileSync(stderrFile, 'utf8')).toBe('');
  await waitForClients(socket, 0);
});

it('a client whose terminal is closed leaves even when no SIGHUP reaches it: status 129, nothing on stderr', async () => {
  const socket = sandbox.path('s');
  await startDetachedHexecho(socket);
  // The kernel sends SIGHUP to the session's leader alone: a leader that survives the hangup
  // (here a shell that ignores it) sends none on to its job. The client then learns of the
  // hangup from its terminal only, whose reads end (read(2) returns 0), as dtach's client does.
  const { client, report } = clientUnderHangupIgnoringShell(socket);
  client.write('q');
  await client.until(() => hexReceived(client).includes('q'), 'the client to be attached');
  closeTerminal(client);
  expect(await report()).toEqual({ status: '129\n', stderr: '' });
  await waitForClients(socket, 0);
});

it('a client whose terminal hangs up before its code has loaded ends without a crash', async () => {
  const socket = sandbox.path('s');
  await startDetachedHexecho(socket);
  // Node notes at its start which of stdin, stdout and stderr are terminals, and puts their
  // settings back as it exits: a terminal gone by then made it abort (SIGABRT, a core dump).
  const { client, report } = clientUnderHangupIgnoringShell(socket, { NODE_OPTIONS: `--require ${FIXTURES}/stop-at-start.cjs` });
  let clientPid = 0;
  await waitUntil(() => {
    clientPid = childPids(client.pid)[0] ?? 0;
    return clientPid > 0 && processState(clientPid) === 'T';
  }, 'the client to stop as it starts');
  await hangUpTerminalOf(client, clientPid);
  process.kill(clientPid, 'SIGCONT');
  // No terminal to attach from: said to a stderr that is a file here.
  expect(await report()).toEqual({ status: '1\n', stderr: 'dt: Attaching to a session requires a terminal.\n' });
  await waitForClients(socket, 0);
});

/**
 * A client attaching to a new session, held by `fixture` (test/fixtures/hold-*.cjs) at a chosen
 * moment until the file named by its `holdVariable` exists: its terminal hangs up there, and
 * it goes on. Resolves with its report; the session has no client left.
 */
async function hangUpWhileHeld(fixture: string, holdVariable: string, moment: string, env: Record<string, string> = {}) {
  const socket = sandbox.path('s');
  await startDetachedHexecho(socket);
  const hold = sandbox.path('hold');
  const { client, report } = clientUnderHangupIgnoringShell(socket, {
    NODE_OPTIONS: `--require ${FIXTURES}/${fixture}`, [holdVariable]: hold, ...env,
  });
  await waitUntil(() => fs.existsSync(`${hold}.waiting`), `the client to be held ${moment}`);
  await hangUpTerminalOf(client, childPids(client.pid)[0]!);
  fs.writeFileSync(hold, '');
  const reported = await report();
  await waitForClients(socket, 0);
  return reported;
}

it('a client whose terminal hangs up as it connects, before the connection is made, ends with status 129', async () => {
  // Held right after connect(2), before its event loop learns that the connection is made: it
  // then learns of the hangup first, and gave up a connection still being made.
  expect(await hangUpWhileHeld('hold-after-connect.cjs', 'HOLD_AFTER_CONNECT_FILE', 'after its connect'))
    .toEqual({ status: '129\n', stderr: '' });
});

for (const [fd, stream] of [[0, 'its input stream'], [1, 'its output stream (process.stdout)']] as const) {
  it(`a client whose terminal hangs up after it was checked, before Node makes ${stream} of it, ends with status 129, quietly`, async () => {
    // Held as the stream of descriptor fd is made: the terminal answered isatty(3) then, and no
    // longer does when libuv takes it (Node's ERR_TTY_INIT_FAILED).
    const moment = `as it makes ${stream}`;
    expect(await hangUpWhileHeld('hold-terminal-stream.cjs', 'HOLD_TERMINAL_STREAM_FILE', moment, { HOLD_TERMINAL_STREAM_FD: String(fd) }))
      .toEqual({ status: '129\n', stderr: '' });
  });
}

it('a client whose terminal hangs up as it exits exits with its own status, without a crash', async () => {
  const socket = sandbox.path('s');
  await startDetachedHexecho(socket);
  const hold = sandbox.path('hold');
  const { client, report } = clientUnderHangupIgnoringShell(socket, {
    NODE_OPTIONS: `--require ${FIXTURES}/hold-at-exit.cjs`, HOLD_AT_EXIT_FILE: hold,
  });
  client.write('q');
  await client.until(() => hexReceived(client).includes('q'), 'the client to be attached');
  const terminal = fs.readlinkSync(`/proc/${childPids(client.pid)[0]!}/fd/0`);
  client.write('\x1c');
  await waitUntil(() => fs.existsSync(`${hold}.waiting`), 'the client to be held as it exits');
  // Gone after the client let go of it, before Node puts back the settings of the terminals it
  // started on: Node's refused tcsetattr(3) was an abort (SIGABRT, "Assertion failed").
  closeTerminal(client);
  await waitUntil(() => !opens(terminal), `${terminal} to hang up`);
  fs.writeFileSync(hold, '');
  expect(await report()).toEqual({ status: '0\n', stderr: '' });
  await waitForClients(socket, 0);
});

it('a client whose terminal is closed while output pours in leaves quietly too: status 129, nothing on stderr', async () => {
  const socket = sandbox.path('s');
  const created = await runDt(['-n', socket, 'sh', '-c', 'while :; do seq 1 100000; done'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stderr: '' });
  await sandbox.trackMaster(socket);
  trackPid((await sessionInfo(socket)).programPid);
  // The terminal may go while the client writes to it (EIO) before the hangup signal is seen:
  // a race, so several tries.
  const outcomes: string[] = [];
  for (let attempt = 0; attempt < 6; attempt++) {
    const stderrFile = sandbox.path(`client${attempt}.stderr`);
    const client = runInTerminal(sandbox, stderrFile, process.execPath, [DT, '-a', socket]);
    await client.until(() => client.text.length > 64 * 1024, 'output to pour in');
    closeTerminal(client);
    const { exitCode, signal } = await client.waitForExit();
    outcomes.push(`status ${exitCode}, signal ${signal}, stderr ${JSON.stringify(fs.readFileSync(stderrFile, 'utf8').split('\n')[0])}`);
  }
  expect(outcomes).toEqual(Array(6).fill('status 129, signal 0, stderr ""'));
  await waitForClients(socket, 0);
});

it('the socket is owner-executable exactly while at least one client is attached', async () => {
  const socket = sandbox.path('s');
  await startDetachedHexecho(socket);
  expect(modeOf(socket)).toBe(0o600);

  const first = await attachAndType(socket, '1');
  await waitForMode(socket, 0o700);
  const second = await attachAndType(socket, '2');

  first.write('\x1c');
  expect((await first.waitForExit()).exitCode).toBe(0);
  await waitForClients(socket, 1);
  expect(modeOf(socket)).toBe(0o700);

  second.write('\x1c');
  expect((await second.waitForExit()).exitCode).toBe(0);
  await waitForMode(socket, 0o600);
  await waitForClients(socket, 0);
  expect(modeOf(socket)).toBe(0o600);
});

it('detaching prints [detached] at the bottom, exits 0 and leaves the program running', async () => {
  const socket = sandbox.path('s');
  const { masterPid, programPid } = await startDetachedHexecho(socket);
  const term = await attachAndType(socket, 'd');
  const before = term.text.length;
  term.write('\x1c');
  expect((await term.waitForExit()).exitCode).toBe(0);
  expectStatusLine(term.text.slice(before), '[detached]');
  // The detach key itself never reached the program.
  expect(term.text).not.toContain('HEX 1c');
  expect(isAlive(masterPid) && isAlive(programPid)).toBe(true);

  const again = await attachAndType(socket, 'e');
  expect(again.text).not.toContain('HEX 1c');
});
