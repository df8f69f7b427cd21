// Latencies: a keystroke's round trip through the echo fixture, attaching until a typed key
// is echoed, and `-n` until it returns and until its socket accepts connections.

import fs from 'node:fs';
import { NODE, delay, tryConnect, waitUntil } from './procs.mjs';
import { DETACH_KEY, TOOLS, attachViewer, echoCommand, startSession, stopMaster } from './session.mjs';

const LETTERS = 'abcdefhijklmnopqrstuvwyz';
const TRIP_TIMEOUT_MS = 5_000;

/** Resolves with the ms from typing `letter` until the terminal shows its uppercase answer. */
function typeAndTime(term, letter, startedAt = performance.now(), timeoutMs = TRIP_TIMEOUT_MS) {
  const answer = letter.toUpperCase().charCodeAt(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      term.sink = undefined;
      reject(new Error(`no echo of ${JSON.stringify(letter)} within ${timeoutMs} ms; terminal showed ${JSON.stringify(term.text.slice(-200))}`));
    }, timeoutMs);
    term.sink = (chunk) => {
      if (!chunk.includes(answer)) return;
      clearTimeout(timer);
      term.sink = undefined;
      resolve(performance.now() - startedAt);
    };
    term.write(letter);
  });
}

/** A terminal where typed keys reach the echo fixture: directly, or through a dt/dtach client. */
export class EchoTarget {
  static async open(workspace, tool) {
    const target = new EchoTarget(workspace, tool);
    if (tool === 'direct') {
      const command = echoCommand(workspace);
      target.term = workspace.term(command[0], command.slice(1));
    } else {
      target.socket = workspace.path('e');
      target.masterPid = await startSession(workspace, tool, target.socket, echoCommand(workspace));
      target.term = attachViewer(workspace, tool, target.socket);
    }
    target.term.capturing = false; // a thousand trips would only pile up
    // The first answer proves the path works; until then a key may precede raw mode and be lost.
    await waitUntil(async () => {
      try {
        await typeAndTime(target.term, 'a', undefined, 300);
        return true;
      } catch {
        return false;
      }
    }, `${tool}: the echo fixture to answer`, 15_000, 0);
    return target;
  }

  constructor(workspace, tool) {
    this.workspace = workspace;
    this.tool = tool;
  }

  /** `count` round trips, one at a time; the ms of each. */
  async trips(count) {
    const times = [];
    for (let i = 0; i < count; i++) times.push(await typeAndTime(this.term, LETTERS[i % LETTERS.length]));
    return times;
  }

  async close() {
    this.term.write('\x04'); // the fixture exits on ^D; dt and dtach clients then end too
    await this.term.waitForExit(10_000);
    if (this.masterPid) await stopMaster(this.masterPid);
  }
}

/**
 * Attach latency: from spawning the client to the echo of a key typed at once (the key waits
 * in the terminal until the client reads it). For "direct", from spawning the echo program
 * itself: the cost of starting a Node program in a terminal. The client then detaches.
 */
export async function measureAttach(workspace, tool, target) {
  const startedAt = performance.now();
  const term = tool === 'direct'
    ? workspace.term(NODE, echoCommand(workspace).slice(1))
    : attachViewer(workspace, tool, target.socket);
  const ms = await typeAndTime(term, 'q', startedAt, 10_000);
  term.write(tool === 'direct' ? '\x04' : DETACH_KEY);
  await term.waitForExit(10_000);
  return ms;
}

/** A bare Node start, `node -e 0`: the floor of any dt command; ms until it exited. */
export async function measureNodeStart(workspace) {
  const startedAt = performance.now();
  const result = await workspace.run(NODE, ['-e', '0']);
  return result.endedAt - startedAt;
}

/**
 * `-n` latency: from spawning `<tool> -n <socket> <echo fixture>` until the command returned,
 * and until a connection to the socket succeeded (polled every millisecond). For "direct",
 * `node -e 0`: a bare Node start, the floor of any dt command.
 */
export async function measureCreate(workspace, tool) {
  const startedAt = performance.now();
  if (tool === 'direct') {
    const result = await workspace.run(NODE, ['-e', '0']);
    return { returnedMs: result.endedAt - startedAt, acceptingMs: result.endedAt - startedAt };
  }
  const socket = workspace.path('n');
  const [file, args] = TOOLS[tool].create(socket, echoCommand(workspace));
  const finished = workspace.run(file, args);
  let acceptingAt;
  const deadline = startedAt + 10_000;
  while (acceptingAt === undefined && performance.now() < deadline) {
    if (fs.existsSync(socket) && await tryConnect(socket)) acceptingAt = performance.now();
    else await delay(1);
  }
  const result = await finished;
  if (result.code !== 0) throw new Error(`${tool} -n exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  if (acceptingAt === undefined) throw new Error(`${tool} -n: ${socket} never accepted a connection`);
  await stopMaster(await TOOLS[tool].masterPid(socket));
  return { returnedMs: result.endedAt - startedAt, acceptingMs: acceptingAt - startedAt };
}
