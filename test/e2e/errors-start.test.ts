// Errors before any session exists: a program that cannot be executed, attaching without a
// terminal, and command lines that cannot be understood. Each: the message on stderr, the
// exit status, and nothing left behind. dtach 0.9 runs alongside where it has the same case.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, FIXTURES, ROOT, Sandbox, copyBuiltDt, isAlive, processState, waitUntil } from './harness.js';
import {
  DTACH, HAVE_DTACH, HEXECHO, expectNoMasterLeft, killTracked, listSessions, run, runDt, runInTerminal, sessionInfo, trackPid, waitForClients,
} from './lifecycle-helpers.js';

if (!HAVE_DTACH) console.warn(`errors-start.test.ts: no ${DTACH} (Debian package dtach); the comparisons with dtach 0.9 are skipped`);

let sandbox: Sandbox;
const cleanups: Array<() => void | Promise<void>> = [];
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await sandbox.teardown();
});

function entries(): string[] {
  return fs.readdirSync(sandbox.dir).filter((name) => !name.endsWith('.stderr')).sort();
}

async function dtachExitCode(args: string[]): Promise<number | null> {
  return HAVE_DTACH ? (await run(DTACH, args, { cwd: sandbox.dir })).code : null;
}

/** Programs that exist in no runnable form, and the reason execvp(3) would give. */
function unrunnablePrograms(): Array<{ what: string; program: string; reason: string }> {
  fs.writeFileSync(sandbox.path('not-executable'), '#!/bin/sh\necho never\n', { mode: 0o644 });
  fs.mkdirSync(sandbox.path('a-directory'));
  return [
    { what: 'a missing file', program: '/nonexistent/program', reason: 'No such file or directory' },
    { what: 'a file without execute permission', program: './not-executable', reason: 'Permission denied' },
    { what: 'a directory', program: './a-directory', reason: 'Permission denied' },
  ];
}

it('-n with a program that cannot be executed fails at once, status 1, and leaves no socket or master', async () => {
  for (const { what, program, reason } of unrunnablePrograms()) {
    const socket = sandbox.path('s');
    const before = entries();
    const result = await runDt(['-n', socket, program, 'arg'], { cwd: sandbox.dir });
    expect({ what, ...result }).toEqual({ what, code: 1, signal: null, stdout: '', stderr: `dt: could not execute ${program}: ${reason}\n` });
    expect(fs.existsSync(socket)).toBe(false);
    expect(entries()).toEqual(before);
    await expectNoMasterLeft(sandbox);

    if (HAVE_DTACH) {
      const dtachSocket = sandbox.path('dtach-s');
      expect({ what, code: await dtachExitCode(['-n', dtachSocket, program, 'arg']) }).toEqual({ what, code: result.code });
      await waitUntil(() => !fs.existsSync(dtachSocket), `dtach to remove ${dtachSocket}`);
    }
  }
});

it('a command on a session name that fails makes no session directory: a missing session, a program that cannot be executed', async () => {
  const env = sandbox.env();
  const socket = `${sandbox.sessionDir}/work`;
  const failures: Array<{ args: string[]; stderr: string }> = [
    { args: ['-a', 'work'], stderr: TERMINAL_REQUIRED },
    { args: ['-p', 'work'], stderr: `dt: ${socket}: No such file or directory\n` },
    { args: ['-k', 'work'], stderr: `dt: ${socket}: No such file or directory\n` },
    { args: ['-w', 'work'], stderr: `dt: ${socket}: No such file or directory\n` },
    { args: ['-F', 'work'], stderr: `dt: ${socket}: no ended session is kept for this socket\n` },
    { args: ['-n', 'work', '/nonexistent/program'], stderr: 'dt: could not execute /nonexistent/program: No such file or directory\n' },
    { args: ['-N', 'work', '/nonexistent/program'], stderr: 'dt: could not execute /nonexistent/program: No such file or directory\n' },
  ];
  for (const { args, stderr } of failures) {
    expect({ args, ...await runDt(args, { cwd: sandbox.dir, env }) }).toEqual({ args, code: 1, signal: null, stdout: '', stderr });
    expect(fs.existsSync(sandbox.sessionDir), args.join(' ')).toBe(false);
  }
  // -c and -A, in a terminal: they get as far as starting the program.
  for (const mode of ['-c', '-A']) {
    const stderrFile = sandbox.path('dt.stderr');
    const term = runInTerminal(sandbox, stderrFile, process.execPath, [DT, mode, 'work', '/nonexistent/program']);
    expect((await term.waitForExit()).exitCode, mode).toBe(1);
    expect(fs.readFileSync(stderrFile, 'utf8'), mode).toBe('dt: could not execute /nonexistent/program: No such file or directory\n');
    expect(fs.existsSync(sandbox.sessionDir), mode).toBe(false);
  }
  await expectNoMasterLeft(sandbox);
});

it('a session directory made by a command that then fails is kept, private: removing it would let another user make it again', async () => {
  const env = sandbox.env();
  // A name longer than a directory entry: the directory is made, binding the socket fails.
  const long = 'n'.repeat(256);
  expect(await runDt(['-n', long, ...HEXECHO], { cwd: sandbox.dir, env })).toEqual({
    code: 1, signal: null, stdout: '', stderr: `dt: ${sandbox.sessionDir}/${long}: File name too long\n`,
  });
  const stat = fs.lstatSync(sandbox.sessionDir);
  expect({ directory: stat.isDirectory(), mode: stat.mode & 0o777, owner: stat.uid, entries: fs.readdirSync(sandbox.sessionDir) })
    .toEqual({ directory: true, mode: 0o700, owner: process.getuid!(), entries: [] });
  await expectNoMasterLeft(sandbox);
});

it('-n with a script whose interpreter is missing fails at once like the others', async () => {
  // access(2) says the script is executable; only execve(2) finds that #! names nothing.
  const script = sandbox.path('bad-interpreter');
  fs.writeFileSync(script, '#!/nonexistent/interpreter\necho never\n', { mode: 0o755 });
  const socket = sandbox.path('s');
  const result = await runDt(['-n', socket, './bad-interpreter'], { cwd: sandbox.dir });
  expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'dt: could not execute ./bad-interpreter: No such file or directory\n' });
  expect(fs.existsSync(socket)).toBe(false);
  if (HAVE_DTACH) expect(await dtachExitCode(['-n', sandbox.path('dtach-s'), './bad-interpreter'])).toBe(result.code);
});

it('run from a directory that was removed, dt says so, status 1, and creates nothing', async () => {
  // A shell left in a directory that was removed since (rm -rf build, a removed worktree).
  const removed = sandbox.path('removed');
  const inRemoved = (args: string[]) => run('/bin/sh', ['-c', 'rmdir "$PWD" && exec "$0" "$@"', process.execPath, DT, ...args], {
    cwd: removed, env: sandbox.env(),
  });
  const said = 'dt: the current directory was removed: cd to one that exists\n';
  for (const args of [['-n', 'name', 'true'], ['-n', sandbox.path('s'), 'true'], ['-n', './s', 'true'], ['-p', './s']]) {
    fs.mkdirSync(removed);
    expect(await inRemoved(args), args.join(' ')).toMatchObject({ code: 1, stdout: '', stderr: said });
  }
  expect(entries()).toEqual([]);
  await expectNoMasterLeft(sandbox);
});

it('run from a directory whose path is longer than PATH_MAX, dt says so, status 1, and creates nothing', async () => {
  // 18 levels of 250-byte names: 4.5 KB, beyond Linux's 4096, reached one level at a time
  // (cd -P: dash would chdir(2) to the whole logical path, which is too long).
  const deep = sandbox.path('deep');
  // Node's fs.rmSync names every file by its whole path, too long here; rm(1) walks the tree.
  cleanups.push(() => { execFileSync('rm', ['-rf', deep]); });
  const enter = `cd "$0" && for i in $(seq 18); do mkdir -p ${'d'.repeat(250)} && cd -P ${'d'.repeat(250)} || exit 99; done`;
  const inDeep = (script: string, args: string[] = []) => run('/bin/sh', ['-c', `${enter} && ${script}`, deep, ...args], {
    cwd: sandbox.dir, env: sandbox.env(),
  });
  fs.mkdirSync(deep);
  const said = "dt: the current directory's path is longer than the system allows (PATH_MAX)\n";
  for (const args of [['-n', 'name', 'true'], ['-n', './s', 'true'], ['-p', './s']]) {
    expect(await inDeep('exec "$@"', [process.execPath, DT, ...args]), args.join(' ')).toMatchObject({ code: 1, stdout: '', stderr: said });
  }
  expect(await inDeep('ls -A')).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect(entries()).toEqual(['deep']);
  await expectNoMasterLeft(sandbox);
});

it('dt -a NAME from a directory that was removed attaches: a named session needs no current directory', async () => {
  expect(await runDt(['-n', 'work', ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(`${sandbox.sessionDir}/work`);
  const removed = sandbox.path('removed');
  fs.mkdirSync(removed);
  const stderrFile = sandbox.path('dt.stderr');
  const attached = sandbox.run('/bin/sh', ['-c', 'rmdir "$PWD" && exec "$@" 2>"$0"', stderrFile, process.execPath, DT, '-a', 'work', '-r', 'none'], { cwd: removed });
  attached.write('x');
  await attached.waitFor('HEX 78');
  attached.write('\x1c');
  expect((await attached.waitForExit()).exitCode).toBe(0);
  expect(fs.readFileSync(stderrFile, 'utf8')).toBe('');
  expect(await runDt(['-k', 'work', 'TERM'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
  await waitUntil(() => !isAlive(masterPid), 'the master to end with its program');
});

it('-c with a program that cannot be executed fails in the terminal, status 1, and leaves no socket', async () => {
  const socket = sandbox.path('s');
  const stderrFile = sandbox.path('dt.stderr');
  const term = runInTerminal(sandbox, stderrFile, process.execPath, [DT, '-c', socket, '/nonexistent/program']);
  expect((await term.waitForExit()).exitCode).toBe(1);
  expect(fs.readFileSync(stderrFile, 'utf8')).toBe('dt: could not execute /nonexistent/program: No such file or directory\n');
  expect(fs.existsSync(socket)).toBe(false);
  await expectNoMasterLeft(sandbox);
});

const TERMINAL_REQUIRED = 'dt: Attaching to a session requires a terminal.\n';
/** What sshd puts in the environment of every session, with a terminal (ssh -t) or without; SSH_TTY only with one. */
const SSH_SESSION = { SSH_CONNECTION: '192.0.2.1 50022 192.0.2.2 22', SSH_CLIENT: '192.0.2.1 50022 22', SSH_TTY: undefined };
/** Run where these tests run: the suite itself may be run over ssh. */
const NOT_OVER_SSH = { SSH_CONNECTION: undefined, SSH_CLIENT: undefined, SSH_TTY: undefined };

/** A running session (hexecho), its master and program tracked: what -a without a terminal must not attach to. */
async function startLiveSession(): Promise<string> {
  const live = sandbox.path('live');
  expect((await runDt(['-n', live, process.execPath, `${FIXTURES}/hexecho.mjs`], { cwd: sandbox.dir })).code).toBe(0);
  await sandbox.trackMaster(live);
  trackPid((await sessionInfo(live)).programPid);
  return live;
}

it('-a, -A and -c without a terminal refuse with status 1 and create or disturb nothing', async () => {
  // A live session, to prove that -a without a terminal does not attach to it either.
  const live = await startLiveSession();
  const before = entries();
  const fresh = sandbox.path('fresh');

  for (const args of [['-a', live], ['-A', fresh, 'sh', '-c', 'echo ran > ran'], ['-c', fresh, 'sh', '-c', 'echo ran > ran']]) {
    const result = await runDt(args, { cwd: sandbox.dir, input: 'typed', env: NOT_OVER_SSH });
    expect({ args, ...result }).toEqual({ args, code: 1, signal: null, stdout: '', stderr: TERMINAL_REQUIRED });
    if (HAVE_DTACH) {
      const dtachArgs = args.map((arg) => (arg === live || arg === fresh ? sandbox.path('dtach-s') : arg));
      expect({ args, code: await dtachExitCode(dtachArgs) }).toEqual({ args, code: result.code });
    }
  }
  expect(entries()).toEqual(before);
  await waitForClients(live, 0);
});

it('-a, -A and -c without a terminal in an ssh session (ssh host dt ..., no -t) say, after dtach\'s words, to run ssh -t; status 1, nothing created', async () => {
  const live = await startLiveSession();
  const before = entries();
  const fresh = sandbox.path('fresh');
  const { SSH_CONNECTION, SSH_CLIENT } = SSH_SESSION;
  // Either variable is enough: older sshd set only SSH_CLIENT, and some setups pass on only one.
  const environments = [SSH_SESSION, { ...NOT_OVER_SSH, SSH_CONNECTION }, { ...NOT_OVER_SSH, SSH_CLIENT }];
  for (const env of environments) {
    for (const args of [['-a', live], ['-A', fresh, 'sh', '-c', 'echo ran > ran'], ['-c', fresh, 'sh', '-c', 'echo ran > ran']]) {
      const result = await runDt(args, { cwd: sandbox.dir, input: 'typed', env });
      expect({ args, env, ...result }).toEqual({
        args, env, code: 1, signal: null, stdout: '', stderr: `${TERMINAL_REQUIRED}dt: over ssh, run ssh -t so that dt gets a terminal\n`,
      });
    }
  }
  expect(entries()).toEqual(before);
  await waitForClients(live, 0);
});

it('-a without a terminal in an ssh session that has one (its input redirected) says dtach\'s words alone: ssh -t would change nothing', async () => {
  const live = await startLiveSession();
  const result = await runDt(['-a', live], { cwd: sandbox.dir, input: 'typed', env: { ...SSH_SESSION, SSH_TTY: '/dev/pts/3' } });
  expect(result).toEqual({ code: 1, signal: null, stdout: '', stderr: TERMINAL_REQUIRED });
  await waitForClients(live, 0);
});

/** Command lines dt cannot understand, and the first line of what it says. */
const BAD_COMMAND_LINES: Array<{ args: string[]; message: string }> = [
  { args: [], message: 'No mode was specified.' },
  { args: ['-x', 's'], message: "Invalid mode '-x'" },
  { args: ['-n'], message: 'No socket was specified.' },
  { args: ['-n', 's'], message: 'No command was specified.' },
  { args: ['-a', 's', '-q'], message: "Invalid option '-q'" },
  { args: ['-a', 's', '-e'], message: 'No escape character specified.' },
  { args: ['-a', 's', '-r', 'sometimes'], message: 'Invalid redraw method specified.' },
  { args: ['-n', 's', '-r', 'sometimes', 'true'], message: 'Invalid redraw method specified.' },
];

it('bad command lines: the reason and a hint on stderr, status 2, nothing created', async () => {
  const before = entries();
  for (const { args, message } of BAD_COMMAND_LINES) {
    const result = await runDt(args, { cwd: sandbox.dir });
    expect({ args, ...result }).toEqual({
      args, code: 2, signal: null, stdout: '', stderr: `dt: ${message}\nTry 'dt --help' for more information.\n`,
    });
    // dtach reports these with status 1; dt uses 2, the usual status for usage errors.
    // They agree that it is a failure.
    const dtachCode = await dtachExitCode(args);
    if (dtachCode !== null) expect({ args, dtachCode }).toEqual({ args, dtachCode: 1 });
  }
  expect(entries()).toEqual(before);
});

/** Command lines of dt's own modes and options (dtach has none to compare with), and what dt says. */
const BAD_DT_COMMAND_LINES: Array<{ args: string[]; env?: Record<string, string>; message: string }> = [
  { args: ['-a', 's', 'extra'], message: 'Invalid number of arguments.' },
  { args: ['-a', 's', '--bogus'], message: "Invalid option '--bogus'" },
  { args: ['-a', 's', '-e', 'ab'], message: "Invalid escape character 'ab': the detach character must be one byte: an ASCII character, or ^X for Ctrl-X." },
  { args: ['-a', 's', '-e', 'é'], message: "Invalid escape character 'é': 'é' is not ASCII (2 bytes in UTF-8); the detach character must be one byte: an ASCII character, or ^X for Ctrl-X." },
  { args: ['-a', 's', '-L', 'log'], message: 'The -L option applies only to a new session (-c, -n, -N, -A).' },
  { args: ['-n', 's', '-L', '', 'sh'], message: 'No log file specified.' },
  { args: ['-n', 's', '-L', 'log', 'sh'], env: { DT_LOG_LIMIT: '12' }, message: "Invalid DT_LOG_LIMIT '12': a size of at least 1K, such as 512K or 16M." },
  { args: ['-n', '..', 'sh'], message: "Invalid session name '..' (for a file of that name in the current directory, write ./..)" },
  { args: ['-k', 's', 'NOPE'], message: "Invalid signal 'NOPE'" },
  { args: ['-w', 's', 'extra'], message: 'Invalid number of arguments.' },
];

it('bad command lines of dt\'s own modes and options: the reason and a hint on stderr, status 2, nothing created', async () => {
  const before = entries();
  for (const { args, env, message } of BAD_DT_COMMAND_LINES) {
    const result = await runDt(args, { cwd: sandbox.dir, env: { ...sandbox.env(), ...env } });
    expect({ args, ...result }).toEqual({
      args, code: 2, signal: null, stdout: '', stderr: `dt: ${message}\nTry 'dt --help' for more information.\n`,
    });
  }
  expect(entries()).toEqual(before);
  expect(fs.existsSync(sandbox.sessionDir)).toBe(false);
  await expectNoMasterLeft(sandbox);
});

/** Ways a new session's -L can be refused, and what dt says (FILE is made absolute). */
const BAD_LOGS: Array<{ what: string; log: string; env: Record<string, string>; status: number; message: (file: string) => string }> = [
  {
    what: 'a bad DT_LOG_LIMIT', log: 'log.txt', env: { DT_LOG_LIMIT: 'bogus' }, status: 2,
    message: () => "dt: Invalid DT_LOG_LIMIT 'bogus': a size of at least 1K, such as 512K or 16M.\nTry 'dt --help' for more information.\n",
  },
  {
    what: 'a FILE in a missing directory', log: 'missing/log.txt', env: {}, status: 1,
    message: (file) => `dt: ${file}: No such file or directory\n`,
  },
  {
    // notes.txt is a regular file the test makes.
    what: 'a FILE under a regular file', log: 'notes.txt/log.txt', env: {}, status: 1,
    message: (file) => `dt: ${file}: Not a directory\n`,
  },
];

it('-c, -n and -A NAME with a -L that is refused: the reason, the status, and no session directory, socket, log file or record; -A that attaches ignores it', async () => {
  fs.writeFileSync(sandbox.path('notes.txt'), 'kept');
  const before = entries();
  for (const mode of ['-c', '-n', '-A']) {
    for (const { what, log, env, status, message } of BAD_LOGS) {
      const stderrFile = sandbox.path(`${mode}.stderr`);
      // In a terminal, as a user runs them: -c and -A would refuse to run without one.
      const term = sandbox.run('sh', ['-c', 'exec "$@" 2>"$0"', stderrFile, process.execPath, DT, mode, 'work', '-L', log, ...HEXECHO],
        { env });
      expect({ mode, what, status: (await term.waitForExit()).exitCode }).toEqual({ mode, what, status });
      expect({ mode, what, stderr: fs.readFileSync(stderrFile, 'utf8') }).toEqual({ mode, what, stderr: message(sandbox.path(log)) });
      // The session directory (DT_DIR), the log file and the registry (XDG_STATE_HOME) would all be in the sandbox.
      expect({ mode, what, entries: entries() }).toEqual({ mode, what, entries: before });
      await expectNoMasterLeft(sandbox);
    }
  }
  expect(fs.existsSync(sandbox.sessionDir)).toBe(false);

  // -A that attaches ignores -L, as documented, and so its refusals.
  expect(await runDt(['-n', 'work', ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await sandbox.trackMaster(`${sandbox.sessionDir}/work`);
  const attached = sandbox.dt(['-A', 'work', '-r', 'none', '-L', 'log.txt', ...HEXECHO], { env: BAD_LOGS[0]!.env });
  attached.write('x');
  await attached.waitFor('HEX 78');
  attached.write('\x1c');
  expect((await attached.waitForExit()).exitCode).toBe(0);
  expect(fs.existsSync(sandbox.path('log.txt'))).toBe(false);
  expect(await runDt(['-k', 'work', 'TERM'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0 });
  await waitUntil(() => !isAlive(masterPid), 'the master to end with its program');
});

/**
 * A process-count cgroup (v1's pids controller) of this test's own, or undefined when there
 * is none it may make (not root, read-only, cgroup v2 only).
 */
const NO_PIDS_CGROUP = 'no cgroup v1 pids controller this test may use (/sys/fs/cgroup/pids, as root)';

function makePidsCgroup(): string | undefined {
  const group = `/sys/fs/cgroup/pids/dt-test-${process.pid}`;
  try {
    fs.mkdirSync(group);
  } catch {
    return undefined;
  }
  cleanups.push(() => removePidsCgroup(group));
  return group;
}

/** Ends what is left in the test's cgroup (only this test put processes there), then removes it. */
async function removePidsCgroup(group: string): Promise<void> {
  for (const pid of fs.readFileSync(`${group}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // ESRCH: it ended meanwhile.
    }
  }
  // rmdir(2) fails with EBUSY until the killed processes are gone.
  await waitUntil(() => fs.readFileSync(`${group}/cgroup.procs`, 'utf8').trim() === '', `the processes in ${group} to be gone`, 5_000);
  fs.rmdirSync(group);
}

it('-n when no process can be created (fork fails: the process limit is reached): the reason, status 1, and no socket, log, record or master', async (context) => {
  const group = makePidsCgroup();
  if (group === undefined) return context.skip(NO_PIDS_CGROUP);
  const socket = sandbox.path('s');
  const before = entries();
  // dt runs in the cgroup, stopped once Node has started; the limit is then what it has, so
  // that its next process (the master) cannot be made. Root's RLIMIT_NPROC would not hold.
  const created = createInCgroup(group, socket);
  const pid = await stoppedProcessIn(group, 'dt to start in the cgroup and stop');
  fs.writeFileSync(`${group}/pids.max`, fs.readFileSync(`${group}/pids.current`, 'utf8').trim());
  process.kill(pid, 'SIGCONT');
  expect(await created).toEqual({
    code: 1, signal: null, stdout: '', stderr: `dt: ${socket}: cannot start the session: no process could be created\n`,
  });
  expect(Number(fs.readFileSync(`${group}/pids.events`, 'utf8').match(/max (\d+)/)?.[1])).toBeGreaterThan(0);
  expect(entries()).toEqual(before);
  await expectNoMasterLeft(sandbox);
  expect(await listSessions(sandbox, true)).toEqual([]);
});

it('-n whose environment exec(2) refuses the master (Argument list too long): the reason, status 1, and no socket, log, record or master', async () => {
  const socket = sandbox.path('s');
  const before = entries();
  // 50,000 bytes that are not UTF-8: dt starts with them, but Node passes each on to the
  // master as U+FFFD, 3 bytes, and 150,000 bytes is more than exec(2) takes in one variable (128 KiB).
  const script = 'export BIG="$(head -c 50000 /dev/zero | tr "\\0" "\\377")"; exec "$@"';
  const created = await run('sh', ['-c', script, 'sh', process.execPath, DT, '-n', socket, '-L', 'log.txt', ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toEqual({
    code: 1, signal: null, stdout: '', stderr: `dt: ${socket}: cannot start the session: Argument list too long (its environment is too large)\n`,
  });
  expect(entries()).toEqual(before);
  await expectNoMasterLeft(sandbox);
  expect(await listSessions(sandbox, true)).toEqual([]);
});

it('-n with too few descriptors left to start the master (ulimit -n): that reason, not a process limit, status 1, and nothing left', async () => {
  const socket = sandbox.path('s');
  const before = entries();
  // The limit below which dt can listen but not make the master's pipes depends on Node:
  // raised one by one until the session starts. Lower, dt cannot make the socket, and lower
  // still Node itself cannot start (its own words, not dt's; Node 20 dies of SIGSEGV, before any
  // of dt runs, with 17 or fewer: no core dump, which would land in the sandbox).
  const said: string[] = [];
  const saidByDt: string[] = [];
  for (let limit = 16; limit <= 64; limit++) {
    const created = await run('sh', ['-c', `ulimit -c 0 && ulimit -n ${limit} && exec "$@"`, 'sh', process.execPath, DT, '-n', socket, '-L', 'log.txt', '/bin/sh', '-c', 'read line'], { cwd: sandbox.dir, env: sandbox.env() });
    if (created.code === 0) break;
    if (created.stderr.startsWith(`dt: ${socket}: cannot start the session: `)) said.push(created.stderr);
    if (created.stderr.startsWith('dt: ')) saidByDt.push(created.stderr);
    expect(entries()).toEqual(before);
  }
  await sandbox.trackMaster(socket);
  expect(said.length, 'no limit at which only the master could not be started').toBeGreaterThan(0);
  expect(new Set(said)).toEqual(new Set([`dt: ${socket}: cannot start the session: Too many open files (ulimit -n)\n`]));
  // Whatever dt could not make for want of a descriptor (the socket, the log), it names the limit.
  for (const message of saidByDt) expect(message).toMatch(/: Too many open files \(ulimit -n\)\n$/);
  expect((await runDt(['-p', socket], { cwd: sandbox.dir, env: sandbox.env(), input: 'go\n' })).code).toBe(0);
});

/** `dt -n socket -L log.txt hexecho` run in `group`, each Node process of it stopped as it starts (stop-at-start.cjs). */
function createInCgroup(group: string, socket: string): ReturnType<typeof run> {
  return run('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', group, process.execPath, DT, '-n', socket, '-L', 'log.txt', ...HEXECHO], {
    cwd: sandbox.dir,
    env: { ...sandbox.env(), NODE_OPTIONS: `--require ${FIXTURES}/stop-at-start.cjs` },
  });
}

/** The first process in a cgroup, once it is stopped (by stop-at-start.cjs). */
async function stoppedProcessIn(group: string, what: string): Promise<number> {
  let pid = 0;
  await waitUntil(() => {
    pid = Number(fs.readFileSync(`${group}/cgroup.procs`, 'utf8').trim().split('\n')[0] ?? 0);
    return pid > 0 && processState(pid) === 'T';
  }, what);
  return pid;
}

it('-n whose master can create no process for the program (the process limit is reached): dt -l, dt -k and dt -a say so, status 1, nothing is left', async (context) => {
  const group = makePidsCgroup();
  if (group === undefined) return context.skip(NO_PIDS_CGROUP);
  const socket = sandbox.path('s');
  const before = entries();
  // Each Node process stops as it starts: the creating command is let go; its master, alone in
  // the cgroup once the command has returned, gets a limit of what it has.
  const created = createInCgroup(group, socket);
  process.kill(await stoppedProcessIn(group, 'dt -n to start in the cgroup and stop'), 'SIGCONT');
  expect(await created).toMatchObject({ code: 0, stderr: '' });
  const masterPid = await stoppedProcessIn(group, 'the master to start and stop');
  sandbox.addMaster(masterPid);
  fs.writeFileSync(`${group}/pids.max`, fs.readFileSync(`${group}/pids.current`, 'utf8').trim());
  process.kill(masterPid, 'SIGCONT');
  await waitUntil(() => !fs.existsSync(socket), 'the failed master to remove its socket');
  await expectNoMasterLeft(sandbox);
  expect(Number(fs.readFileSync(`${group}/pids.events`, 'utf8').match(/max (\d+)/)?.[1])).toBeGreaterThan(0);

  const reason = `could not start ${process.execPath}: no process could be created (forkpty(3) failed)`;
  expect(await listSessions(sandbox, true)).toMatchObject([{ socket, state: 'failed', note: reason }]);
  // dt -k says why there is no session, and leaves the reason for dt -a.
  expect(await runDt(['-k', socket], { cwd: sandbox.dir, env: sandbox.env() }))
    .toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: the session's program could not be started: ${reason}\n` });
  expect(await runDt(['-a', socket], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${socket}: ${reason}\n` });
  expect(await listSessions(sandbox, true)).toEqual([]);
  // No socket and no log (the master made the registry's directory: the session was listed).
  expect(entries().filter((entry) => entry !== 'state')).toEqual(before);
});

it('a checkout whose bundle was never built (npm ci --ignore-scripts) says so, status 1, no stack trace', async () => {
  const root = sandbox.path('unbuilt');
  fs.mkdirSync(root);
  fs.cpSync(path.join(path.dirname(DT)), path.join(root, 'bin'), { recursive: true });
  const result = await run(process.execPath, [path.join(root, 'bin', 'dt'), '--version'], { cwd: sandbox.dir });
  expect(result).toMatchObject({
    code: 1,
    stdout: '',
    stderr: `dt: ${path.join(root, 'dist', 'dt.js')} is missing: build it with \`npm run build\` in ${root}\n`,
  });
});

/**
 * A copy of dt (bin/ and dist/, dt's terminal binding and every other package of this
 * checkout) whose node-pty has no build/: an install made with `npm ci --ignore-scripts`.
 * node-pty's lib/ is copied, not linked, so that it looks for its binding in the copy.
 */
function copyWithoutPtyBinding(): string {
  const root = copyBuiltDt(sandbox.path('unbuilt'));
  const modules = path.join(ROOT, 'node_modules');
  const pty = path.join(root, 'node_modules', 'node-pty');
  fs.mkdirSync(pty, { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'build'), path.join(root, 'build'));
  for (const name of fs.readdirSync(modules)) {
    if (name !== 'node-pty') fs.symlinkSync(path.join(modules, name), path.join(root, 'node_modules', name));
  }
  for (const name of fs.readdirSync(path.join(modules, 'node-pty'))) {
    if (name === 'build') continue;
    const from = path.join(modules, 'node-pty', name);
    if (name === 'lib' || name === 'package.json') fs.cpSync(from, path.join(pty, name), { recursive: true });
    else fs.symlinkSync(from, path.join(pty, name));
  }
  return root;
}

/** The sockets bound under the sandbox, as the kernel lists them (/proc/net/unix). */
function boundSockets(): string[] {
  return fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/)[7] ?? '').filter((file) => file.startsWith(`${sandbox.dir}/`));
}

/** Nothing of a session: no socket (in the directory or the kernel's table), no session directory, no record, no master. */
async function expectNothingLeft(before: string[]): Promise<void> {
  // A failed master may still be ending: its socket is bound until it has.
  await expectNoMasterLeft(sandbox);
  expect(entries().filter((entry) => entry !== 'state')).toEqual(before);
  expect(boundSockets()).toEqual([]);
  expect(await listSessions(sandbox, true)).toEqual([]);
}

it('without node-pty\'s binding (never built), -n, -N, -c and -A NAME say so and how to build it, status 1, and leave nothing', async () => {
  const root = copyWithoutPtyBinding();
  const dt = path.join(root, 'bin', 'dt');
  const before = entries();
  const said = `dt: cannot start the session: node-pty cannot be loaded: ${root}/node_modules/node-pty/build/Release/pty.node: No such file or directory\n` +
    `dt: build it with \`npm rebuild\` in ${root}; that needs Python 3, make and a C++ compiler\n`;
  for (const mode of ['-n', '-N']) {
    const result = await run(process.execPath, [dt, mode, 'work', '/bin/sh'], { cwd: sandbox.dir, env: sandbox.env() });
    expect({ mode, ...result }).toEqual({ mode, code: 1, signal: null, stdout: '', stderr: said });
  }
  for (const mode of ['-c', '-A']) {
    const stderrFile = sandbox.path('dt.stderr');
    const term = runInTerminal(sandbox, stderrFile, process.execPath, [dt, mode, 'work', '/bin/sh']);
    expect({ mode, status: (await term.waitForExit()).exitCode }).toEqual({ mode, status: 1 });
    expect({ mode, said: fs.readFileSync(stderrFile, 'utf8') }).toEqual({ mode, said });
  }
  await expectNothingLeft(before);
});

it('with a node-pty binding that does not load, the master says why: -c, -A and -N status 1, -n a failed entry that dt -a reports; nothing left', async () => {
  const root = copyWithoutPtyBinding();
  const dt = path.join(root, 'bin', 'dt');
  const binding = path.join(root, 'node_modules', 'node-pty', 'build', 'Release', 'pty.node');
  fs.mkdirSync(path.dirname(binding), { recursive: true });
  fs.writeFileSync(binding, 'not a shared object\n'.repeat(20));
  const before = entries();
  // dlopen(3)'s words for the file follow its name.
  const reason = new RegExp(`^cannot start the session: node-pty cannot be loaded: ${binding}: [^\\n]+ ` +
    `\\(build it with \`npm rebuild\` in ${root}; that needs Python 3, make and a C\\+\\+ compiler\\)$`);
  // A socket path: the session directory of a name is made before dt -N, the master, loads node-pty.
  const foreground = await run(process.execPath, [dt, '-N', sandbox.path('s-N'), '/bin/sh'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(foreground).toMatchObject({ code: 1, stdout: '' });
  expect(foreground.stderr.replace(/^dt: /, '').trimEnd()).toMatch(reason);
  for (const mode of ['-c', '-A']) {
    const socket = sandbox.path(`s${mode}`);
    const stderrFile = sandbox.path('dt.stderr');
    const term = runInTerminal(sandbox, stderrFile, process.execPath, [dt, mode, socket, '/bin/sh']);
    expect({ mode, status: (await term.waitForExit()).exitCode }).toEqual({ mode, status: 1 });
    const said = fs.readFileSync(stderrFile, 'utf8');
    expect(said.startsWith(`dt: ${socket}: `), said).toBe(true);
    expect(said.slice(`dt: ${socket}: `.length).trimEnd()).toMatch(reason);
    await waitUntil(() => !fs.existsSync(socket), `the failed master to remove ${socket}`);
  }
  await expectNothingLeft(before);
  // dt -n has returned before the master loads node-pty: the session is listed as failed, with the reason.
  const socket = sandbox.path('s');
  expect(await run(process.execPath, [dt, '-n', socket, '/bin/sh'], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => !fs.existsSync(socket), `the failed master to remove ${socket}`);
  await expectNoMasterLeft(sandbox);
  const [listed] = await listSessions(sandbox, true) as Array<{ socket: string; state: string; note: string }>;
  expect(listed).toMatchObject({ socket, state: 'failed' });
  expect(listed!.note).toMatch(reason);
  const attached = await runDt(['-a', socket], { cwd: sandbox.dir, env: sandbox.env() });
  expect(attached).toMatchObject({ code: 1, stdout: '' });
  expect(attached.stderr.slice(`dt: ${socket}: `.length).trimEnd()).toMatch(reason);
  await expectNothingLeft(before);
});
