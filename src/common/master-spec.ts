// What the creating command tells a new master: shared by the client that starts it (launch)
// and the master that runs it. It travels on a pipe, not in the master's argv: exec(2) limits
// one argument to 128 KiB, and a command line may be up to the whole argv limit (2 MiB and
// more).

import fs from 'node:fs';
import type { RedrawMethod } from './protocol.js';

/** argv[2] that makes the entry point run a master (described on SPEC_FD); not part of the public command line. */
export const MASTER_FLAG = '--internal-master';
/**
 * Where the master finds the session's listening socket, bound by the creating command: where
 * a service manager passes one too (SD_LISTEN_FDS_START). Node makes the descriptors it
 * inherits close-on-exec as it starts (uv_disable_stdio_inheritance), so the program the
 * master starts never holds a copy (one would keep a dead master's socket accepting).
 */
export const LISTENING_FD = 3;
/**
 * The master's end of the pipe on which it receives its MasterLaunch, as one line of JSON.
 * The creating client of -c and -A then keeps its end open until it exits; dt -n closes it.
 */
export const SPEC_FD = 4;
/**
 * Where the master finds the log file (-L), opened by the creating command: so that a file
 * that may not be written is refused before anything starts, and FILE exists once the
 * command returns. Close-on-exec in the master for the same reason as LISTENING_FD.
 */
export const LOG_FD = 5;

/** -L: where the master appends the program's output, and when the file is rotated. */
export interface OutputLogSpec {
  /** absolute path */
  file: string;
  /** FILE becomes FILE.1 when it reaches this size */
  limitBytes: number;
  /** the creating command made FILE: a session that cannot start removes it while it is empty */
  created?: boolean;
}

/** What a master says about its log (dt -l). */
export interface OutputLogStatus {
  file: string;
  /** false while output cannot be written (disk full, file gone) or is being dropped */
  writing: boolean;
  /** output the log missed since the session started (each gap is noted in the file) */
  notLoggedBytes: number;
  /** why the log is not being written, while it is not */
  reason?: string;
}

export interface MasterSpec {
  /** absolute path */
  socket: string;
  command: string[];
  /** the session's default redraw method */
  redraw: RedrawMethod;
  /** -c/-A: do not read the program's output until a client has attached, or the creating client is gone */
  holdUntilAttach: boolean;
  cwd: string;
  cols: number;
  rows: number;
  log?: OutputLogSpec;
  /**
   * variables for the program, exactly (bytes.ts strings), over the master's own process.env:
   * those whose values are not UTF-8 (process.env has U+FFFD where their bytes were), and
   * those the master was started without (launch.ts)
   */
  environment?: Record<string, string>;
}

export interface MasterLaunch {
  spec: MasterSpec;
  /** descriptors the creating command passed on without meaning to (see descriptors.ts) */
  inherited: number[];
  /** variables the creating command set for the master alone: the program must not see them */
  ownEnvironment: string[];
}

/** One line: JSON has no raw newline, so the master knows where it ends without an end of file. */
export function encodeMasterLaunch(launch: MasterLaunch): string {
  return `${JSON.stringify(launch)}\n`;
}

/**
 * In the master: reads its launch, one line, from SPEC_FD, then closes it; except for a
 * session that holds the program's output for its creating client (-c, -A): that client keeps
 * its end of the pipe open until it exits, and the master watches for the end of file, which
 * says the client is gone (see watchCreatingClient). Undefined when the line was cut off: the
 * creating command was killed as it wrote it (a long command line fills the pipe).
 */
export function readMasterLaunch(): MasterLaunch | undefined {
  let keepOpen = false;
  try {
    const line = readLine(SPEC_FD);
    if (!line.endsWith('\n')) return undefined;
    const launch = JSON.parse(line) as MasterLaunch;
    keepOpen = launch.spec.holdUntilAttach;
    return launch;
  } finally {
    if (!keepOpen) fs.closeSync(SPEC_FD);
  }
}

/** Reads up to a newline that ends a read (the writer sends nothing after it), or the end of file. */
function readLine(fd: number): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    const bytes = fs.readSync(fd, buffer);
    if (bytes === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, bytes)));
    if (buffer[bytes - 1] === 0x0a) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}
