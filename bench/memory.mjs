// Master and client memory over one session's life: idle, after a heavy round through 16
// viewers, and through a round with one viewer stopped (SIGSTOP) mid-stream. RSS (VmRSS) and,
// at the points where the master is still, its private memory and PSS (smaps_rollup).

import { delay, hasEnded, memoryOf, residentBytes, waitUntil } from './procs.mjs';
import { DETACH_KEY } from './session.mjs';
import { PatternSession, summarizeRound } from './stream.mjs';

const HEAVY_VIEWERS = 16;
const SAMPLE_EVERY_MS = 50;
/** The stalled viewer is stopped once it has shown this much of the stream. */
const STALL_AFTER_BYTES = 1024 * 1024;
/**
 * V8 gives back what start-up and a burst left behind (it shrinks its young generation and
 * frees empty pages) in one collection some 8 s after allocation stops, its "memory reducer".
 * A dt master is measured once that has happened: what it costs for the rest of its life.
 * Pacing, not synchronisation: nothing in the master tells when it is done.
 */
export const SETTLE_MS = 12_000;
/** After SIGCONT, how long the stopped viewer may stay silent before we stop waiting for it. */
const RESUME_QUIET_MS = 2_000;

/** Tracks the highest RSS of some pids while a round runs. */
function samplePeaks(pids) {
  const peaks = pids.map((pid) => residentBytes(pid) ?? 0);
  const timer = setInterval(() => {
    pids.forEach((pid, index) => { peaks[index] = Math.max(peaks[index], residentBytes(pid) ?? 0); });
  }, SAMPLE_EVERY_MS);
  return () => { clearInterval(timer); return peaks; };
}

export async function measureMemory(workspace, tool, patternFile, pattern, repeat) {
  const session = await PatternSession.start(workspace, tool, patternFile, pattern, repeat);
  const master = session.masterPid;
  if (tool === 'dt') await delay(SETTLE_MS);
  const idle = residentBytes(master);
  const idleDetail = memoryOf(master);

  // Heavy round: every viewer reads everything.
  session.attach(HEAVY_VIEWERS);
  await session.handshake();
  const clientIdle = residentBytes(session.viewers[0].pid);
  let stopSampling = samplePeaks([master, session.viewers[0].pid]);
  const heavy = summarizeRound(await session.round());
  const [heavyPeak, clientPeak] = stopSampling();
  const afterHeavy = residentBytes(master);
  if (tool === 'dt') await delay(SETTLE_MS);
  const afterHeavyDetail = memoryOf(master);

  // Keep two viewers: the one we type in, and one to stop.
  const leaving = session.viewers.splice(2);
  for (const viewer of leaving) viewer.write(DETACH_KEY);
  await Promise.all(leaving.map((viewer) => viewer.waitForExit(15_000)));

  // Stall round: viewer 1 is stopped once it has shown STALL_AFTER_BYTES.
  const stalled = session.viewers[1];
  let stoppedAt;
  stopSampling = samplePeaks([master]);
  const stallRound = await session.round({
    required: (index) => index !== 1,
    onChunk: (index, check) => {
      if (index === 1 && stoppedAt === undefined && check.received >= STALL_AFTER_BYTES) {
        process.kill(stalled.pid, 'SIGSTOP');
        stoppedAt = check.received;
      }
    },
  });
  const [stallPeak] = stopSampling();
  const afterStall = residentBytes(master);
  // The fast viewer's figures; the stopped one is judged after it continues.
  const stallSummary = summarizeRound({ ...stallRound, checks: [stallRound.checks[0]] });
  process.kill(stalled.pid, 'SIGCONT');
  const stalledCheck = stallRound.checks[1];
  let lastProgress = { bytes: stalledCheck.received, at: performance.now() };
  await waitUntil(() => {
    if (stalledCheck.complete || stalled.exitInfo) return true;
    if (stalledCheck.received !== lastProgress.bytes) lastProgress = { bytes: stalledCheck.received, at: performance.now() };
    return performance.now() - lastProgress.at > RESUME_QUIET_MS;
  }, `${tool}: the stopped viewer to finish, leave or go quiet`, 60_000, 20);
  // The end, as idle and after the burst: once V8 has settled, what the master keeps.
  if (tool === 'dt' && !hasEnded(master)) await delay(SETTLE_MS);
  const final = hasEnded(master) ? undefined : residentBytes(master);
  const finalDetail = hasEnded(master) ? undefined : memoryOf(master);

  const stalledViewer = {
    stoppedAfterBytes: stoppedAt,
    share: Math.min(stalledCheck.received, stalledCheck.total) / stalledCheck.total,
    intact: stalledCheck.intact,
    firstMismatchAt: stalledCheck.firstMismatchAt,
    exitedAfterContinue: stalled.exitInfo !== undefined,
    // What it showed where the pattern stopped (dt: its cut-off notice; dtach: a later offset).
    tail: stalledCheck.tail,
  };
  await session.end();
  return {
    idle, afterHeavy, heavyPeak, stallPeak, afterStall, final, idleDetail, afterHeavyDetail, finalDetail,
    growth: final === undefined ? undefined : final / idle - 1,
    clientIdle, clientPeak,
    heavy, stall: stallSummary, stalledViewer,
  };
}
