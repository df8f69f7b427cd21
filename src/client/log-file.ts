// -L FILE, on the creating command's side: where the log goes, how big it may grow, and
// whether FILE may be written at all, checked before anything is started (without opening
// it: opening a device can have effects) so that a refusal reaches the user at once. The
// launch then opens it, safely, and checks once more (common/log-file.ts).

import fs from 'node:fs';
import path from 'node:path';
import { DtError, UsageError, describeSystemError, fileError } from '../common/errors.js';
import { fsPath } from '../common/bytes.js';
import { refuseLogFile } from '../common/log-file.js';
import type { OutputLogSpec } from '../common/master-spec.js';

/**
 * The size at which FILE becomes FILE.1, from the environment: a setting chosen once (in a
 * shell profile, a service's Environment=) rather than per session, and one that leaves
 * dtach's option letters alone.
 */
const LOG_LIMIT_VARIABLE = 'DT_LOG_LIMIT';
export const DEFAULT_LOG_LIMIT_BYTES = 16 * 1024 * 1024;
/** Smaller limits would rotate on every few lines. */
const MIN_LOG_LIMIT_BYTES = 1024;
const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** FILE relative to the creating command's directory, checked; the limit from DT_LOG_LIMIT. */
export function prepareOutputLog(file: string, cwd: string, env: NodeJS.ProcessEnv): OutputLogSpec {
  const limitBytes = parseLogLimit(env[LOG_LIMIT_VARIABLE]);
  const absolute = path.resolve(cwd, file);
  checkLogFile(absolute);
  return { file: absolute, limitBytes };
}

/** `16M`, `512K`, `1048576`: bytes, with an optional binary unit (K, M, G; KiB and MB also read). */
export function parseLogLimit(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_LOG_LIMIT_BYTES;
  const match = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const bytes = match ? Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_LOG_LIMIT_BYTES) {
    throw new UsageError(`Invalid ${LOG_LIMIT_VARIABLE} '${text}': a size of at least 1K, such as 512K or 16M.`);
  }
  return bytes;
}

/** An existing FILE must be a regular file of the user's, and writable; a new one needs its directory. */
function checkLogFile(file: string): void {
  let stats: fs.Stats;
  try {
    stats = fs.lstatSync(fsPath(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(file, describeSystemError(error), error);
    return checkDirectory(file);
  }
  const refusal = refuseLogFile(stats, process.getuid!());
  if (refusal !== undefined) throw fileError(file, refusal);
  try {
    fs.accessSync(fsPath(file), fs.constants.W_OK);
  } catch (error) {
    throw fileError(file, describeSystemError(error), error);
  }
}

function checkDirectory(file: string): void {
  const directory = path.dirname(file);
  try {
    if (!fs.statSync(fsPath(directory)).isDirectory()) throw fileError(file, describeSystemError({ code: 'ENOTDIR' }));
    fs.accessSync(fsPath(directory), fs.constants.W_OK | fs.constants.X_OK);
  } catch (error) {
    if (error instanceof DtError) throw error;
    throw fileError(file, describeSystemError(error), error);
  }
}
