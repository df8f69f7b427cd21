// Output throughput: the writer fixture writes a known pattern; every viewer's terminal is
// checked against it as the bytes arrive (memcmp of each chunk against the expected bytes,
// nothing kept), and timed from the moment the writer is told to start.

import fs from 'node:fs';
import { childPids, cpuSeconds, helperThreadsCpuSeconds, machineCpuSeconds, waitUntil } from './procs.mjs';
import { attachViewer, finishedRound, removeLogFiles, startSession, stopMaster, writerCommand } from './session.mjs';

const PATTERN_LINE_BYTES = 16;
/** After the writer has finished, a viewer that received nothing for this long gets nothing more. */
const DRAIN_QUIET_MS = 1_000;
const PING_LETTERS = 'ABCDEFHIJKLMNOPQRSTUVWYZ'; // uppercase: never the writer's g or x
const PING_ANSWER_MS = 400;
const TAIL_BYTES = 512;

/** `%015d\n` lines from line 0, `bytes` long (a multiple of 16): every byte a function of its offset. */
export function writePatternFile(file, bytes) {
  const pattern = Buffer.alloc(bytes);
  const digits = Buffer.from('000000000000000\n', 'latin1');
  for (let offset = 0; offset < bytes; offset += PATTERN_LINE_BYTES) {
    digits.copy(pattern, offset);
    // Increment the decimal counter in place.
    for (let at = 14; at >= 0; at--) {
      if (digits[at] === 0x39) { digits[at] = 0x30; continue; }
      digits[at] += 1;
      break;
    }
  }
  fs.writeFileSync(file, pattern);
  return pattern;
}

/**
 * Coloured lines, as `ls --color` writes them: two names a line, each in its own colour, an
 * escape sequence every 13 bytes, which the master's mode tracker reads (the digits of
 * writePatternFile have none). As many whole lines as fit in `bytes`; every line differs.
 */
export function writeColouredPatternFile(file, bytes) {
  const lines = [];
  const lineBytes = colouredLine(0).length;
  for (let line = 0; line < Math.floor(bytes / lineBytes); line++) lines.push(colouredLine(line));
  const pattern = Buffer.from(lines.join(''), 'latin1');
  fs.writeFileSync(file, pattern);
  return pattern;
}

function colouredLine(line) {
  const name = String(line).padStart(12, '0');
  return `\x1b[01;34m${name}\x1b[0m  \x1b[01;32m${name}.sh\x1b[0m\n`;
}

/** Checks one viewer's stream against the pattern repeated, as it arrives. */
class StreamCheck {
  constructor(pattern, total) {
    this.pattern = pattern;
    this.total = total;
    this.received = 0;
    this.intact = true;
    this.firstMismatchAt = undefined;
    this.lastByteAt = undefined;
    this.completeAt = undefined;
    this.tailFrom = undefined;
    this.tailBytes = Buffer.alloc(0);
  }

  push(chunk, now) {
    if (this.intact) this.compare(chunk);
    this.keepTail(chunk);
    this.received += chunk.length;
    this.lastByteAt = now;
    if (this.completeAt === undefined && this.received >= this.total) this.completeAt = now;
  }

  get complete() {
    return this.completeAt !== undefined;
  }

  compare(chunk) {
    let done = 0;
    while (done < chunk.length) {
      const offset = this.received + done;
      if (offset >= this.total) return this.mismatch(offset); // bytes beyond the end
      const start = offset % this.pattern.length;
      const length = Math.min(chunk.length - done, this.pattern.length - start, this.total - offset);
      if (chunk.compare(this.pattern, start, start + length, done, done + length) !== 0) {
        let same = 0;
        while (chunk[done + same] === this.pattern[start + same]) same++;
        return this.mismatch(offset + same);
      }
      done += length;
    }
  }

  mismatch(offset) {
    this.intact = false;
    this.firstMismatchAt = offset;
    this.tailFrom = offset;
  }

  /** Up to TAIL_BYTES from the first byte that was not the pattern, for the report. */
  keepTail(chunk) {
    if (this.tailFrom === undefined || this.tailBytes.length >= TAIL_BYTES) return;
    const from = Math.max(0, this.tailFrom - this.received);
    this.tailBytes = Buffer.concat([this.tailBytes, chunk.subarray(from)]).subarray(0, TAIL_BYTES);
  }

  get tail() {
    return this.tailBytes.toString('latin1');
  }
}

/**
 * One program writing the pattern, seen by some viewers. "direct": the writer's own terminal
 * is the only viewer and the input. dt/dtach: a detached session; the first viewer's terminal
 * is where the benchmark types.
 */
export class PatternSession {
  static async start(workspace, tool, patternFile, pattern, repeat = 1) {
    const session = new PatternSession(workspace, tool, pattern, repeat);
    const command = writerCommand(patternFile, session.doneFile, repeat);
    if (tool === 'direct') {
      session.viewers.push(workspace.term(command[0], command.slice(1)));
    } else {
      session.socket = workspace.path('s');
      session.masterPid = await startSession(workspace, tool, session.socket, command);
    }
    return session;
  }

  constructor(workspace, tool, pattern, repeat) {
    this.workspace = workspace;
    this.tool = tool;
    this.pattern = pattern;
    this.total = pattern.length * repeat;
    this.doneFile = workspace.path('done');
    this.viewers = [];
    this.pings = 0;
    this.rounds = 0;
  }

  get input() {
    return this.viewers[0];
  }

  attach(count) {
    for (let i = 0; i < count; i++) this.viewers.push(attachViewer(this.workspace, this.tool, this.socket));
  }

  /** Pings the writer until every viewer has shown its answer: then all of them see its output. */
  async handshake(timeoutMs = 20_000) {
    for (const viewer of this.viewers) {
      viewer.sink = undefined;
      viewer.captured = [];
      viewer.capturing = true;
    }
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const marker = `PONG ${PING_LETTERS[this.pings++ % PING_LETTERS.length]}\n`;
      this.input.write(marker[5]);
      try {
        await waitUntil(() => this.viewers.every((viewer) => viewer.text.includes(marker)), `all viewers to show ${JSON.stringify(marker)}`, PING_ANSWER_MS, 5);
        return marker;
      } catch (error) {
        if (performance.now() > deadline) throw new Error(`${this.tool}: viewers did not all see the program: ${error.message}`);
        const ended = this.viewers.find((viewer) => viewer.exitInfo);
        if (ended) throw new Error(`${this.tool}: a viewer exited before the stream: ${JSON.stringify(ended.text.slice(-300))}`);
      }
    }
  }

  /**
   * One round: every viewer checked against the pattern, timed from `g`. Ends when the
   * viewers `required` says must finish have all the bytes, or when the writer is done and no
   * viewer received anything for DRAIN_QUIET_MS. onChunk(index, check) runs on each chunk.
   */
  async round({ required = () => true, timeoutMs = 180_000, onChunk } = {}) {
    const marker = await this.handshake();
    const checks = this.viewers.map((viewer, index) => {
      const check = new StreamCheck(this.pattern, this.total);
      const text = viewer.text;
      const leftover = viewer.captured[0].subarray(text.lastIndexOf(marker) + marker.length);
      viewer.capturing = false;
      viewer.captured = [];
      viewer.sink = (chunk) => {
        check.push(chunk, performance.now());
        onChunk?.(index, check);
      };
      if (leftover.length > 0) viewer.sink(leftover);
      return check;
    });
    this.rounds += 1;
    const cpuBefore = this.cpuSnapshot();
    const startedAt = performance.now();
    this.input.write('g');
    let timedOut = false;
    // CPU is counted until the last required viewer had everything, or else until the writer
    // was done: not over the quiet wait for bytes that never come.
    let cpuAfter;
    let endedAt;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        if (checks.every((check, index) => check.complete || !required(index))) return stop(true);
        const writerDone = finishedRound(this.doneFile) >= this.rounds;
        if (writerDone && cpuAfter === undefined) {
          cpuAfter = this.cpuSnapshot();
          endedAt = now;
        }
        const lastByteAt = Math.max(startedAt, ...checks.map((check) => check.lastByteAt ?? 0));
        if (writerDone && now - lastByteAt > DRAIN_QUIET_MS) return stop(false);
        if (now - startedAt > timeoutMs) { timedOut = true; stop(false); }
      }, 10);
      const stop = (complete) => {
        clearInterval(timer);
        if (complete || cpuAfter === undefined) {
          cpuAfter = this.cpuSnapshot();
          endedAt = performance.now();
        }
        resolve();
      };
    });
    const seconds = (endedAt - startedAt) / 1000;
    const cpu = Object.fromEntries(Object.keys(cpuAfter).map((role) => [role, cpuAfter[role] - cpuBefore[role]]));
    return { startedAt, checks, timedOut, total: this.total, cpu: { ...cpu, wallSeconds: seconds } };
  }

  /**
   * CPU seconds used so far by each role: the program (writer), the master, the clients
   * together, and this benchmark process (the reader of every terminal). Of the master's and
   * the clients', what their helper threads used (a new dt process's compiling, mostly).
   */
  cpuSnapshot() {
    const sum = (pids, measure = cpuSeconds) => pids.reduce((total, pid) => total + measure(pid), 0);
    const usage = process.cpuUsage();
    const machine = machineCpuSeconds();
    const common = { bench: (usage.user + usage.system) / 1e6, machineBusy: machine.busy, machineIdle: machine.idle };
    if (this.tool === 'direct') return { program: cpuSeconds(this.viewers[0].pid), master: 0, clients: 0, masterHelpers: 0, clientHelpers: 0, ...common };
    const clientPids = this.viewers.map((viewer) => viewer.pid);
    return {
      program: sum(childPids(this.masterPid)),
      master: cpuSeconds(this.masterPid),
      clients: sum(clientPids),
      masterHelpers: helperThreadsCpuSeconds(this.masterPid),
      clientHelpers: sum(clientPids, helperThreadsCpuSeconds),
      ...common,
    };
  }

  /** Tells the writer to exit and waits for every viewer and the master to end. */
  async end(timeoutMs = 15_000) {
    this.input.write('x');
    await Promise.all(this.viewers.map((viewer) => viewer.waitForExit(timeoutMs)));
    if (this.masterPid) await stopMaster(this.masterPid, timeoutMs); // normally already gone
  }
}

/** Summary of a round: the time until the last viewer had everything (or its last byte). */
export function summarizeRound({ startedAt, checks, timedOut, total, cpu }) {
  const seconds = Math.max(...checks.map((check) => ((check.completeAt ?? check.lastByteAt ?? startedAt) - startedAt) / 1000));
  const shares = checks.map((check) => Math.min(check.received, total) / total);
  const deliveredMiB = shares.reduce((sum, share) => sum + share, 0) * total / 1024 / 1024;
  return {
    seconds,
    mibPerSecond: total / 1024 / 1024 / seconds,
    shares,
    minShare: Math.min(...shares),
    incompleteViewers: checks.filter((check) => !check.complete).length,
    corruptViewers: checks.filter((check) => !check.intact).length,
    timedOut,
    cpu,
    // What relaying cost: CPU ms of the master and clients per MiB that reached a viewer.
    relayCpuMsPerMiB: cpu ? ((cpu.master + cpu.clients) * 1000) / deliveredMiB : undefined,
    // Of that, what the master's and clients' helper threads cost: mostly V8 compiling a new
    // process's code, which every run pays once since each starts a fresh session.
    relayHelperCpuMsPerMiB: cpu ? ((cpu.masterHelpers + cpu.clientHelpers) * 1000) / deliveredMiB : undefined,
    // Share of the machine's CPU time (all cores) that was busy during the round, ours or not.
    machineBusy: cpu ? cpu.machineBusy / (cpu.machineBusy + cpu.machineIdle) : undefined,
  };
}

/**
 * One throughput measurement: a fresh session, `viewers` viewers, one round, then the end.
 * With `warmedRound`, a second round in the same session follows, summarized as `warmed`:
 * the same bytes through processes that have run the code before (V8 has compiled it).
 */
export async function measureThroughput(workspace, tool, viewers, patternFile, pattern, { warmedRound = false } = {}) {
  const session = await PatternSession.start(workspace, tool, patternFile, pattern);
  if (tool !== 'direct') session.attach(viewers);
  const summary = summarizeRound(await session.round());
  if (warmedRound) summary.warmed = summarizeRound(await session.round());
  await session.end();
  // The log holds the end of the stream (FILE.1 and FILE); the master has closed it.
  if (tool === 'dt-log') summary.loggedBytes = removeLogFiles(session.socket);
  return summary;
}

