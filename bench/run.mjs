// `npm run bench`: dt against the program running directly in a terminal ("direct", the
// physical limit), against dtach 0.9, and against `node -e 0` (a bare Node start, the floor
// of any dt command), on output throughput with 1/4/16 viewers, keystroke round trip, attach
// latency, `-n` latency, master/client memory (RSS, PSS and private), what 50 idle sessions
// cost, and what a log (-L) costs the 1-viewer throughput. Every figure is the median of
// interleaved repetitions (A,B,C,A,B,C...), with min and max.
//
//   node bench/run.mjs [--quick] [--json FILE] [--reps N] [--mib N] [--only SECTION,...]
//                      [--timeout SECONDS] [--cpu-prof DIR]
//
// Sections: throughput, colour, keys, attach, create, memory, idle, log. --quick is a ~30 s smoke run.
// --mib N: MiB the writer writes per throughput, log and memory run (32; every run starts a fresh session, so a
// larger N weighs a new master's one-time costs, V8 compiling its code, less). The
// benchmark stops by itself (global timeout) and kills, by pid, everything it started.
// --cpu-prof DIR: every Node process it starts (dt clients and masters, fixtures) writes a
// V8 CPU profile there when it exits, named by role (bench/cpu-profile.mjs; the environment
// variable DT_BENCH_PROFILE_ROLES=dt-master,dt-client-a narrows it). Figures are slower then,
// and a profiled client differs: the profiler's SIGPROF interrupts its blocking terminal
// writes, which then turn asynchronous. DT_BENCH_BIN=/path/to/bin/dt measures another build.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measureAttach, measureCreate, measureNodeStart, EchoTarget } from './latency.mjs';
import { measureIdleSessions } from './idle.mjs';
import { measureMemory } from './memory.mjs';
import { HAVE_DTACH, ROOT, Workspace, profileInto } from './procs.mjs';
import { figure, formatTable, percentile, row } from './report.mjs';
import { measureThroughput, writeColouredPatternFile, writePatternFile } from './stream.mjs';

const MIB = 1024 * 1024;
const SECTIONS = ['throughput', 'colour', 'keys', 'attach', 'create', 'memory', 'idle', 'log'];

const { values: argv } = parseArgs({
  options: { quick: { type: 'boolean' }, help: { type: 'boolean' }, json: { type: 'string' }, only: { type: 'string' }, reps: { type: 'string' }, mib: { type: 'string' }, timeout: { type: 'string' }, 'cpu-prof': { type: 'string' } },
});
if (argv.help) {
  process.stdout.write('usage: node bench/run.mjs [--quick] [--json FILE] [--reps N] [--mib N] [--only SECTION,...] [--timeout SECONDS] [--cpu-prof DIR]\n');
  process.exit(0);
}
const QUICK = argv.quick === true;
const CONFIG = {
  // Throughput: bytes the writer writes per run; runs per (tool, viewer count).
  patternMiB: QUICK ? 4 : 32,
  throughputReps: QUICK ? 3 : 5,
  viewerCounts: [1, 4, 16],
  // Keystrokes: trips per repetition (p50 and p99 are taken in each), after a warm-up.
  keyReps: 3,
  keyTrips: QUICK ? 200 : 1000,
  warmupTrips: QUICK ? 20 : 100,
  // Then the same number of repetitions again, later in the same sessions: after 100 + 3 x 1000
  // trips, V8 has compiled what a keystroke runs in dt's client and master (tier-up.ts).
  warmedKeyReps: 3,
  attachReps: QUICK ? 3 : 9,
  createReps: QUICK ? 3 : 9,
  // Memory: sessions per tool; the heavy rounds write the pattern this many times (3 x 32 MiB = 100.7 MB).
  memoryReps: QUICK ? 1 : 2,
  // Log cost: pairs of 1-viewer runs, dt then dt -L, back to back.
  logReps: QUICK ? 3 : 7,
  heavyRepeat: QUICK ? 4 : 3,
  // Idle sessions: how many at once, and for how long their CPU is counted.
  idleSessions: QUICK ? 10 : 50,
  idleSeconds: QUICK ? 2 : 5,
  // A failure limit, not the expected duration (about 2 min, or 30 s with --quick, on 2 idle cores).
  timeoutSeconds: QUICK ? 180 : 720,
};
if (argv.reps !== undefined) {
  const reps = Number(argv.reps);
  Object.assign(CONFIG, { throughputReps: reps, keyReps: reps, attachReps: reps, createReps: reps, memoryReps: reps, logReps: reps });
}
if (argv.timeout !== undefined) CONFIG.timeoutSeconds = Number(argv.timeout);
if (argv.mib !== undefined) {
  CONFIG.patternMiB = Number(argv.mib);
  if (!Number.isInteger(CONFIG.patternMiB) || CONFIG.patternMiB < 1) {
    process.stderr.write(`bench: --mib takes a whole number of MiB, at least 1: ${argv.mib}\n`);
    process.exit(2);
  }
}
if (argv['cpu-prof']) {
  fs.mkdirSync(path.resolve(argv['cpu-prof']), { recursive: true });
  profileInto(path.resolve(argv['cpu-prof']));
}
const only = argv.only ? argv.only.split(',') : SECTIONS;
for (const section of only) {
  if (SECTIONS.includes(section)) continue;
  process.stderr.write(`bench: unknown section ${section}; sections: ${SECTIONS.join(', ')}\n`);
  process.exit(2);
}
const TOOLS = HAVE_DTACH ? ['direct', 'dt', 'dtach'] : ['direct', 'dt'];
const RELAYS = TOOLS.filter((tool) => tool !== 'direct');

// ---- lifetime: every workspace is cleaned up on every way out ----

const workspaces = new Set();
function newWorkspace() {
  const workspace = new Workspace();
  workspaces.add(workspace);
  return workspace;
}
async function closeWorkspace(workspace) {
  const left = await workspace.cleanup();
  workspaces.delete(workspace);
  if (left.length > 0) log(`warning: processes ${left.join(', ')} of ${workspace.dir} survived SIGKILL`);
}
function emergencyCleanup() {
  for (const workspace of workspaces) workspace.cleanupNow();
  workspaces.clear();
}
const watchdog = setTimeout(() => {
  log(`bench: global timeout of ${CONFIG.timeoutSeconds} s reached; killing everything it started`);
  emergencyCleanup();
  process.exit(3);
}, CONFIG.timeoutSeconds * 1000);
process.on('exit', emergencyCleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    emergencyCleanup();
    process.exit(128 + os.constants.signals[signal]);
  });
}

function log(message) {
  process.stderr.write(`${message}\n`);
}

// ---- sections: each gathers raw repetitions, interleaved across tools ----

async function runThroughput(results) {
  const workspace = newWorkspace();
  try {
    const patternFile = workspace.path('pattern');
    const pattern = writePatternFile(patternFile, CONFIG.patternMiB * MIB);
    const runs = (results.throughput = { bytes: pattern.length, runs: {} });
    for (let rep = 1; rep <= CONFIG.throughputReps; rep++) {
      for (const viewers of CONFIG.viewerCounts) {
        for (const tool of TOOLS) {
          if (tool === 'direct' && viewers !== 1) continue; // one terminal: the reference for every count
          const summary = await measureThroughput(workspace, tool, viewers, patternFile, pattern, { warmedRound: viewers === 1 });
          ((runs.runs[tool] ??= {})[viewers] ??= []).push(summary);
          log(`throughput rep ${rep}/${CONFIG.throughputReps} ${tool} ${viewers} viewer(s): ${summary.mibPerSecond.toFixed(1)} MiB/s, worst share ${(summary.minShare * 100).toFixed(1)}%` +
            (summary.warmed ? `; second ${CONFIG.patternMiB} MiB ${summary.warmed.mibPerSecond.toFixed(1)} MiB/s` : ''));
        }
      }
    }
  } finally {
    await closeWorkspace(workspace);
  }
}

/**
 * 1-viewer throughput of coloured output: what the master's mode tracker costs on output as
 * programs write it, whose escape sequences it reads (the throughput section's digits have none).
 */
async function runColour(results) {
  const workspace = newWorkspace();
  try {
    const patternFile = workspace.path('coloured');
    const pattern = writeColouredPatternFile(patternFile, CONFIG.patternMiB * MIB);
    const runs = (results.colour = { bytes: pattern.length, runs: {} });
    for (let rep = 1; rep <= CONFIG.throughputReps; rep++) {
      for (const tool of TOOLS) {
        const summary = await measureThroughput(workspace, tool, 1, patternFile, pattern);
        (runs.runs[tool] ??= []).push(summary);
        log(`colour rep ${rep}/${CONFIG.throughputReps} ${tool}: ${summary.mibPerSecond.toFixed(1)} MiB/s, worst share ${(summary.minShare * 100).toFixed(1)}%`);
      }
    }
  } finally {
    await closeWorkspace(workspace);
  }
}

async function runKeysAndAttach(results, { keys, attach }) {
  const workspace = newWorkspace();
  const targets = {};
  try {
    for (const tool of TOOLS) {
      targets[tool] = await EchoTarget.open(workspace, tool);
      await targets[tool].trips(CONFIG.warmupTrips);
    }
    if (keys) {
      results.keys = { trips: CONFIG.keyTrips, reps: {} };
      for (let rep = 1; rep <= CONFIG.keyReps; rep++) {
        for (const tool of TOOLS) {
          const times = await targets[tool].trips(CONFIG.keyTrips);
          const stats = { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) };
          (results.keys.reps[tool] ??= []).push(stats);
          log(`keys rep ${rep}/${CONFIG.keyReps} ${tool}: p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms`);
        }
      }
      results.keys.warmedReps = {};
      for (let rep = 1; rep <= CONFIG.warmedKeyReps; rep++) {
        for (const tool of TOOLS) {
          const times = await targets[tool].trips(CONFIG.keyTrips);
          const stats = { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) };
          (results.keys.warmedReps[tool] ??= []).push(stats);
          log(`keys, warmed session, rep ${rep}/${CONFIG.warmedKeyReps} ${tool}: p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms`);
        }
      }
    }
    if (attach) {
      results.attach = {};
      for (let rep = 1; rep <= CONFIG.attachReps; rep++) {
        for (const tool of TOOLS) {
          const ms = await measureAttach(workspace, tool, targets[tool]);
          (results.attach[tool] ??= []).push(ms);
          log(`attach rep ${rep}/${CONFIG.attachReps} ${tool}: ${ms.toFixed(1)} ms`);
        }
        const floor = await measureNodeStart(workspace);
        (results.attach.floor ??= []).push(floor);
        log(`attach rep ${rep}/${CONFIG.attachReps} node -e 0: ${floor.toFixed(1)} ms`);
      }
    }
    for (const tool of TOOLS) await targets[tool].close();
  } finally {
    await closeWorkspace(workspace);
  }
}

async function runCreate(results) {
  const workspace = newWorkspace();
  try {
    results.create = {};
    for (let rep = 1; rep <= CONFIG.createReps; rep++) {
      for (const tool of TOOLS) {
        const times = await measureCreate(workspace, tool);
        (results.create[tool] ??= []).push(times);
        log(`create rep ${rep}/${CONFIG.createReps} ${tool}: returned ${times.returnedMs.toFixed(1)} ms, accepting ${times.acceptingMs.toFixed(1)} ms`);
      }
    }
  } finally {
    await closeWorkspace(workspace);
  }
}

/** 1-viewer throughput of dt, then of dt with a log, back to back: what writing the log costs. */
async function runLogCost(results) {
  const workspace = newWorkspace();
  try {
    const patternFile = workspace.path('pattern');
    const pattern = writePatternFile(patternFile, CONFIG.patternMiB * MIB);
    results.log = { bytes: pattern.length, pairs: [] };
    for (let rep = 1; rep <= CONFIG.logReps; rep++) {
      const plain = await measureThroughput(workspace, 'dt', 1, patternFile, pattern);
      const logged = await measureThroughput(workspace, 'dt-log', 1, patternFile, pattern);
      results.log.pairs.push({ plain, logged });
      log(`log rep ${rep}/${CONFIG.logReps}: dt ${plain.mibPerSecond.toFixed(1)} MiB/s, dt -L ${logged.mibPerSecond.toFixed(1)} MiB/s ` +
        `(${(logged.mibPerSecond / plain.mibPerSecond).toFixed(2)}x), ${logged.loggedBytes} bytes in the log`);
    }
  } finally {
    await closeWorkspace(workspace);
  }
}

async function runIdle(results) {
  const workspace = newWorkspace();
  try {
    results.idle = { count: CONFIG.idleSessions, seconds: CONFIG.idleSeconds, tools: {} };
    for (const tool of RELAYS) {
      const idle = await measureIdleSessions(workspace, tool, CONFIG.idleSessions, CONFIG.idleSeconds);
      results.idle.tools[tool] = idle;
      log(`idle ${tool}: ${idle.count} sessions, private ${(idle.private / MIB).toFixed(1)} MiB, PSS ${(idle.pss / MIB).toFixed(1)} MiB, ` +
        `RSS ${(idle.rss / MIB).toFixed(1)} MiB, CPU ${idle.cpuMsPerSecond.toFixed(2)} ms/s`);
    }
  } finally {
    await closeWorkspace(workspace);
  }
}

async function runMemory(results) {
  const workspace = newWorkspace();
  try {
    const patternFile = workspace.path('pattern');
    const pattern = writePatternFile(patternFile, CONFIG.patternMiB * MIB);
    results.memory = { heavyBytes: pattern.length * CONFIG.heavyRepeat, reps: {} };
    for (let rep = 1; rep <= CONFIG.memoryReps; rep++) {
      for (const tool of RELAYS) {
        const memory = await measureMemory(workspace, tool, patternFile, pattern, CONFIG.heavyRepeat);
        (results.memory.reps[tool] ??= []).push(memory);
        const mib = (bytes) => (bytes === undefined ? '-' : (bytes / MIB).toFixed(1));
        log(`memory rep ${rep}/${CONFIG.memoryReps} ${tool}: master idle ${mib(memory.idle)} MiB, after heavy ${mib(memory.afterHeavy)}, ` +
          `stall peak ${mib(memory.stallPeak)}, final ${mib(memory.final)}; stopped viewer got ${(memory.stalledViewer.share * 100).toFixed(1)}%` +
          `${memory.stalledViewer.exitedAfterContinue ? ' and left' : ''}`);
      }
    }
  } finally {
    await closeWorkspace(workspace);
  }
}

// ---- the table ----

function buildRows(results) {
  const rows = [];
  const pick = (byTool, value) => Object.fromEntries(TOOLS.map((tool) => [tool, byTool?.[tool] ? figure(byTool[tool].map(value)) : undefined]));
  const verdict = (text, pass) => ({ text, pass });

  if (results.throughput) {
    const total = results.throughput.bytes;
    rows.push({ section: `Output throughput: ${total / MIB} MiB written, per viewer (time until the slowest viewer had every byte, or its last byte)` });
    const runsFor = (viewers) => Object.fromEntries(TOOLS.map((tool) => [tool, results.throughput.runs[tool]?.[tool === 'direct' ? 1 : viewers]]));
    for (const viewers of CONFIG.viewerCounts) {
      const figures = pick(runsFor(viewers), (run) => run.mibPerSecond);
      let target;
      if (viewers === 1) target = verdict('>= 0.92x direct', figures.dt && figures.direct ? figures.dt.median / figures.direct.median >= 0.92 : undefined);
      rows.push(row(`throughput, ${viewers} viewer${viewers > 1 ? 's' : ''}`, 'MiB/s', figures, target));
    }
    for (const viewers of CONFIG.viewerCounts) {
      const runs = Object.fromEntries(Object.entries(runsFor(viewers)).filter(([tool]) => tool !== 'direct'));
      const figures = pick(runs, (run) => run.relayCpuMsPerMiB);
      const target = viewers === 1
        ? verdict('<= 1.3x dtach', figures.dt && figures.dtach ? figures.dt.median / figures.dtach.median <= 1.3 : undefined)
        : undefined;
      rows.push(row(`relay CPU (master+clients), ${viewers} viewer${viewers > 1 ? 's' : ''}`, 'ms/MiB', figures, target));
    }
    const helperRuns = Object.fromEntries(Object.entries(runsFor(1)).filter(([tool]) => tool !== 'direct'));
    rows.push(row('  of it in helper threads (compiling), 1 viewer', 'ms/MiB', pick(helperRuns, (run) => run.relayHelperCpuMsPerMiB)));
    // The same session's next round: what a session that has relayed output before does.
    const warmed = (run) => run.warmed;
    rows.push(row(`throughput, 1 viewer, the session's second ${total / MIB} MiB`, 'MiB/s', pick(runsFor(1), (run) => warmed(run)?.mibPerSecond)));
    rows.push(row(`relay CPU, 1 viewer, the session's second ${total / MIB} MiB`, 'ms/MiB', pick(helperRuns, (run) => warmed(run)?.relayCpuMsPerMiB)));
    rows.push(row('machine CPU busy, 16 viewers', '%', pick(runsFor(16), (run) => run.machineBusy)));
    for (const viewers of CONFIG.viewerCounts) {
      const runs = runsFor(viewers);
      const figures = pick(runs, (run) => run.minShare);
      const dtRuns = runs.dt ?? [];
      const target = viewers === 16
        ? verdict('every viewer 100%', dtRuns.length > 0 ? dtRuns.every((run) => run.minShare === 1 && run.corruptViewers === 0 && run.incompleteViewers === 0) : undefined)
        : undefined;
      rows.push(row(`bytes received, worst viewer of ${viewers}`, '%', figures, target));
    }
  }
  if (results.colour) {
    rows.push({ section: `Coloured output: ${(results.colour.bytes / MIB).toFixed(0)} MiB of \`ls --color\`-like lines (4 escape sequences in every 54 bytes), 1 viewer` });
    rows.push(row('throughput, 1 viewer, coloured', 'MiB/s', pick(results.colour.runs, (run) => run.mibPerSecond)));
    const relays = Object.fromEntries(Object.entries(results.colour.runs).filter(([tool]) => tool !== 'direct'));
    rows.push(row('relay CPU, 1 viewer, coloured', 'ms/MiB', pick(relays, (run) => run.relayCpuMsPerMiB)));
    rows.push(row('bytes received, coloured', '%', pick(results.colour.runs, (run) => run.minShare)));
  }
  if (results.log) {
    const { pairs, bytes } = results.log;
    rows.push({ section: `Log (-L): ${bytes / MIB} MiB through 1 viewer, dt then dt -L back to back; ratio of each pair` });
    rows.push(row('throughput, 1 viewer, no log', 'MiB/s', { dt: figure(pairs.map((pair) => pair.plain.mibPerSecond)) }));
    rows.push(row('throughput, 1 viewer, -L', 'MiB/s', { dt: figure(pairs.map((pair) => pair.logged.mibPerSecond)) }));
    const ratios = figure(pairs.map((pair) => pair.logged.mibPerSecond / pair.plain.mibPerSecond));
    rows.push(row('-L / no log, per pair', 'x', { dt: ratios }, verdict('>= 0.95x', ratios ? ratios.median >= 0.95 : undefined)));
    rows.push(row('relay CPU, 1 viewer, no log', 'ms/MiB', { dt: figure(pairs.map((pair) => pair.plain.relayCpuMsPerMiB)) }));
    rows.push(row('relay CPU, 1 viewer, -L', 'ms/MiB', { dt: figure(pairs.map((pair) => pair.logged.relayCpuMsPerMiB)) }));
  }
  if (results.keys) {
    rows.push({ section: `Keystroke round trip (${results.keys.trips} trips per repetition, one at a time)` });
    const p50 = pick(results.keys.reps, (rep) => rep.p50);
    rows.push(row('keystroke p50', 'ms', p50, verdict('<= 2.3x direct', p50.dt && p50.direct ? p50.dt.median / p50.direct.median <= 2.3 : undefined)));
    const p99 = pick(results.keys.reps, (rep) => rep.p99);
    rows.push(row('keystroke p99', 'ms', p99, verdict('<= 3x direct', p99.dt && p99.direct ? p99.dt.median / p99.direct.median <= 3 : undefined)));
    if (results.keys.warmedReps) {
      const later = CONFIG.warmupTrips + CONFIG.keyReps * results.keys.trips;
      rows.push(row(`keystroke p50, after the session's first ${later} trips`, 'ms', pick(results.keys.warmedReps, (rep) => rep.p50)));
      rows.push(row(`keystroke p99, after the session's first ${later} trips`, 'ms', pick(results.keys.warmedReps, (rep) => rep.p99)));
    }
  }
  if (results.attach) {
    rows.push({ section: 'Attach: spawn the client, type a key at once, see the program echo it (direct: start the echo program itself)' });
    const figures = { ...pick(results.attach, (ms) => ms), floor: figure(results.attach.floor ?? []) };
    rows.push(row('attach to echo', 'ms', figures, verdict('<= 1.15x node -e 0', figures.dt && figures.floor ? figures.dt.median / figures.floor.median <= 1.15 : undefined)));
  }
  if (results.create) {
    rows.push({ section: '-n: start a detached session (direct: `node -e 0`, a bare Node start)' });
    const floor = figure((results.create.direct ?? []).map((times) => times.returnedMs));
    const returned = { ...pick(results.create, (times) => times.returnedMs), floor };
    rows.push(row('-n until it returns', 'ms', returned, verdict('<= 1.3x node -e 0', returned.dt && floor ? returned.dt.median / floor.median <= 1.3 : undefined)));
    rows.push(row('-n until the socket accepts', 'ms', { ...pick(results.create, (times) => times.acceptingMs), floor }));
  }
  if (results.memory) {
    rows.push({ section: `Memory: master idle, after ${(results.memory.heavyBytes / MIB).toFixed(0)} MiB through 16 viewers, then the same with one viewer SIGSTOPped. ` +
      'Private = Private_Clean + Private_Dirty (smaps_rollup): what the process alone costs; RSS also counts the node binary\'s shared pages. ' +
      'dt\'s private and PSS, and its RSS at the end, are taken once V8 has settled (12 s after start, after the burst, and at the end)' });
    const reps = results.memory.reps;
    const privateIdle = pick(reps, (m) => m.idleDetail?.private);
    rows.push(row('master private idle', 'MiB', privateIdle, verdict('<= 8.5 MiB', privateIdle.dt ? privateIdle.dt.median <= 8.5 * MIB : undefined)));
    rows.push(row('master PSS idle', 'MiB', pick(reps, (m) => m.idleDetail?.pss)));
    const privateHeavy = pick(reps, (m) => m.afterHeavyDetail?.private);
    rows.push(row('master private after 16 viewers', 'MiB', privateHeavy, verdict('<= 16 MiB', privateHeavy.dt ? privateHeavy.dt.median <= 16 * MIB : undefined)));
    rows.push(row('master PSS after 16 viewers', 'MiB', pick(reps, (m) => m.afterHeavyDetail?.pss)));
    rows.push(row('master private at the end', 'MiB', pick(reps, (m) => m.finalDetail?.private)));
    rows.push(row('master RSS idle', 'MiB', pick(reps, (m) => m.idle)));
    rows.push(row('master RSS peak, 16 viewers', 'MiB', pick(reps, (m) => m.heavyPeak)));
    rows.push(row('master RSS after 16 viewers', 'MiB', pick(reps, (m) => m.afterHeavy)));
    rows.push(row('master RSS peak, stopped viewer', 'MiB', pick(reps, (m) => m.stallPeak)));
    rows.push(row('master RSS after stopped viewer', 'MiB', pick(reps, (m) => m.afterStall)));
    rows.push(row('master RSS at the end', 'MiB', pick(reps, (m) => m.final)));
    const growth = pick(reps, (m) => m.growth);
    rows.push(row('master RSS growth, end vs idle', '%', growth, verdict('<= 10%', growth.dt ? growth.dt.median <= 0.1 : undefined)));
    rows.push(row('bytes received, 16 viewers, worst', '%', pick(reps, (m) => m.heavy.minShare)));
    rows.push(row('bytes received, stopped viewer', '%', pick(reps, (m) => m.stalledViewer.share)));
    rows.push(row('client RSS attached, idle', 'MiB', pick(reps, (m) => m.clientIdle)));
    rows.push(row('client RSS peak, 16 viewers', 'MiB', pick(reps, (m) => m.clientPeak)));
  }
  if (results.idle) {
    rows.push({ section: `${results.idle.count} idle sessions (each running sleep): their masters together, settled, and their CPU over ${results.idle.seconds} s` });
    const one = (key) => Object.fromEntries(TOOLS.map((tool) => [tool, results.idle.tools[tool] ? figure([results.idle.tools[tool][key]]) : undefined]));
    rows.push(row(`${results.idle.count} masters: private`, 'MiB', one('private')));
    rows.push(row(`${results.idle.count} masters: PSS`, 'MiB', one('pss')));
    rows.push(row(`${results.idle.count} masters: RSS`, 'MiB', one('rss')));
    const cpu = one('cpuMsPerSecond');
    rows.push(row(`${results.idle.count} masters: CPU while idle`, 'ms/s', cpu, verdict('none', cpu.dt ? cpu.dt.median === 0 : undefined)));
  }
  return rows;
}

function gitCommit() {
  try {
    const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}+dirty src` : commit;
  } catch {
    return 'unknown';
  }
}

async function main() {
  const startedAt = Date.now();
  const results = {
    meta: {
      date: new Date().toISOString(), quick: QUICK, config: CONFIG, commit: gitCommit(), node: process.version,
      cpus: os.cpus().length, loadAverageBefore: os.loadavg(), dtach: HAVE_DTACH,
      // Set, it has Node parse certificates as each process starts: part of the floor.
      extraCaCerts: process.env.NODE_EXTRA_CA_CERTS !== undefined,
    },
    errors: [],
  };
  log(`dt bench${QUICK ? ' --quick' : ''}: ${os.cpus().length} cpus, load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}${HAVE_DTACH ? '' : '; no /usr/bin/dtach, its column is skipped'}`);
  const guarded = async (name, body) => {
    try {
      await body();
    } catch (error) {
      log(`bench: ${name} failed: ${error.stack ?? error}`);
      results.errors.push({ section: name, error: String(error.message ?? error) });
    }
  };
  if (only.includes('throughput')) await guarded('throughput', () => runThroughput(results));
  if (only.includes('colour')) await guarded('colour', () => runColour(results));
  if (only.includes('keys') || only.includes('attach')) {
    await guarded('keys/attach', () => runKeysAndAttach(results, { keys: only.includes('keys'), attach: only.includes('attach') }));
  }
  if (only.includes('create')) await guarded('create', () => runCreate(results));
  if (only.includes('memory')) await guarded('memory', () => runMemory(results));
  if (only.includes('idle')) await guarded('idle', () => runIdle(results));
  if (only.includes('log')) await guarded('log', () => runLogCost(results));
  results.meta.loadAverageAfter = os.loadavg();
  results.meta.seconds = (Date.now() - startedAt) / 1000;
  results.rows = buildRows(results);

  const table = formatTable(results.rows, { haveDtach: HAVE_DTACH });
  process.stdout.write(`\ndt bench${QUICK ? ' (quick)' : ''}, commit ${results.meta.commit}, node ${process.version}, ${results.meta.cpus} cpus, ` +
    `load average ${results.meta.loadAverageBefore[0].toFixed(2)} before, ${results.meta.loadAverageAfter[0].toFixed(2)} after, ${results.meta.seconds.toFixed(0)} s\n` +
    (results.meta.extraCaCerts ? 'NODE_EXTRA_CA_CERTS is set: Node parses certificates as each process starts, `node -e 0` and every dt command (not dt\'s masters) included\n' : '') +
    `median [min-max] of interleaved repetitions; ratios are dt's median over the other's\n\n${table}\n`);
  if (results.errors.length > 0) process.stdout.write(`\nERRORS:\n${results.errors.map((e) => `  ${e.section}: ${e.error}`).join('\n')}\n`);
  if (argv.json) {
    fs.writeFileSync(path.resolve(argv.json), `${JSON.stringify(results, null, 2)}\n`);
    log(`bench: results written to ${path.resolve(argv.json)}`);
  }
  return results.errors.length > 0 ? 1 : 0;
}

main().then((code) => {
  clearTimeout(watchdog);
  emergencyCleanup();
  // Exit even if a terminal or timer of a measurement is still open: a benchmark that has
  // printed its table must never hang on (it did once, after --only memory).
  process.exit(code);
}, (error) => {
  log(`bench: ${error.stack ?? error}`);
  emergencyCleanup();
  process.exit(1);
});
