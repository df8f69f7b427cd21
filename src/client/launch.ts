// Start a master in the background, in a session of its own, and wait until it either
// listens on the socket or says why it could not. The master keeps no descriptor of ours.

import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { hasEscapedBytes } from '../common/bytes.js';
import { inheritableDescriptors } from '../common/descriptors.js';
import { DtError, sessionError } from '../common/errors.js';
import { SPEC_FD, encodeMasterLaunch, type MasterSpec } from '../common/master-spec.js';

/** A master reports within milliseconds; this only bounds a master that hangs at start. */
const READY_TIMEOUT_MS = 10_000;
/** The master's end of the pipe on which it reports that it is ready. */
export const READY_FD = 3;
/** argv[2] that makes the entry point run a master (described on SPEC_FD); not part of the public command line. */
export const MASTER_FLAG = '--internal-master';

/**
 * V8 lets its young generation grow to 16 MiB semispaces under a burst of output and keeps
 * them, about 8 MiB more resident memory for the rest of the session. The master's garbage
 * is small (its bytes live in Buffers outside the heap): 1 MiB costs no measurable speed.
 * --expose-gc: see memory.ts.
 */
const MASTER_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'];

export interface ReadyMessage {
  error?: string;
}

export function startMaster(spec: MasterSpec): Promise<void> {
  const entry = process.argv[1]!;
  // Our READY_FD and SPEC_FD are replaced by pipes in the master; any other is the master's to close.
  const inherited = inheritableDescriptors().filter((fd) => fd !== READY_FD && fd !== SPEC_FD);
  const child = spawn(process.execPath, [...MASTER_NODE_FLAGS, entry, MASTER_FLAG], {
    // node:child_process cannot enter a directory whose name is not UTF-8; the master needs no
    // working directory of its own, and the program gets spec.cwd exactly (program-launch.ts).
    cwd: hasEscapedBytes(spec.cwd) ? '/' : spec.cwd,
    detached: true, // setsid: no controlling terminal, untouched by our terminal's hangup
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
  });
  const specPipe = child.stdio[SPEC_FD] as Writable;
  specPipe.on('error', () => { /* EPIPE: the master died before reading; its report says so */ });
  specPipe.end(encodeMasterLaunch({ spec, inherited }));
  const report = child.stdio[READY_FD]!;
  return new Promise<void>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(sessionError(spec.socket, 'the session did not start in time')), READY_TIMEOUT_MS);
    const finish = (error: DtError | null): void => {
      clearTimeout(timer);
      report.destroy();
      child.unref();
      if (error) reject(error);
      else resolve();
    };
    report.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
    report.on('end', () => {
      let message: ReadyMessage;
      try {
        message = JSON.parse(text) as ReadyMessage;
      } catch {
        return finish(sessionError(spec.socket, 'the session failed to start'));
      }
      finish(message.error === undefined ? null : new DtError(message.error));
    });
    report.on('error', () => { /* 'end' or the timer reports */ });
    child.on('error', (error) => finish(new DtError(`cannot start the session: ${error.message}`, 1, { cause: error })));
  });
}
