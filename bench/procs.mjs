// The benchmark's world: a private temp dir, the terminals and processes it started, and a
// cleanup that kills them by pid. Every process of ours that can outlive a measurement carries
// the temp dir in its argv (a socket path or a fixture argument), so none can escape the scan
// of /proc at cleanup, and nothing that is not ours can be caught by it.

import { spawn as spawnChild } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn as spawnPty } from 'node-pty';

export const ROOT = path.resolve(import.meta.dirname, '..');
/** DT_BENCH_BIN=/path/to/bin/dt benchmarks another build of dt (a branch, a patched copy). */
export const DT = process.env.DT_BENCH_BIN ? path.resolve(process.env.DT_BENCH_BIN) : path.join(ROOT, 'bin/dt');
export const DTACH = '/usr/bin/dtach';
export const HAVE_DTACH = fs.existsSync(DTACH);
export const FIXTURES = path.join(ROOT, 'bench/fixtures');
export const NODE = process.execPath;

let profileDir;

/** Every Node process started from now on writes a CPU profile into `dir` when it exits. */
export function profileInto(dir) {
  profileDir = dir;
}

/** A terminal window with a program in it. Output goes to a sink; nothing is kept unless asked. */
export class Term {
  constructor(workspace, file, args, { cols = 80, rows = 24 } = {}) {
    this.pty = spawnPty(file, args, {
      name: 'xterm-256color', cols, rows, cwd: workspace.dir, env: workspace.env(), encoding: null,
    });
    this.bytes = 0;
    this.captured = [];
    this.capturing = true;
    this.sink = undefined;
    this.exitInfo = undefined;
    this.listeners = new Set();
    this.pty.onData((data) => {
      this.bytes += data.length;
      if (this.capturing) this.captured.push(data);
      if (this.sink) this.sink(data);
      if (this.listeners.size > 0) for (const listener of [...this.listeners]) listener();
    });
    this.pty.onExit(({ exitCode, signal }) => {
      this.exitInfo = { exitCode, signal: signal ?? 0 };
      for (const listener of [...this.listeners]) listener();
    });
  }

  get pid() { return this.pty.pid; }

  /** What was captured so far, as latin1 text (one character per byte). */
  get text() {
    if (this.captured.length > 1) this.captured = [Buffer.concat(this.captured)];
    return (this.captured[0] ?? Buffer.alloc(0)).toString('latin1');
  }

  write(data) { this.pty.write(data); }

  /** Resolves once condition() holds, checked on every output event and every 20 ms. */
  until(condition, what, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      if (condition()) return resolve();
      const check = () => { if (condition()) { done(); resolve(); } };
      const interval = setInterval(check, 20);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; terminal showed ${JSON.stringify(this.text.slice(-300))}`));
      }, timeoutMs);
      const done = () => { clearInterval(interval); clearTimeout(timer); this.listeners.delete(check); };
      this.listeners.add(check);
    });
  }

  waitForExit(timeoutMs) {
    return this.until(() => this.exitInfo !== undefined, `pid ${this.pid} to exit`, timeoutMs).then(() => this.exitInfo);
  }

  kill(signal = 'SIGKILL') {
    if (this.exitInfo) return;
    try { process.kill(this.pid, signal); } catch { /* ESRCH: already gone */ }
  }
}

export class Workspace {
  constructor() {
    // Short, so socket paths stay far below the sun_path limit.
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtb-'));
    this.terms = new Set();
    this.counter = 0;
  }

  /** Environment for everything we start: dt's session registry stays in the temp dir. */
  env() {
    const env = { ...process.env, XDG_STATE_HOME: path.join(this.dir, 'state') };
    delete env.DT_SESSION; // the benchmark may itself run inside a dt session
    if (profileDir) {
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --import=${path.join(ROOT, 'bench/cpu-profile.mjs')}`.trim();
      env.DT_BENCH_PROFILE_DIR = profileDir;
    }
    return env;
  }

  /** A fresh path in the temp dir. */
  path(prefix) {
    this.counter += 1;
    return path.join(this.dir, `${prefix}${this.counter}`);
  }

  term(file, args, options) {
    const term = new Term(this, file, args, options);
    this.terms.add(term);
    term.pty.onExit(() => this.terms.delete(term));
    return term;
  }

  /** Runs a command without a terminal; resolves with its exit code and when it ended. */
  run(file, args) {
    return new Promise((resolve, reject) => {
      const child = spawnChild(file, args, { cwd: this.dir, env: this.env(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => { stderr += chunk; });
      child.on('error', reject);
      // 'exit', not 'close': a daemon it forked (dtach's master) may still hold the stderr pipe.
      child.on('exit', (code, signal) => {
        const endedAt = performance.now();
        // Whatever stderr the command itself wrote is read by the next turn of the loop.
        setImmediate(() => { child.stderr.destroy(); resolve({ code, signal, stderr, endedAt }); });
      });
    });
  }

  /**
   * Pids of live processes whose argv mentions the temp dir: everything we started. A dt
   * master still starting (not yet named after its socket) is known by our registry in its
   * environment.
   */
  ourProcesses() {
    const pids = [];
    const registry = `XDG_STATE_HOME=${path.join(this.dir, 'state')}`;
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1');
        const starting = cmdline.split('\0').includes('--internal-master') && fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(registry);
        if (cmdline.includes(this.dir) || starting) pids.push(Number(entry));
      } catch {
        // The process ended while we looked.
      }
    }
    return pids.filter((pid) => !hasEnded(pid));
  }

  /** Kills every terminal and every process of ours, by pid, and removes the temp dir. */
  async cleanup(timeoutMs = 5_000) {
    for (const term of this.terms) term.kill('SIGKILL');
    const deadline = Date.now() + timeoutMs;
    let left = this.ourProcesses();
    while (left.length > 0 && Date.now() < deadline) {
      for (const pid of left) {
        try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL'); } catch { /* ESRCH: gone meanwhile */ }
      }
      await delay(20);
      left = this.ourProcesses();
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return left;
  }

  /** Last resort on exit: no waiting possible, so kill what we can see and remove the dir. */
  cleanupNow() {
    for (const term of this.terms) term.kill('SIGKILL');
    for (const pid of this.ourProcesses()) {
      try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL'); } catch { /* ESRCH: gone meanwhile */ }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A timer for the benchmark's own pacing of polls, never to synchronise with a process. */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until condition() holds; fails with `what` after timeoutMs. */
export async function waitUntil(condition, what, timeoutMs = 10_000, everyMs = 10) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

export function processState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Gone, or a zombie nobody reaped yet. */
export function hasEnded(pid) {
  const state = processState(pid);
  return state === undefined || state === 'Z';
}

/** Resident memory in bytes (VmRSS of /proc/PID/status); undefined once the process is gone. */
export function residentBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Memory of a process from /proc/PID/smaps_rollup, in bytes: rss, pss (its pages, shared
 * ones divided among their sharers) and private (Private_Clean + Private_Dirty: what the
 * process alone costs; RSS also counts the node binary's pages that every Node process
 * shares). Undefined once the process is gone.
 */
export function memoryOf(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: field('Rss'), pss: field('Pss'), private: field('Private_Clean') + field('Private_Dirty') };
}

// dt's wire protocol, only as much as finding a master needs: frames of
// [type u8][length u32 BE][payload]; Hello = magic "dt\0\1", u16 version, u32 pid.
const HELLO = 1;
const HELLO_MAGIC = Buffer.from('dt\u0000\u0001', 'latin1');
const PROTOCOL_VERSION = 1;

/** The pid of the dt master serving a socket, from its hello (as test/e2e/harness.ts masterPidOf). */
export function dtMasterPid(socketPath, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let received = Buffer.alloc(0);
    const fail = (why) => { clearTimeout(timer); socket.destroy(); reject(new Error(`${socketPath}: ${why}`)); };
    const timer = setTimeout(() => fail('no hello from the master'), timeoutMs);
    socket.on('error', (error) => fail(error.message));
    socket.on('connect', () => {
      const payload = Buffer.alloc(HELLO_MAGIC.length + 6);
      HELLO_MAGIC.copy(payload);
      payload.writeUInt16BE(PROTOCOL_VERSION, HELLO_MAGIC.length);
      const header = Buffer.alloc(5);
      header.writeUInt8(HELLO, 0);
      header.writeUInt32BE(payload.length, 1);
      socket.write(Buffer.concat([header, payload]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 5) return;
      const length = received.readUInt32BE(1);
      if (received.length < 5 + length) return;
      const payload = received.subarray(5, 5 + length);
      if (received[0] !== HELLO || !payload.subarray(0, 4).equals(HELLO_MAGIC) || length < 10) return fail('not a dt hello');
      clearTimeout(timer);
      socket.destroy();
      resolve(payload.readUInt32BE(HELLO_MAGIC.length + 2));
    });
  });
}

/** The pid of the dtach master of a socket: the daemon that `dtach -n <socket>` forked. */
export function dtachMasterPid(socketPath) {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0');
      if (path.basename(argv[0]) === 'dtach' && argv[1] === '-n' && argv[2] === socketPath && !hasEnded(Number(entry))) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error(`no dtach master for ${socketPath}`);
}

/** Resolves once a connection to the socket succeeds; the connection is closed at once. */
export function tryConnect(socketPath) {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

/**
 * CPU time (user + system) a process has used, in seconds; 0 once it is gone. From each
 * thread's schedstat, the scheduler's own count in ns: /proc/PID/stat counts in ticks of
 * 10 ms, and a master relaying 32 MiB ran for 15-20 of them, so one tick more or less was
 * 5-6% of a figure. A thread that has exited is not counted (stat would count it).
 */
export function cpuSeconds(pid) {
  return threadsCpuSeconds(pid, () => true);
}

/**
 * CPU time, in seconds, of a process's threads other than its main one: in a Node process,
 * V8's helpers (its optimizing compiler, and the garbage collector's helpers unless it runs
 * with --single-threaded-gc) and libuv's thread pool. 0 once the process is gone.
 */
export function helperThreadsCpuSeconds(pid) {
  return threadsCpuSeconds(pid, (tid) => tid !== String(pid));
}

/** The CPU time of the threads `which` picks: from each one's schedstat, or its stat (in ticks) where there is none. */
function threadsCpuSeconds(pid, which) {
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  let seconds = 0;
  for (const tid of tids.filter(which)) {
    try {
      seconds += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]) / 1e9;
    } catch {
      seconds += statCpuSeconds(`${pid}/task/${tid}`); // 0 for a thread that has just exited
    }
  }
  return seconds;
}

function statCpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** USER_HZ: what /proc/PID/stat counts CPU time in; 100 on every Linux that matters. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Pids of a process's direct children (empty once it is gone). */
export function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of the whole machine since boot: busy (all cores together) and idle. */
export function machineCpuSeconds() {
  const fields = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const idle = fields[3] + fields[4];
  const busy = fields.slice(0, 8).reduce((a, b) => a + b, 0) - idle;
  return { busy: busy / CLOCK_TICKS_PER_SECOND, idle: idle / CLOCK_TICKS_PER_SECOND };
}
