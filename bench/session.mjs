// The three ways to run a program that the benchmark compares: "direct" (the program in a
// node-pty terminal of its own, no relay: the physical limit), dt, and dtach 0.9. For dt and
// dtach, a session is started detached (-n) and viewers attach with `-a <socket> -r none`,
// each in a terminal of its own. "dt-log" is dt with a log (-L <socket>.log, rotated at the
// default limit), to show what writing one costs.

import fs from 'node:fs';
import { DT, DTACH, FIXTURES, NODE, dtMasterPid, dtachMasterPid, hasEnded, waitUntil } from './procs.mjs';

export const DETACH_KEY = '\x1c'; // ^\, the default of both dt and dtach

export const TOOLS = {
  dt: {
    create: (socket, command) => [NODE, [DT, '-n', socket, ...command]],
    attach: (socket) => [NODE, [DT, '-a', socket, '-r', 'none']],
    masterPid: (socket) => dtMasterPid(socket),
  },
  'dt-log': {
    create: (socket, command) => [NODE, [DT, '-n', socket, '-L', logFileOf(socket), ...command]],
    attach: (socket) => [NODE, [DT, '-a', socket, '-r', 'none']],
    masterPid: (socket) => dtMasterPid(socket),
  },
  dtach: {
    create: (socket, command) => [DTACH, ['-n', socket, ...command]],
    attach: (socket) => [DTACH, ['-a', socket, '-r', 'none']],
    masterPid: async (socket) => dtachMasterPid(socket),
  },
};

/** The log file of a dt-log session; removed with its rotated predecessor by removeLogFiles. */
export function logFileOf(socket) {
  return `${socket}.log`;
}

/** The bytes a dt-log session's log holds, then removes it (each session starts a new log). */
export function removeLogFiles(socket) {
  let bytes = 0;
  for (const file of [logFileOf(socket), `${logFileOf(socket)}.1`]) {
    try {
      bytes += fs.statSync(file).size;
      fs.rmSync(file);
    } catch {
      // ENOENT: never rotated.
    }
  }
  return bytes;
}

/** Starts a detached session of `tool` running `command`; resolves with its master's pid. */
export async function startSession(workspace, tool, socket, command) {
  const [file, args] = TOOLS[tool].create(socket, command);
  const result = await workspace.run(file, args);
  if (result.code !== 0) throw new Error(`${tool} -n ${socket} exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  return TOOLS[tool].masterPid(socket);
}

export function attachViewer(workspace, tool, socket) {
  const [file, args] = TOOLS[tool].attach(socket);
  return workspace.term(file, args);
}

/** The echo fixture's command line; the temp dir as argument marks the process as ours. */
export function echoCommand(workspace) {
  return [NODE, `${FIXTURES}/echo.mjs`, workspace.dir];
}

export function writerCommand(patternFile, doneFile, repeat) {
  return [NODE, `${FIXTURES}/writer.mjs`, patternFile, doneFile, String(repeat)];
}

/** Ends a master by SIGTERM (both hang up their program) and waits until it is gone. */
export async function stopMaster(pid, timeoutMs = 10_000) {
  try { process.kill(pid, 'SIGTERM'); } catch { /* ESRCH: already gone */ }
  await waitUntil(() => hasEnded(pid), `master ${pid} to end after SIGTERM`, timeoutMs);
}

/** The round the writer last finished, from its done file (0 before the first). */
export function finishedRound(doneFile) {
  try {
    return Number(fs.readFileSync(doneFile, 'latin1').trim());
  } catch {
    return 0;
  }
}
