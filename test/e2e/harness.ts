// Drives the real bin/dt inside node-pty terminals, as a user would. Every wait has a
// timeout that fails the test with the whole transcript; nothing here sleeps to synchronise.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn as spawnPty, type IPty } from 'node-pty';
import { FrameDecoder, FrameType, PROTOCOL_VERSION, decodeHello, encodeHello, type Frame } from '../../src/common/protocol.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const DT = path.join(ROOT, 'bin/dt');

/**
 * Copies this checkout's bin/ and dist/ (the command and its bundle, nothing else) into
 * `root`, made if needed: a dt installed without some other part, for the tests of what it
 * then says. Returns `root`.
 */
export function copyBuiltDt(root: string): string {
  for (const part of ['bin', 'dist']) fs.cpSync(path.join(ROOT, part), path.join(root, part), { recursive: true });
  return root;
}
export const FIXTURES = path.join(ROOT, 'test/fixtures');
export const DEFAULT_TIMEOUT_MS = 10_000;
/** How long teardown lets a master whose program ended finish on its own before calling it left behind. */
const LEFTOVER_GRACE_MS = 3_000;
/** How long teardown waits for what it asked to end, in a run that measures coverage. */
const COVERAGE_GRACE_MS = 2_000;

export interface ExitInfo {
  exitCode: number;
  signal: number;
}

/**
 * The libuv bug dt works around at a program's hang-up (src/master/pty-output.ts) would also
 * drop the last words shown in a test's terminal. node-pty's terminal reads its descriptor
 * with a stream of its own, so the test reaches into it: on that stream's end, and before
 * node-pty closes the descriptor, the rest is read, until read(2) says EIO (empty and closed)
 * or EAGAIN (something still holds the terminal open). Done here, not with dt's own code:
 * what a test's terminal shows must not depend on the code under test.
 */
function readOutputLeftAtHangUp(term: IPty, emit: (data: Buffer) => void): void {
  const internals = term as unknown as { _fd: number; _socket: NodeJS.EventEmitter };
  internals._socket.on('end', () => {
    for (;;) {
      const buffer = Buffer.allocUnsafe(64 * 1024);
      let count: number;
      try {
        count = fs.readSync(internals._fd, buffer, 0, buffer.length, null);
      } catch {
        return;
      }
      if (count === 0) return;
      emit(buffer.subarray(0, count));
    }
  });
}

/** A terminal window with a program running in it. */
export class Term {
  readonly pty: IPty;
  private chunks: Buffer[] = [];
  private length = 0;
  private exitInfo: ExitInfo | undefined;
  private listeners = new Set<() => void>();
  private outputListeners: ((chunk: Buffer) => void)[] = [];

  constructor(file: string, args: string[], options: { cols?: number; rows?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.pty = spawnPty(file, args, {
      name: 'xterm-256color',
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env } as Record<string, string>,
      encoding: null,
    });
    const show = (chunk: Buffer): void => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      for (const listener of this.outputListeners) listener(chunk);
      this.notify();
    };
    this.pty.onData((data) => show(data as unknown as Buffer));
    // The same libuv bug that dt works around would drop the last words of the terminal.
    readOutputLeftAtHangUp(this.pty, show);
    this.pty.onExit(({ exitCode, signal }) => {
      this.exitInfo = { exitCode, signal: signal ?? 0 };
      this.notify();
    });
  }

  get pid(): number {
    return this.pty.pid;
  }

  /** Everything the terminal has shown, as raw bytes. */
  get output(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Everything shown so far, as text (latin1, so every byte maps to one character). */
  get text(): string {
    return this.output.toString('latin1');
  }

  get exited(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /**
   * Calls `listener` with every chunk the terminal shows from now on, in order: what node-pty
   * reads, and the last words read at its hang-up, which node-pty's onData never sees (a
   * program that prints and exits while the test is slow to read leaves them there).
   */
  onOutput(listener: (chunk: Buffer) => void): void {
    this.outputListeners.push(listener);
  }

  write(data: string | Buffer): void {
    this.pty.write(data as string);
  }

  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
  }

  /** Waits until the output, from byte offset `from`, contains the marker. Returns the offset after it. */
  async waitFor(marker: string | RegExp, options: { from?: number; timeoutMs?: number } = {}): Promise<number> {
    const from = options.from ?? 0;
    const find = (): number => {
      const text = this.text.slice(from);
      if (typeof marker === 'string') {
        const at = text.indexOf(marker);
        return at < 0 ? -1 : from + at + marker.length;
      }
      const match = marker.exec(text);
      return match ? from + match.index + match[0].length : -1;
    };
    await this.until(() => find() >= 0, `output to contain ${String(marker)}`, options.timeoutMs);
    return find();
  }

  async waitForExit(timeoutMs?: number): Promise<ExitInfo> {
    await this.until(() => this.exitInfo !== undefined, 'the terminal program to exit', timeoutMs);
    return this.exitInfo!;
  }

  /** Polls a condition on every output event and at a short interval; fails with the transcript. */
  until(condition: () => boolean, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      if (condition()) return resolve();
      const check = (): void => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const interval = setInterval(check, 25);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- transcript (${this.length} bytes) ---\n${JSON.stringify(this.text.slice(-4000))}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearInterval(interval);
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exitInfo) return;
    try {
      process.kill(this.pty.pid, signal);
    } catch {
      // ESRCH: already gone.
    }
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Waits for an arbitrary condition, polling; fails with `what` (a function: what it says then, a transcript). */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True while the process runs; a zombie waiting to be reaped counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Connects to a session as a bare protocol peer; returns the frames it receives. */
export class Peer {
  readonly frames: Frame[] = [];
  private decoder = new FrameDecoder();
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.frames.push(...this.decoder.push(chunk)));
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => {});
  }

  static async connect(socketPath: string, hello = true): Promise<Peer> {
    const socket = net.createConnection(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new Peer(socket);
    if (hello) {
      socket.write(encodeHello({ version: PROTOCOL_VERSION, pid: 0 }));
      await waitUntil(() => peer.frames.some((frame) => frame.type === FrameType.Hello), 'hello from the master');
    }
    return peer;
  }

  get masterPid(): number {
    const hello = this.frames.find((frame) => frame.type === FrameType.Hello);
    return hello ? decodeHello(hello.payload).pid : 0;
  }

  output(): Buffer {
    return Buffer.concat(this.frames.filter((frame) => frame.type === FrameType.Output).map((frame) => frame.payload));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The pid of the master serving a socket, asked over the protocol. */
export async function masterPidOf(socketPath: string): Promise<number> {
  const peer = await Peer.connect(socketPath);
  const pid = peer.masterPid;
  peer.close();
  return pid;
}

/** Pids of the running processes whose command line (NUL-separated, as in /proc) passes `matches`. */
/** How long a process of the test gets to end of its own once its masters are gone (its hang-up). */
const STRAY_GRACE_MS = 2_000;

function readComm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '?';
  }
}

function processesWhere(matches: (pid: string, cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(entry, fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/**
 * One test's world: a private temp dir, the terminals and masters it started, and a
 * teardown that kills them by pid, removes the dir and proves no master was left behind.
 */
export class Sandbox {
  readonly dir: string;
  private terms: Term[] = [];
  private masters = new Set<number>();
  /** Processes the test stopped (SIGSTOP): a stopped process ends on SIGKILL only. */
  private stopped = new Set<number>();
  private leftoverReason: string | undefined;

  constructor() {
    // Short, so socket paths stay under the sun_path limit unless a test wants otherwise.
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-'));
  }

  /**
   * The environment for programs of this test: dt's session registry and its session
   * directory (named sessions' sockets) live in the sandbox, never in the machine's
   * /tmp/dt-<uid>, which other users of the machine share.
   */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return { XDG_STATE_HOME: path.join(this.dir, 'state'), DT_DIR: this.sessionDir, TMPDIR: this.dir, ...extra };
  }

  /** Where this sandbox's named sessions' sockets are (dt creates it on first use). */
  get sessionDir(): string {
    return path.join(this.dir, 'run');
  }

  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** Runs `dt ...args` in a new terminal. */
  dt(args: string[], options: { cols?: number; rows?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Term {
    const term = new Term(process.execPath, [DT, ...args], { cwd: this.dir, ...options, env: this.env(options.env) });
    this.terms.push(term);
    return term;
  }

  /** Runs any program in a new terminal. */
  run(file: string, args: string[], options: { cols?: number; rows?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Term {
    const term = new Term(file, args, { cwd: this.dir, ...options, env: this.env(options.env) });
    this.terms.push(term);
    return term;
  }

  /** Records the master behind a socket so teardown can prove it is gone. */
  async trackMaster(socketPath: string): Promise<number> {
    const pid = await masterPidOf(socketPath);
    this.masters.add(pid);
    return pid;
  }

  addMaster(pid: number): void {
    this.masters.add(pid);
  }

  /**
   * Masters whose socket is in this sandbox, found in /proc by their title; and masters still
   * starting (not yet named), by the sandbox's registry in their environment.
   */
  findMasters(): number[] {
    return processesWhere((pid, cmdline) => cmdline.startsWith(`dt master ${this.dir}/`) ||
      (cmdline.split('\0').includes('--internal-master') && this.isInEnvironmentOf(pid)));
  }

  /** dtach processes serving a socket in this sandbox (their command line names it). */
  private findDtachMasters(): number[] {
    return processesWhere((_pid, cmdline) => {
      const [command, ...args] = cmdline.split('\0');
      return path.basename(command ?? '') === 'dtach' && args.some((arg) => arg.startsWith(`${this.dir}/`));
    });
  }

  private isInEnvironmentOf(pid: string): boolean {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`XDG_STATE_HOME=${path.join(this.dir, 'state')}`);
  }

  /**
   * Says why this test leaves its session running when it ends (the test is about something
   * else and the session's end is checked elsewhere). Without it, teardown fails a test
   * whose master is still running: a test must end what it started, and see it end.
   */
  leavesMaster(reason: string): void {
    this.leftoverReason = reason;
  }

  /**
   * Stops a process the test started (a client in a terminal's shell, a master) with SIGSTOP,
   * and makes sure teardown ends it: a stopped client whose terminal is closed waits for its
   * SIGHUP until it is continued, which a test that failed half-way would never do.
   */
  stopProcess(pid: number): void {
    this.stopped.add(pid);
    process.kill(pid, 'SIGSTOP');
  }

  /**
   * In a run that measures coverage (NODE_V8_COVERAGE), a process killed by SIGKILL writes
   * none: what teardown would kill is asked first to end (SIGTERM), and given a moment.
   */
  private async endGentlyForCoverage(pids: number[]): Promise<void> {
    if (!process.env['NODE_V8_COVERAGE'] || pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // ESRCH: it ended meanwhile.
      }
    }
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 'processes to end on SIGTERM', COVERAGE_GRACE_MS).catch(() => {});
  }

  async teardown(): Promise<void> {
    await this.endGentlyForCoverage(this.terms.filter((term) => !term.exited && !this.stopped.has(term.pid)).map((term) => term.pid));
    for (const term of this.terms) term.kill('SIGKILL');
    // dtach, run beside dt for comparison, sometimes keeps its master after its program failed
    // to start (the child a zombie, the socket removed): it is dtach's, and ended without blame.
    for (const pid of this.findDtachMasters()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: it ended meanwhile.
      }
    }
    for (const pid of this.stopped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: it ended (it was continued, and went its way).
      }
    }
    for (const pid of this.findMasters()) this.masters.add(pid);
    // A master whose program ended may still be handing its last words to the clients.
    if (this.leftoverReason === undefined) {
      await waitUntil(() => [...this.masters].every((pid) => !isAlive(pid)), 'masters to exit on their own', LEFTOVER_GRACE_MS).catch(() => {});
    }
    const leftovers = [...this.masters].filter(isAlive);
    await this.endGentlyForCoverage(leftovers);
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: it exited meanwhile.
      }
    }
    await waitUntil(() => [...this.masters].every((pid) => !isAlive(pid)) && this.findMasters().length === 0,
      `masters ${leftovers.join(', ')} to be gone after SIGKILL`, 5_000);
    const strays = await this.endStrays();
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.leftoverReason !== undefined) return;
    const left: string[] = [];
    if (leftovers.length > 0) {
      left.push(`master${leftovers.length > 1 ? 's' : ''} ${leftovers.join(', ')} running (killed now): ` +
        'end the session in the test, or say why it may stay with sandbox.leavesMaster(reason)');
    }
    if (strays.length > 0) {
      left.push(`${strays.join(', ')} running once its masters were gone (killed now): a program that outlives ` +
        'its terminal (HUP ignored or trapped) or a job in the background must be ended in the test, or tracked');
    }
    if (left.length > 0) throw new Error(`the test left ${left.join('; and ')}`);
  }

  /**
   * Any process still running with this sandbox in its environment once the masters are gone:
   * a program that outlived its terminal, a client, a job in the background. Given a moment to
   * end of its hang-up, then killed by pid; what had to be killed is returned, as "PID (comm)".
   */
  private async endStrays(): Promise<string[]> {
    const find = (): number[] => processesWhere((pid) => Number(pid) !== process.pid && this.isInEnvironmentOf(pid));
    let strays = find();
    if (strays.length === 0) return [];
    await waitUntil(() => (strays = find()).length === 0, 'processes of the test to end', STRAY_GRACE_MS).catch(() => {});
    const named = strays.map((pid) => `${pid} (${readComm(pid)})`);
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: it ended meanwhile.
      }
    }
    await waitUntil(() => strays.every((pid) => !isAlive(pid)), `processes ${strays.join(', ')} to be gone after SIGKILL`, 5_000);
    return named;
  }
}

// ---- Helpers for the terminal tests (bytes, keys, viewers, redraw) ----

export const DTACH = '/usr/bin/dtach';
export const HAVE_DTACH = fs.existsSync(DTACH);

/** Pids of a process's direct children (empty if it is gone). */
export function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process's state letter from /proc (R, S, T, Z, ...); undefined once it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** A terminal's line-discipline settings, read from outside: `stty -a` or `stty -g` of its /dev/pts/N. */
export function terminalModes(term: Term, format: '-a' | '-g' = '-a'): string {
  const pts = (term.pty as unknown as { ptsName: string }).ptsName;
  return execFileSync('stty', [format, '-F', pts], { encoding: 'latin1' }).trim();
}

/** Every byte a hexecho-style program reported (`HEX <hex>` lines) in a transcript, as one hex string. */
export function hexReceived(transcript: string): string {
  return [...transcript.matchAll(/HEX ([0-9a-f]*)\r/g)].map((match) => match[1]).join('');
}

/** Kills, by pid, the dtach masters a test started for sockets in this sandbox (dtach forks them away). */
export async function killDtachMasters(sandbox: Sandbox): Promise<void> {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0');
      if (path.basename(argv[0] ?? '') === 'dtach' && argv.some((arg) => arg.startsWith(`${sandbox.dir}/`))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ESRCH: it exited meanwhile.
    }
  }
  await waitUntil(() => pids.every((pid) => !isAlive(pid) || processState(pid) === 'Z'), `dtach masters ${pids.join(', ')} to be gone`, 5_000);
}

// ---- Helpers for the reliability tests (slow viewers, faults, fuzz, churn) ----

/** test/fixtures/pattern.mjs writes lines of this many bytes: `%015d\n`. */
export const PATTERN_LINE_BYTES = 16;

/** The pattern is made in blocks of this many bytes (4096 lines), and the latest few kept. */
const PATTERN_BLOCK_BYTES = 4096 * PATTERN_LINE_BYTES;
const PATTERN_BLOCKS_KEPT = 64;
/**
 * Blocks of the pattern made lately, oldest first. Every viewer of a stream checks the same
 * bytes: made once for all of them, not once each. Made for each of 50 viewers, the pattern
 * took most of this process's time, and on a loaded machine the terminal it reads too (4 KiB
 * a read, against 64 KiB from a socket) fell 8 MiB behind them and was cut off.
 */
const patternBlocks = new Map<number, Buffer>();

function patternBlock(block: number): Buffer {
  const kept = patternBlocks.get(block);
  if (kept) return kept;
  const firstLine = block * (PATTERN_BLOCK_BYTES / PATTERN_LINE_BYTES);
  let text = '';
  for (let line = firstLine; line < firstLine + PATTERN_BLOCK_BYTES / PATTERN_LINE_BYTES; line++) text += `${String(line).padStart(15, '0')}\n`;
  const made = Buffer.from(text, 'latin1');
  if (patternBlocks.size >= PATTERN_BLOCKS_KEPT) patternBlocks.delete(patternBlocks.keys().next().value!);
  patternBlocks.set(block, made);
  return made;
}

/** The bytes [start, end) of the stream test/fixtures/pattern.mjs writes (not to be written to: it may be kept). */
export function patternBytes(start: number, end: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = start; at < end;) {
    const block = Math.floor(at / PATTERN_BLOCK_BYTES);
    const blockStart = block * PATTERN_BLOCK_BYTES;
    const upTo = Math.min(end, blockStart + PATTERN_BLOCK_BYTES);
    parts.push(patternBlock(block).subarray(at - blockStart, upTo - blockStart));
    at = upTo;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * Where in the pattern stream `bytes` starts, read from its first whole line (a viewer that
 * attached mid-stream starts mid-line); -1 if it holds no whole line.
 */
export function patternOffsetOf(bytes: Buffer): number {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0 || bytes.length < newline + 1 + PATTERN_LINE_BYTES) return -1;
  const line = bytes.subarray(newline + 1, newline + PATTERN_LINE_BYTES).toString('latin1');
  if (!/^\d{15}$/.test(line)) return -1;
  return Number(line) * PATTERN_LINE_BYTES - (newline + 1);
}

/**
 * What an attaching client writes to its terminal before any of the session's output: xterm's
 * "save the window title" (CSI 22 ; 0 t), popped again when it leaves.
 */
export const TITLE_SAVE = '\x1b[22;0t';

/** `text` without the TITLE_SAVE an attaching client starts its terminal's output with. */
export function withoutTitleSave(text: string): string {
  return text.startsWith(TITLE_SAVE) ? text.slice(TITLE_SAVE.length) : text;
}

/**
 * Waits until the session's program has turned its terminal's echo off (pattern.mjs does, with
 * stty, once it runs): a `g` typed before is echoed into the stream, every checker fails at its
 * first byte, and the test waits out its timeout (seen on a loaded machine, where the program
 * can start later than the viewers that attach). Type the `g` only after this.
 */
export async function waitForNoEcho(socketPath: string): Promise<void> {
  const { programPid } = await masterInfo(socketPath);
  // Until the forked program has made its terminal its standard input, fd 0 is the master's (/dev/null).
  let terminal = '';
  await waitUntil(() => {
    terminal = fs.readlinkSync(`/proc/${programPid}/fd/0`);
    return terminal.startsWith('/dev/pts/')
      && / -echo /.test(` ${execFileSync('stty', ['-a', '-F', terminal], { encoding: 'latin1' }).replace(/\s+/g, ' ')} `);
  }, () => `echo to be off on the program's terminal (its standard input: ${terminal})`);
}

/**
 * Checks a byte stream against the pattern as it arrives, without keeping it: `matched` counts
 * the bytes that were the pattern, in order; the first byte that is not ends the pattern, and
 * what follows (the fixture's END line, a status line) is kept in `tail`, up to 64 KiB. A
 * client's TITLE_SAVE before the stream is not part of it.
 */
export class PatternChecker {
  matched = 0;
  ended = false;
  private tailChunks: Buffer[] = [];
  private tailBytes = 0;
  /** Bytes of TITLE_SAVE seen at the start of the stream; -1 once the stream proper has begun. */
  private titleSaveBytes = 0;

  /** start: the pattern offset of the first byte expected (0 for a viewer there from the start). */
  constructor(readonly start = 0) {}

  push(chunk: Buffer): void {
    if (this.ended) return this.keepTail(chunk);
    if (this.titleSaveBytes >= 0) {
      while (this.titleSaveBytes < TITLE_SAVE.length && chunk.length > 0 && chunk[0] === TITLE_SAVE.charCodeAt(this.titleSaveBytes)) {
        chunk = chunk.subarray(1);
        this.titleSaveBytes += 1;
      }
      if (chunk.length === 0) return;
      this.titleSaveBytes = -1;
    }
    const expected = patternBytes(this.start + this.matched, this.start + this.matched + chunk.length);
    if (expected.equals(chunk)) {
      this.matched += chunk.length;
      return;
    }
    let same = 0;
    while (chunk[same] === expected[same]) same++;
    this.matched += same;
    this.ended = true;
    this.keepTail(chunk.subarray(same));
  }

  get tail(): string {
    return Buffer.concat(this.tailChunks).toString('latin1');
  }

  private keepTail(chunk: Buffer): void {
    if (this.tailBytes >= 64 * 1024) return;
    this.tailChunks.push(chunk);
    this.tailBytes += chunk.length;
  }
}

/** Checks everything a terminal shows from now on against the pattern. Call right after creating it. */
export function checkPattern(term: Term, checker = new PatternChecker()): PatternChecker {
  term.onOutput((chunk) => checker.push(chunk));
  return checker;
}

export interface MasterInfo {
  masterPid: number;
  programPid: number;
  clients: number;
  cols: number;
  rows: number;
}

/** Asks a session's master about itself (the Info frame). */
export async function masterInfo(socketPath: string): Promise<MasterInfo> {
  const peer = await Peer.connect(socketPath);
  try {
    peer.socket.write(Buffer.from([FrameType.Info, 0, 0, 0, 0])); // an empty Info frame
    await waitUntil(() => peer.frames.some((frame) => frame.type === FrameType.Info), 'an Info reply from the master');
    return JSON.parse(peer.frames.find((frame) => frame.type === FrameType.Info)!.payload.toString('utf8')) as MasterInfo;
  } finally {
    peer.close();
  }
}

/** Waits until the master counts this many attached viewers. */
export async function waitForViewers(socketPath: string, count: number, timeoutMs?: number): Promise<void> {
  let last = -1;
  await waitUntil(async () => (last = (await masterInfo(socketPath)).clients) === count,
    `${count} viewers attached to ${socketPath} (last count: ${last})`, timeoutMs);
}

/**
 * A process's anonymous resident memory in bytes (RssAnon of /proc/PID/status): its heaps and
 * buffers, what clients could make a master hold. Not VmRSS, which also counts the pages of
 * the node binary it has run: a master's first full garbage collection pages in 3.6 MiB of
 * collector code, shared with every Node process and given back under memory pressure.
 */
export function anonymousResidentBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const match = /^RssAnon:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no RssAnon for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** How many descriptors a process has open. */
export function openDescriptorCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * `dt -a <socket> -r none` run by a shell in a new terminal; once dt has exited, the shell
 * prints `STATUS <dt's exit code>` and `MODES <stty -g>`: a terminal can only be inspected
 * while something still holds it open. The shell prints nothing before dt runs. The terminal
 * is 80x24 unless `size` says otherwise.
 */
export function attachThenReport(sandbox: Sandbox, socket: string, size?: { cols: number; rows: number }): Term {
  return sandbox.run('/bin/sh', ['-c', `"${process.execPath}" "${DT}" -a "${socket}" -r none; echo "STATUS $?"; echo "MODES $(stty -g)"`], size);
}

/** The modes (`stty -g`) of a new node-pty terminal: what a client must restore. */
export async function freshTerminalModes(sandbox: Sandbox): Promise<string> {
  const term = sandbox.run('stty', ['-g']);
  await term.waitForExit();
  return term.text.trim();
}

/** What a shell of attachThenReport printed once dt exited, and everything dt showed before. */
export async function shellReport(term: Term, timeoutMs?: number): Promise<{ shown: string; status: number; modes: string }> {
  const end = await term.waitFor(/STATUS \d+\r\nMODES \S+\r\n/, { timeoutMs });
  const text = term.text.slice(0, end);
  const match = /STATUS (\d+)\r\nMODES (\S+)\r\n$/.exec(text)!;
  return { shown: text.slice(0, match.index), status: Number(match[1]), modes: match[2]! };
}

/** The client's last words as a pattern: the status line at the bottom of the screen. */
export function statusLinePattern(message: string): RegExp {
  return new RegExp(`\\x1b\\[999H\\r*\\n${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r*\\n`);
}

/** True once a process has exited (a zombie not yet reaped by whoever inherited it counts). */
export function hasEnded(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === 'Z';
}

/** write(2)'s number: /proc/PID/syscall starts with it while the process is blocked writing. */
const WRITE_SYSCALL = process.arch === 'arm64' ? 64 : 1;

/** True while the process's main thread is in write(2) (Node writes its terminal through a descriptor of its own, not 1). */
export function blockedWriting(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/syscall`, 'latin1').startsWith(`${WRITE_SYSCALL} `);
  } catch {
    return false;
  }
}

/** The pid of the first child of `parent` whose command name is `name`, once it exists. */
export async function waitForChildNamed(parent: number, name: string): Promise<number> {
  let found: number | undefined;
  await waitUntil(() => {
    found = childPids(parent).find((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim() === name;
      } catch {
        return false; // it ended meanwhile
      }
    });
    return found !== undefined;
  }, `${parent} to start ${name}`);
  return found!;
}

/** TCP state LISTEN in the kernel's socket tables. */
const TCP_LISTEN = '0A';

/** Every listening TCP socket of this network namespace, from the kernel's tables: inode -> port. */
export function listeningTcpSockets(): Map<string, number> {
  const listening = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'latin1');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== TCP_LISTEN) continue;
      listening.set(fields[9]!, parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return listening;
}

/** How many sockets a process holds, seen from /proc: a master's listening socket and one per connection. */
export function socketCount(pid: number): number {
  let count = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) count++;
    } catch {
      // Closed while we looked.
    }
  }
  return count;
}

/** The TCP ports a process listens on, seen from outside: its descriptors (/proc/PID/fd) matched against the kernel's tables. */
export function listeningPortsOf(pid: number): number[] {
  const listening = listeningTcpSockets();
  const ports: number[] = [];
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // gone
  }
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      const port = inode === undefined ? undefined : listening.get(inode);
      if (port !== undefined) ports.push(port);
    } catch {
      // closed meanwhile
    }
  }
  return ports;
}
