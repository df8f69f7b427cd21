// Many idle sessions: what they cost together (their masters' private memory, PSS and RSS)
// and the CPU their masters use while nothing happens, which should be none.

import { SETTLE_MS } from './memory.mjs';
import { cpuSeconds, delay, memoryOf } from './procs.mjs';
import { startSession, stopMaster } from './session.mjs';

/** The program every idle session runs: it waits, and writes nothing. */
const IDLE_PROGRAM = ['sleep', '1000000'];

export async function measureIdleSessions(workspace, tool, count, idleSeconds) {
  const masters = [];
  try {
    for (let i = 0; i < count; i++) masters.push(await startSession(workspace, tool, workspace.path('idle'), IDLE_PROGRAM));
    // Idle means after the one collection V8 makes some 8 s after start-up (see SETTLE_MS):
    // 50 masters making it at once take about 1 s of CPU, once.
    await delay(SETTLE_MS);
    const cpuBefore = masters.reduce((total, pid) => total + cpuSeconds(pid), 0);
    const startedAt = performance.now();
    await delay(idleSeconds * 1000);
    const cpuAfter = masters.reduce((total, pid) => total + cpuSeconds(pid), 0);
    const seconds = (performance.now() - startedAt) / 1000;
    const sum = { rss: 0, pss: 0, private: 0 };
    for (const pid of masters) {
      const memory = memoryOf(pid) ?? { rss: NaN, pss: NaN, private: NaN };
      for (const key of Object.keys(sum)) sum[key] += memory[key];
    }
    return { count, ...sum, cpuMsPerSecond: ((cpuAfter - cpuBefore) * 1000) / seconds };
  } finally {
    await Promise.all(masters.map((pid) => stopMaster(pid)));
  }
}
