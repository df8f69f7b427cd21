// The kernel's limits and words, met exactly: a command line as long as exec(2) accepts,
// socket paths and names longer than a socket address can hold, and words that are not UTF-8
// (arguments, argv[0], the socket path, the working directory). What the program receives is
// read from outside, in /proc.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exactByteLength } from '../../src/common/bytes.js';
import { computeExecLimits, readExecLimits } from '../../src/common/exec-limits.js';
import { programLaunch, withTerminalDefaults } from '../../src/common/program-launch.js';
import { DT, Sandbox, waitUntil, type Term } from './harness.js';
import { HEXECHO, expectStatusLine, hexReceived, killTracked, listSessions, run, runDt, sessionInfo, trackPid, waitForClients } from './lifecycle-helpers.js';

/** sun_path: a socket address holds a path of at most this many bytes. */
const MAX_SOCKET_ADDRESS_BYTES = 107;
/** NAME_MAX: the longest name a directory entry can have. */
const MAX_NAME_BYTES = 255;

/** exec(2) refuses a single argument of this many bytes or more (MAX_ARG_STRLEN, with its NUL). */
const MAX_ARGUMENT_BYTES = 128 * 1024;

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** A program's argv as the kernel holds it. */
function commandLineOf(pid: number): Buffer {
  return fs.readFileSync(`/proc/${pid}/cmdline`);
}

it('a command line as long as exec accepts reaches the program whole: 1 MiB, the longest argument, 20,000 words', async () => {
  const socket = sandbox.path('s');
  const longest = 'x'.repeat(MAX_ARGUMENT_BYTES - 1);
  const words = Array.from({ length: 20_000 }, (_, index) => `word-${index}`);
  // sh waits on `read`, so its argv stays as dt gave it.
  const command = ['sh', '-c', 'read line', 'sh', ...Array<string>(7).fill(longest), ...words];
  const created = await runDt(['-n', socket, ...command], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  await waitUntil(() => commandLineOf(programPid).length > MAX_ARGUMENT_BYTES, 'the program to be exec-ed');
  const expected = Buffer.from(`${command.join('\0')}\0`);
  expect(expected.length).toBeGreaterThan(1024 * 1024);
  // argv[0] too is as given ("sh", not the path exec found).
  expect(commandLineOf(programPid).equals(expected)).toBe(true);
  // The session describes itself within a frame's limit: dt -l shows it live.
  const listed = await runDt(['-l', '--json'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect((JSON.parse(listed.stdout) as Array<{ state: string }>).map((session) => session.state)).toEqual(['detached']);
});

// node-pty's fork makes a handle for every word and variable; unmended, it read its result from
// freed memory past about 2,000 of them and the master crashed as it started the program.
// MALLOC_PERTURB_ makes malloc scribble on all freed memory: then it crashed every time.
it('a command of thousands of words, or thousands of variables, starts every time, freed memory scribbled on', async () => {
  const words = Array.from({ length: 3_000 }, (_, index) => `word-${index}`);
  const variables = Object.fromEntries(Array.from({ length: 3_000 }, (_, index) => [`DT_TEST_${index}`, 'v']));
  // A word that is not UTF-8 (caf\xe9, which Node cannot pass: the shell that runs dt adds
  // it) takes the route through /bin/sh, where every word is one more.
  const addLatin1Word = ['sh', '-c', 'exec "$@" "$(printf "caf\\351")"', 'sh'];
  const cases = [
    { name: 'words', command: ['sh', '-c', 'read line', 'sh', ...words], env: {}, through: [], last: [] },
    { name: 'variables', command: ['sh', '-c', 'read line'], env: variables, through: [], last: [] },
    { name: 'through-sh', command: ['sh', '-c', 'read line', 'sh', ...words], env: {}, through: addLatin1Word, last: [bytes('caf\xe9')] },
  ];
  for (const { name, command, env, through, last } of cases) {
    const socket = sandbox.path(name);
    const [file, ...args] = [...through, process.execPath, DT, '-n', socket, ...command];
    const created = await run(file!, args, { cwd: sandbox.dir, env: { ...sandbox.env(), ...env, MALLOC_PERTURB_: '165' } });
    expect(created, name).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await sandbox.trackMaster(socket);
    const { programPid } = await sessionInfo(socket);
    trackPid(programPid);
    const expected = Buffer.concat([...command.map(utf8), ...last].map((word) => Buffer.concat([word, Buffer.of(0)])));
    await waitUntil(() => commandLineOf(programPid).equals(expected), `${name}: the program to be exec-ed with its words`);
  }
});

it('through /bin/sh too (a word is not UTF-8), 20,000 words reach the program exactly, and a word of 128 KiB that is not UTF-8', async () => {
  const socket = sandbox.path('s');
  const words = Array.from({ length: 20_000 }, (_, index) => `word-${index}`);
  // The longest word exec takes, every byte of it not UTF-8: the heaviest the route carries.
  const longest = Buffer.alloc(MAX_ARGUMENT_BYTES - 1, 0xe9);
  fs.writeFileSync(sandbox.path('longest'), longest);
  // Node cannot pass such words: the shell that runs dt adds them (caf\xe9, and the longest read from a file).
  const addWords = 'longest=$(cat longest; echo .); exec "$@" "$(printf "caf\\351")" "${longest%.}"';
  const command = ['sh', '-c', 'read line', 'sh', ...words];
  const created = await run('sh', ['-c', addWords, 'sh', process.execPath, DT, '-n', socket, ...command], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  const expected = Buffer.concat([...command.map(utf8), bytes('caf\xe9'), longest].map((word) => Buffer.concat([word, Buffer.of(0)])));
  await waitUntil(() => commandLineOf(programPid).equals(expected), 'the program to be exec-ed with its 20,002 words');
});

/** Types a key in an attached hexecho session and waits until the program has seen it. */
async function typeAndSee(term: Term, key: string): Promise<void> {
  const from = term.text.length;
  term.write(key);
  await term.until(() => hexReceived(term, from).includes(key), `hexecho to receive ${JSON.stringify(key)}`);
}

/**
 * A shell that changes to `cwd` and execs `words`, every one given byte for byte as printf(1)
 * octal escapes: the tests' own way past node:child_process and node-pty, which take only
 * strings and encode them as UTF-8.
 */
function exactly(cwd: Buffer, words: Buffer[]): { file: string; args: string[] } {
  const octal = (bytes: Buffer): string => [...bytes].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join('');
  const script = 'for w do w=$(printf "$w."); set -- "$@" "${w%.}"; shift; done; cd "$1" || exit 99; shift; exec "$@"';
  return { file: '/bin/sh', args: ['-c', script, 'sh', octal(cwd), ...words.map(octal)] };
}

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/**
 * Every mode on one socket path: -n creates, a second -n is refused, -l lists it, -a and -A
 * attach, -p pushes, -k ends it, -c creates again. dt is run from `cwd` with `socketArg`;
 * `shown` is how messages name the socket, `listed` how -l --json gives it. Connecting may
 * need a symbolic link in TMPDIR, which must be gone afterwards.
 */
async function everyModeOn(cwd: Buffer, socketArg: Buffer, socketFile: Buffer, shown: string, listed: string): Promise<void> {
  const tmp = sandbox.path('tmp');
  fs.mkdirSync(tmp);
  const env = sandbox.env({ TMPDIR: tmp });
  const options = { cwd: sandbox.dir, env };
  const dt = (args: Array<string | Buffer>): Buffer[] => [utf8(process.execPath), utf8(DT), ...args.map((arg) => (typeof arg === 'string' ? utf8(arg) : arg))];
  const runExactly = (args: Array<string | Buffer>, input?: string): ReturnType<typeof run> => {
    const { file, args: shellArgs } = exactly(cwd, dt(args));
    return run(file, shellArgs, { ...options, input });
  };
  const termExactly = (args: Array<string | Buffer>): Term => {
    const { file, args: shellArgs } = exactly(cwd, dt(args));
    return sandbox.run(file, shellArgs, { env });
  };

  expect(await runExactly(['-n', socketArg, ...HEXECHO])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  expect(fs.statSync(socketFile).isSocket()).toBe(true);
  const [masterPid] = sandbox.findMasters();
  expect(masterPid).toBeGreaterThan(0);
  sandbox.addMaster(masterPid!);
  const again = await runExactly(['-n', socketArg, ...HEXECHO]);
  expect(again).toMatchObject({ code: 1, stderr: `dt: ${shown}: a session is already running on this socket\n` });

  const list = await runExactly(['-l', '--json']);
  expect(JSON.parse(list.stdout)).toMatchObject([{ socket: listed, masterPid, state: 'detached' }]);
  expect((await runExactly(['-l'])).stdout).toContain(`${shown}  ${masterPid}  `);

  const attached = termExactly(['-a', socketArg, '-r', 'none']);
  await typeAndSee(attached, 'a');
  const pushedAt = attached.text.length;
  expect(await runExactly(['-p', socketArg], 'p')).toMatchObject({ code: 0, stderr: '' });
  await attached.until(() => hexReceived(attached, pushedAt).includes('p'), 'the pushed byte to arrive');
  const attachedOrCreated = termExactly(['-A', socketArg, '-r', 'none', 'sh', '-c', 'echo created > created']);
  await typeAndSee(attachedOrCreated, 'A');
  expect(fs.existsSync(sandbox.path('created'))).toBe(false);

  const endAt = attached.text.length;
  expect(await runExactly(['-k', socketArg, 'TERM'])).toMatchObject({ code: 0, stderr: '' });
  expect((await attached.waitForExit()).exitCode).toBe(143);
  expectStatusLine(attached.text.slice(endAt), '[program killed by SIGTERM]');
  expect((await attachedOrCreated.waitForExit()).exitCode).toBe(143);
  await waitUntil(() => !fs.existsSync(socketFile), 'the ended session to remove its socket');

  const created = termExactly(['-c', socketArg, '-r', 'none', ...HEXECHO]);
  await created.waitFor('READY');
  await typeAndSee(created, 'c');
  sandbox.addMaster(sandbox.findMasters()[0]!);
  created.write('\x1c');
  expect((await created.waitForExit()).exitCode).toBe(0);
  expect(await runExactly(['-k', socketArg, 'KILL'])).toMatchObject({ code: 0, stderr: '' });
  await waitUntil(() => !fs.existsSync(socketFile), 'the killed session to remove its socket');
  // Whatever connecting needed in TMPDIR is gone.
  expect(fs.readdirSync(tmp)).toEqual([]);
}

it('a socket whose name alone is too long for a socket address (255 bytes) works in every mode', async () => {
  const directory = path.join(sandbox.dir, 'd'.repeat(60));
  fs.mkdirSync(directory);
  const socket = path.join(directory, 'n'.repeat(MAX_NAME_BYTES));
  expect(`/proc/self/fd/9/${path.basename(socket)}`.length).toBeGreaterThan(MAX_SOCKET_ADDRESS_BYTES);
  await everyModeOn(utf8(sandbox.dir), utf8(socket), utf8(socket), socket, socket);
});

it('a socket path given relatively, whose name of 92 bytes is too long even for /proc/self/fd/N/name, works in every mode', async () => {
  fs.mkdirSync(sandbox.path('sub'));
  const name = 'm'.repeat(92);
  expect(`/proc/self/fd/3/${name}`.length).toBe(MAX_SOCKET_ADDRESS_BYTES + 1);
  expect(Buffer.byteLength(sandbox.path(`sub/${name}`))).toBeGreaterThan(MAX_SOCKET_ADDRESS_BYTES);
  await everyModeOn(utf8(sandbox.dir), utf8(`sub/${name}`), utf8(sandbox.path(`sub/${name}`)), sandbox.path(`sub/${name}`), sandbox.path(`sub/${name}`));
});

it('a socket path that is not UTF-8, given relatively from a directory that is not either, is used exactly in every mode', async () => {
  const directory = Buffer.concat([utf8(sandbox.dir), bytes('/d\xe9')]);
  fs.mkdirSync(directory);
  const socketFile = Buffer.concat([directory, bytes('/s\xff\xfe')]);
  // Messages and the -l table show the bytes as \xHH; -l --json as \udcHH escapes.
  await everyModeOn(directory, bytes('./s\xff\xfe'), socketFile, `${sandbox.dir}/d\\xe9/s\\xff\\xfe`, `${sandbox.dir}/d\udce9/s\udcff\udcfe`);
  expect(fs.readdirSync(directory, { encoding: 'buffer' })).toEqual([]);
});

it('the program receives its words, argv[0] included, its directory and DT_SESSION byte for byte', async () => {
  const directory = Buffer.concat([utf8(sandbox.dir), bytes('/d\xe9')]);
  fs.mkdirSync(directory);
  // A program whose own name is not UTF-8: a link to sh.
  const program = Buffer.concat([directory, bytes('/t\xe9st')]);
  fs.symlinkSync('/bin/sh', program);
  const command = [program, utf8('-c'), utf8('read line'), bytes('a\xe9'), bytes('\xff\xfe'), bytes('\x80'), utf8('café ☕'), utf8('')];
  const dt = [utf8(process.execPath), utf8(DT), utf8('-n'), bytes('./s\xff'), ...command];
  const { file, args } = exactly(directory, dt);
  expect(await run(file, args, { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stdout: '', stderr: '' });
  const [masterPid] = sandbox.findMasters();
  sandbox.addMaster(masterPid!);
  // node:net takes no such path: the test reaches the session through a link of its own.
  fs.symlinkSync(Buffer.concat([directory, bytes('/s\xff')]), sandbox.path('alias'));
  const { programPid } = await sessionInfo(sandbox.path('alias'));
  trackPid(programPid);

  await waitUntil(() => commandLineOf(programPid).equals(Buffer.concat(command.map((word) => Buffer.concat([word, Buffer.of(0)])))),
    `the program's argv to be ${JSON.stringify(command.map((word) => word.toString('latin1')))}, not ${JSON.stringify(commandLineOf(programPid).toString('latin1'))}`);
  expect(fs.readlinkSync(`/proc/${programPid}/cwd`, { encoding: 'buffer' }).equals(directory)).toBe(true);
  const environment = fs.readFileSync(`/proc/${programPid}/environ`);
  expect(environment.includes(Buffer.concat([utf8('\0DT_SESSION='), directory, bytes('/s\xff\0')]))).toBe(true);
});

it('the program receives environment values that are not UTF-8 byte for byte, and the others unchanged, whatever their names', async () => {
  const socket = sandbox.path('s');
  // Node cannot set such a value: the shell that runs dt does (\351 is é in Latin-1); env(1)
  // adds a variable no shell keeps.
  const created = await run('sh', ['-c', 'LATIN=$(printf "caf\\351 \\377%%\\n."); export LATIN; exec env NOT-A-SHELL-NAME=kept "$@"', 'sh',
    process.execPath, DT, '-n', socket, 'sh', '-c', 'read line'], { cwd: sandbox.dir, env: { ...sandbox.env(), PLAIN: 'café' } });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  const environment = Buffer.concat([Buffer.of(0), fs.readFileSync(`/proc/${programPid}/environ`)]);
  expect(environment.includes(bytes('\0LATIN=caf\xe9 \xff%\n.\0'))).toBe(true);
  expect(environment.includes(utf8('\0PLAIN=café\0'))).toBe(true);
  // The shell the program is started through drops such a variable as it starts: it is given back.
  expect(environment.includes(utf8('\0NOT-A-SHELL-NAME=kept\0'))).toBe(true);
  expect(environment.includes(utf8(`\0DT_SESSION=${socket}\0`))).toBe(true);
});

it('a program found on a PATH that is not UTF-8 starts, with that PATH', async () => {
  const socket = sandbox.path('s');
  const bin = Buffer.concat([utf8(sandbox.dir), bytes('/bin\xe9')]);
  fs.mkdirSync(bin);
  fs.symlinkSync('/bin/sh', Buffer.concat([bin, utf8('/dt-test-sh')]));
  // Node cannot set such a PATH: the shell that runs dt does (\351 is é in Latin-1).
  const created = await run('sh', ['-c', 'PATH=$(printf "%s/bin\\351" "$1"):$PATH; shift; exec "$@"', 'sh', sandbox.dir,
    process.execPath, DT, '-n', socket, 'dt-test-sh', '-c', 'read line'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(created).toMatchObject({ code: 0, stdout: '', stderr: '' });
  await sandbox.trackMaster(socket);
  const { programPid } = await sessionInfo(socket);
  trackPid(programPid);
  await waitUntil(() => commandLineOf(programPid).equals(utf8('dt-test-sh\0-c\0read line\0')), 'the program to be exec-ed');
  const environment = Buffer.concat([Buffer.of(0), fs.readFileSync(`/proc/${programPid}/environ`)]);
  expect(environment.includes(Buffer.concat([utf8('\0PATH='), bin, utf8(':')]))).toBe(true);
});

it('without /proc to read them from, words that may not be UTF-8 are refused, not altered', async (context) => {
  const hideProc = 'mount -t tmpfs dt-test /proc && exec "$@"';
  const probe = await run('unshare', ['--mount', 'sh', '-c', hideProc, 'sh', 'true'], { cwd: sandbox.dir });
  if (probe.code !== 0) return context.skip('hiding /proc needs unshare(1) and root (CAP_SYS_ADMIN)');
  const dt = [utf8('unshare'), utf8('--mount'), utf8('sh'), utf8('-c'), utf8(hideProc), utf8('sh'), utf8(process.execPath), utf8(DT)];
  const { file, args } = exactly(utf8(sandbox.dir), [...dt, utf8('-n'), utf8('./s'), utf8('sh'), utf8('-c'), utf8('read line'), bytes('caf\xe9')]);
  const refused = await run(file, args, { cwd: sandbox.dir, env: sandbox.env() });
  expect(refused).toMatchObject({
    code: 1, stdout: '', stderr: 'dt: argument 6 (caf\ufffd) may not be UTF-8, and its exact bytes cannot be read from /proc/self/cmdline\n',
  });
  expect(fs.existsSync(sandbox.path('s'))).toBe(false);
  expect(sandbox.findMasters()).toEqual([]);
});

it('dt -a without a socket, inside a session whose path is not UTF-8, knows that session as its own', async () => {
  const other = sandbox.path('other');
  expect(await runDt(['-n', other, ...HEXECHO], { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
  await sandbox.trackMaster(other);
  trackPid((await sessionInfo(other)).programPid);
  // The inner session's program is `dt -a`: the only session besides its own is `other`.
  const dt = [utf8(process.execPath), utf8(DT), utf8('-n'), bytes('s\xff'), utf8(process.execPath), utf8(DT), utf8('-a'), utf8('-r'), utf8('none')];
  const { file, args } = exactly(utf8(sandbox.dir), dt);
  expect(await run(file, args, { cwd: sandbox.dir, env: sandbox.env() })).toMatchObject({ code: 0, stdout: '', stderr: '' });
  for (const pid of sandbox.findMasters()) sandbox.addMaster(pid);
  await waitForClients(other, 1);
});

describe('a command exec(2) would refuse as too large', () => {
  /** The stack limit dt runs under here: exec then takes 256 KiB in all (a quarter of it). */
  const STACK_LIMIT_KIB = 1024;
  const execLimits = readExecLimits();
  /** What exec takes, as fs/exec.c counts it; the page size (32 pages a word) is this machine's. */
  const totalBytes = execLimits && computeExecLimits(STACK_LIMIT_KIB * 1024, (execLimits.refusedStringBytes - 1) / 32).totalBytes;

  /** The size of an exec(2) of `filename` as the kernel counts it: strings with their NULs, and a pointer for each but the file name. */
  function execSize(filename: string, argv: readonly string[], env: readonly string[]): number {
    const strings = [filename, ...argv, ...env].reduce((sum, text) => sum + exactByteLength(text) + 1, 0);
    return strings + (argv.length + env.length) * execLimits!.pointerBytes;
  }

  /**
   * dt -n with `command` from `cwd` under a stack limit of STACK_LIMIT_KIB, with exactly the
   * environment `env` (the shell that sets the limit exports PWD), and, when `latin1Bytes`
   * is given, a last word of that many bytes 0xff, which Node cannot pass (the shell adds it).
   */
  function startUnderStackLimit(cwd: string, env: Record<string, string>, command: string[], latin1Bytes = 0): ReturnType<typeof run> {
    const script = `ulimit -s ${STACK_LIMIT_KIB} || exit 99; w=$(head -c "$0" /dev/zero | tr '\\000' '\\377'); [ "$0" = 0 ] && exec "$@"; exec "$@" "$w"`;
    const variables = Object.entries(env).map(([name, value]) => `${name}=${value}`);
    return run('/usr/bin/env', ['-i', ...variables, '/bin/sh', '-c', script, String(latin1Bytes), process.execPath, DT, '-n', './s', ...command], { cwd });
  }

  /** A working directory of about 2,000 bytes: dt's own exec is that much smaller than the program's, which gets it as PWD and in DT_SESSION. */
  function deepDirectory(): string {
    const deep = path.join(sandbox.dir, ...Array<string>(9).fill('d'.repeat(200)));
    fs.mkdirSync(deep, { recursive: true });
    return deep;
  }

  /** The largest `size` for which `sizeOf(size)` is at most `limit` (sizeOf grows with size). */
  function largestWithin(limit: number, sizeOf: (size: number) => number): number {
    let [fits, over] = [0, limit];
    expect(sizeOf(fits)).toBeLessThanOrEqual(limit);
    expect(sizeOf(over)).toBeGreaterThan(limit);
    while (over - fits > 1) {
      const middle = Math.floor((fits + over) / 2);
      if (sizeOf(middle) <= limit) fits = middle;
      else over = middle;
    }
    return fits;
  }

  /** Starts the command that just fits: the program runs; then the one a byte larger: refused, and nothing is left of it. */
  async function expectEdge(cwd: string, env: Record<string, string>, commandOf: (padding: number) => string[], padding: number, latin1Bytes = 0): Promise<void> {
    const marker = commandOf(0)[3]!;
    const fits = await startUnderStackLimit(cwd, env, commandOf(padding), latin1Bytes);
    expect(fits).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await waitUntil(() => fs.existsSync(marker), 'the program that just fits to run');
    expect(await runDt(['-w', './s'], { cwd, env: sandbox.env() })).toMatchObject({ code: 0, stderr: '' });
    const over = await startUnderStackLimit(cwd, env, commandOf(padding + 1), latin1Bytes);
    expect(over).toEqual({ code: 1, signal: null, stdout: '', stderr: 'dt: could not execute /bin/sh: Argument list too long\n' });
    expect(fs.existsSync(path.join(cwd, 's'))).toBe(false);
    expect(await listSessions(sandbox, true)).toEqual([]);
    expect(sandbox.findMasters()).toEqual([]);
  }

  it.skipIf(execLimits === undefined)('is refused at once, to the byte: a program started directly', async () => {
    const cwd = deepDirectory();
    const env = { ...sandbox.env(), PATH: '/usr/bin:/bin', PWD: cwd } as Record<string, string>;
    const marker = sandbox.path('started');
    const commandOf = (padding: number): string[] => ['/bin/sh', '-c', 'echo >"$0"', marker, ...paddingWords(padding)];
    // What the program is exec-ed with: the environment (no TERM), and what dt adds to it.
    const programEnv = Object.entries({ ...env, DT_SESSION: path.join(cwd, 's'), TERM: 'xterm' }).map(([name, value]) => `${name}=${value}`);
    const padding = largestWithin(totalBytes!, (size) => execSize('/bin/sh', commandOf(size), programEnv));
    await expectEdge(cwd, env, commandOf, padding);
  });

  it.skipIf(execLimits === undefined)('is refused at once, to the byte: a program started through /bin/sh, whose escapes make it 4 times larger', async () => {
    const cwd = deepDirectory();
    const env = { ...sandbox.env(), PATH: '/usr/bin:/bin', PWD: cwd } as Record<string, string>;
    const marker = sandbox.path('started');
    const latin1Bytes = 60_000;
    const commandOf = (padding: number): string[] => ['/bin/sh', '-c', 'echo >"$0"', marker, ...paddingWords(padding)];
    // The first exec, of /bin/sh with the words as printf formats, is the largest here.
    const padding = largestWithin(totalBytes!, (size) => {
      const command = [...commandOf(size), '\udcff'.repeat(latin1Bytes)];
      const launch = programLaunch(command, cwd, path.join(cwd, 's'), env);
      const shellEnv = Object.entries(withTerminalDefaults(launch.env, launch.cwd)).map(([name, value]) => `${name}=${value}`);
      return execSize(launch.file, [launch.file, ...launch.args], shellEnv);
    });
    await expectEdge(cwd, env, commandOf, padding, latin1Bytes);
  });
});

/** Words of `bytes` bytes in all (each under MAX_ARG_STRLEN), as arguments. */
function paddingWords(bytes: number): string[] {
  const words: string[] = [];
  for (let left = bytes; left > 0; left -= 100_000) words.push('p'.repeat(Math.min(left, 100_000)));
  return words;
}
