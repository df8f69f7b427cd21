// Helpers for the lifecycle and error tests: running dt (or dtach) without a terminal,
// reading /proc, and asking a master about itself. Anything started here is tracked by pid
// so that a test's teardown can kill it; the Sandbox only knows Terms and masters.

import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import { expect } from 'vitest';
import { DEFAULT_TIMEOUT_MS, DT, FIXTURES, type Sandbox, type Term, isAlive, masterInfo, waitUntil } from './harness.js';

export const DTACH = '/usr/bin/dtach';
export const HAVE_DTACH = fs.existsSync(DTACH);

/** The command line of the fixture that prints each read of its raw terminal as hex. */
export const HEXECHO = [process.execPath, `${FIXTURES}/hexecho.mjs`];

export interface RunResult {
  /** null when killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Pids started by the tests of one file, outside node-pty. */
const started = new Set<number>();

/** Remembers a process a test started (a program's pid from a pid file, say) for teardown. */
export function trackPid(pid: number): void {
  started.add(pid);
}

/** Kills, by pid, every tracked process still running, and waits until they are gone. */
export async function killTracked(): Promise<void> {
  const alive = [...started].filter(isAlive);
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: it ended meanwhile.
    }
  }
  await waitUntil(() => alive.every((pid) => !isRunning(pid)), `tracked processes ${alive.join(', ')} to be gone`, 5_000);
  started.clear();
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** written to stdin, which is then closed; stdin is always a pipe, never a terminal */
  input?: Buffer | string;
  /** stdout and stderr; pipes unless given */
  stdout?: 'pipe' | number;
  stderr?: 'pipe' | number;
  timeoutMs?: number;
}

/**
 * Runs a program with pipes (no terminal) and resolves once it has exited AND its stdout and
 * stderr pipes reached end of file, i.e. no process kept a copy of their write ends.
 */
export function run(file: string, args: string[], options: RunOptions): Promise<RunResult> {
  const stdio: StdioOptions = ['pipe', options.stdout ?? 'pipe', options.stderr ?? 'pipe'];
  const child = spawn(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio });
  if (child.pid !== undefined) trackPid(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  child.stdin!.on('error', () => { /* EPIPE: the program did not read its input */ });
  child.stdin!.end(options.input);
  let exitedAt: RunResult | undefined;
  child.on('exit', (code, signal) => { exitedAt = { code, signal, stdout, stderr }; });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const state = exitedAt
        ? `it exited (${exitedAt.code ?? exitedAt.signal}) but its stdout/stderr never reached end of file`
        : 'it did not exit';
      reject(new Error(`${file} ${args.join(' ')}: after ${timeoutMs} ms ${state}\nstdout: ${JSON.stringify(stdout)}\nstderr: ${JSON.stringify(stderr)}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close' comes after 'exit' and after every stdio pipe has been closed by all writers.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A process a test spawned and tracks for teardown, with what it wrote on stderr (when that is a pipe). */
export interface Spawned {
  child: ChildProcess;
  readonly stderr: string;
  /** Its exit status once it has exited and its pipes are closed; undefined until then. */
  readonly status: number | null | undefined;
  /** Waits for that, at most timeoutMs from this call; fails with its stderr. */
  closed(timeoutMs?: number): Promise<number | null>;
}

/** Spawns a program the test feeds or ends itself (run() is for one that ends on its own), tracked by pid. */
export function spawnTracked(file: string, args: string[], options: SpawnOptions): Spawned {
  const child = spawn(file, args, options);
  if (child.pid !== undefined) trackPid(child.pid);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  let status: number | null | undefined;
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => { status = code; resolve(code); }));
  return {
    child,
    get stderr() { return stderr; },
    get status() { return status; },
    closed: (timeoutMs = DEFAULT_TIMEOUT_MS) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} ${args.join(' ')}: not ended after ${timeoutMs} ms\nstderr: ${JSON.stringify(stderr)}`)), timeoutMs);
      void closed.then((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    }),
  };
}

/** Runs `bin/dt ...args` without a terminal. */
export function runDt(args: string[], options: RunOptions): Promise<RunResult> {
  return run(process.execPath, [DT, ...args], options);
}

/** Permission bits of a file, or undefined if it does not exist. */
/** `dt -l` (with `--json`, parsed) in the sandbox's environment; it must succeed and say nothing on stderr. */
export async function listSessions(sandbox: Sandbox, json: true): Promise<unknown[]>;
export async function listSessions(sandbox: Sandbox, json: false): Promise<string>;
export async function listSessions(sandbox: Sandbox, json: boolean): Promise<unknown[] | string> {
  const listed = await runDt(json ? ['-l', '--json'] : ['-l'], { cwd: sandbox.dir, env: sandbox.env() });
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  return json ? JSON.parse(listed.stdout) as unknown[] : listed.stdout;
}

export function modeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).mode & 0o7777;
  } catch {
    return undefined;
  }
}

export function isSocketFile(file: string): boolean {
  try {
    return fs.statSync(file).isSocket();
  } catch {
    return false;
  }
}

export function waitForMode(file: string, mode: number, timeoutMs?: number): Promise<void> {
  return waitUntil(() => modeOf(file) === mode,
    `${file} to have mode ${mode.toString(8)} (it has ${modeOf(file)?.toString(8) ?? 'no file'})`, timeoutMs);
}

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** controlling terminal's device number; 0 when it has none */
  ttyNr: number;
}

export function procStat(pid: number): ProcStat {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name may contain spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]), ttyNr: Number(fields[4]) };
}

/** What each open descriptor of a process points at (paths, `pipe:[n]`, `socket:[n]`, ...). */
export function descriptorTargets(pid: number): string[] {
  const targets: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed while we looked.
    }
  }
  return targets;
}

/**
 * True while a process exists and has not exited. Unlike isAlive, a zombie (exited, not yet
 * reaped by whoever inherited it) counts as gone.
 */
export function isRunning(pid: number): boolean {
  try {
    return procStat(pid).state !== 'Z';
  } catch {
    return false;
  }
}

/** Asks the master who it is and how many clients it serves (the Info frame). */
export const sessionInfo = masterInfo;

/** Waits until the master reports this many attached clients. */
export async function waitForClients(socket: string, count: number): Promise<void> {
  let last = -1;
  await waitUntil(async () => (last = (await sessionInfo(socket)).clients) === count,
    `the master at ${socket} to report ${count} attached clients (last: ${last})`);
}

/** The bytes a hexecho fixture has reported receiving, from output offset `from` on. */
export function hexReceived(term: Term, from = 0): Buffer {
  const hex = [...term.text.slice(from).matchAll(/HEX ([0-9a-f]*)\r+\n/g)].map((match) => match[1]).join('');
  return Buffer.from(hex, 'hex');
}

/** Reads a pid a program wrote to a file (`echo $$ > file`), once the file is complete. */
export async function readPidFile(file: string): Promise<number> {
  let pid = 0;
  await waitUntil(() => {
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (!text.endsWith('\n')) return false;
      pid = Number(text.trim());
      return pid > 0;
    } catch {
      return false;
    }
  }, `a pid in ${file}`);
  trackPid(pid);
  return pid;
}

/** Escape sequences (CSI, and two-byte ESC x) that change modes but print nothing. */
const INVISIBLE_SEQUENCES = /\x1b\[[0-9;?<>=]*[ -\/]*[@-~]|\x1b[^[]/g;

/**
 * A client's last words: the status line at the bottom of the screen (cursor to row 999,
 * new line, the message), exactly once, with nothing visible printed after it.
 */
export function expectStatusLine(output: string, message: string): void {
  // Lines end in exactly \r\n: the client prints them before output processing is back on.
  const statusLine = new RegExp(`\\x1b\\[999H\\r*\\n${escapeRegExp(message)}\\r*\\n`, 'g');
  const matches = [...output.matchAll(statusLine)];
  expect(matches.map((match) => match[0])).toEqual([`\x1b[999H\r\n${message}\r\n`]);
  const after = output.slice(matches[0]!.index! + matches[0]![0].length);
  expect(after.replace(INVISIBLE_SEQUENCES, '')).toBe('');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Runs a program in a terminal of the sandbox (so stdin is a tty) with its stderr going to a
 * file instead, so that error text can be checked apart from the screen.
 */
export function runInTerminal(sandbox: Sandbox, stderrFile: string, file: string, args: string[], env?: NodeJS.ProcessEnv): Term {
  return sandbox.run('sh', ['-c', 'exec "$@" 2>"$0"', stderrFile, file, ...args], { ...(env && { env }) });
}

/** Tracks every process whose command line mentions `text` (a sandbox path), e.g. dtach masters. */
export function trackProcessesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  for (const pid of pids) trackPid(pid);
  return pids;
}

/**
 * No master of this sandbox remains. A master that failed to start reports its error and then
 * exits; the failing dt command may return a moment before that exit is complete.
 */
export async function expectNoMasterLeft(sandbox: Sandbox): Promise<void> {
  await waitUntil(() => sandbox.findMasters().length === 0, `no master to be left (found ${sandbox.findMasters().join(', ')})`);
}
