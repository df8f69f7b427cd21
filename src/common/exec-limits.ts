// Whether exec(2) will take a command, asked before anything is started for it: a command
// it refuses (E2BIG) would otherwise make a session that ends at once. What Linux counts
// (fs/exec.c, checked against the kernel at each edge by test/unit/exec-limits.test.ts):
// - every string is copied with its NUL: the file name execve(2) is given, then each
//   variable (NAME=VALUE), then each argument; none may be 32 pages or more
//   (MAX_ARG_STRLEN, 128 KiB with 4 KiB pages);
// - all of them together, plus one pointer per argument (at least one) and per variable,
//   may be at most a quarter of the stack limit (RLIMIT_STACK, inherited by every process
//   the command goes through), at most 3/4 of 8 MiB (_STK_LIM), but never less than
//   32 pages (ARG_MAX): 2 MiB under the usual 8 MiB stack limit;
// - for a script, the kernel then replaces argv[0] by the file name and puts the "#!"
//   line's interpreter and its argument in front, which must fit as well (the pointers are
//   not counted again).
// Below a stack limit of about 192 KiB exec may fail sooner, or kill the new program, in ways
// no count predicts; Node itself barely runs there.

import fs from 'node:fs';
import os from 'node:os';
import { exactByteLength } from './bytes.js';
import { findExecvpTarget, type ExecvpTarget } from './executable.js';

/** One exec(2) on the way to the program: what execvp(3) is given, in which directory. */
export interface ExecStep {
  /** searched in PATH of `env` when it has no '/', as execvp(3) does */
  file: string;
  argv: readonly string[];
  /** NAME=VALUE */
  env: readonly string[];
  cwd: string;
}

/** exec(2)'s E2BIG, as strerror(3) words it. */
export const ARGUMENT_LIST_TOO_LONG = 'Argument list too long';

export interface ExecLimits {
  /** what all the strings and pointers may take together */
  totalBytes: number;
  /** the size of one string, NUL included, that exec refuses (MAX_ARG_STRLEN + 1) */
  refusedStringBytes: number;
  pointerBytes: number;
}

const STACK_LIMIT_DEFAULT_BYTES = 8 * 1024 * 1024; // _STK_LIM
const ARGUMENT_PAGES = 32; // ARG_MAX and MAX_ARG_STRLEN, in pages
/** Room enough for any file name execvp(3) passes (PATH_MAX) and a "#!" line's two words. */
const UNCOUNTED_NAME_BYTES = 4096 + 2 * 256;
/** The architectures whose pointers are 4 bytes (among those Node runs on). */
const POINTER_4_ARCHITECTURES = ['arm', 'ia32', 'mips', 'mipsel', 'ppc', 's390'];
const AT_PAGESZ = 6;

/** Pure: the limits for a stack limit (RLIMIT_STACK's soft value; Infinity when unlimited) and a page size. */
export function computeExecLimits(stackLimitBytes: number, pageBytes: number, pointerBytes = 8): ExecLimits {
  const quarterStack = Math.min(Math.floor(stackLimitBytes / 4), (STACK_LIMIT_DEFAULT_BYTES / 4) * 3);
  return {
    totalBytes: Math.max(quarterStack, ARGUMENT_PAGES * pageBytes),
    refusedStringBytes: ARGUMENT_PAGES * pageBytes + 1,
    pointerBytes,
  };
}

/** This process's limits, which a process it starts inherits; undefined without /proc (then exec decides). */
export function readExecLimits(): ExecLimits | undefined {
  const stack = readStackLimit();
  const page = readPageSize();
  if (stack === undefined || page === undefined) return undefined;
  return computeExecLimits(stack, page, POINTER_4_ARCHITECTURES.includes(process.arch) ? 4 : 8);
}

/** What any Linux takes at least (4 KiB pages, the smallest stack limit): a smaller command is not looked at further. */
const LEAST_LIMITS = computeExecLimits(0, 4096);

/**
 * True when exec(2) would refuse one of `steps` with E2BIG, under this process's limits; false
 * when they cannot be read. A command far below the least any system takes (128 KiB), as
 * nearly every command is, costs neither /proc nor the file system.
 */
export function isTooLargeToExec(steps: readonly ExecStep[]): boolean {
  if (steps.every((step) => fitsWithoutLookingAtFiles(step, LEAST_LIMITS))) return false;
  const limits = readExecLimits();
  return limits !== undefined && exceedsExecLimits(steps, limits);
}

/**
 * True when exec(2) would refuse one of `steps` with E2BIG. A step whose file cannot be found
 * is judged without it: "could not execute" is checked apart.
 */
export function exceedsExecLimits(steps: readonly ExecStep[], limits: ExecLimits): boolean {
  return steps.some((step) => exceeds(step, limits));
}

/** Far from the edge, where the file is and what is in it cannot matter. */
function fitsWithoutLookingAtFiles(step: ExecStep, limits: ExecLimits): boolean {
  const strings = stringBytes(step.argv, limits) + stringBytes(step.env, limits);
  return strings + UNCOUNTED_NAME_BYTES <= roomForStrings(step, limits);
}

/** What the strings may take: the total, less a pointer for each argument (at least one) and variable. */
function roomForStrings(step: ExecStep, limits: ExecLimits): number {
  return limits.totalBytes - (Math.max(step.argv.length, 1) + step.env.length) * limits.pointerBytes;
}

function exceeds(step: ExecStep, limits: ExecLimits): boolean {
  const strings = stringBytes(step.argv, limits) + stringBytes(step.env, limits);
  if (!Number.isFinite(strings)) return true;
  const room = roomForStrings(step, limits);
  if (strings + UNCOUNTED_NAME_BYTES <= room) return false;
  const target = findExecvpTarget(step.file, pathOf(step.env), step.cwd);
  if (target === undefined) return strings > room;
  const name = exactByteLength(target.filename) + 1;
  if (name >= limits.refusedStringBytes || strings + name > room) return true;
  return exceedsAsScript(target, step, strings + name, room, limits);
}

/** The kernel's second count for a script: argv[0] gone, the file name, the interpreter and its argument added. */
function exceedsAsScript({ filename, interpreter }: ExecvpTarget, step: ExecStep, copied: number, room: number, limits: ExecLimits): boolean {
  if (interpreter === undefined) return false;
  const added = [filename, interpreter.name, ...(interpreter.argument === undefined ? [] : [interpreter.argument])];
  const argumentZero = step.argv.length > 0 ? exactByteLength(step.argv[0]!) + 1 : 1;
  return copied - argumentZero + stringBytes(added, limits) > room;
}

/** The strings' bytes with their NULs; Infinity when exec refuses one of them. */
function stringBytes(strings: readonly string[], limits: ExecLimits): number {
  let total = 0;
  for (const text of strings) {
    const bytes = exactByteLength(text) + 1;
    if (bytes >= limits.refusedStringBytes) return Infinity;
    total += bytes;
  }
  return total;
}

function pathOf(env: readonly string[]): string | undefined {
  const entry = env.find((variable) => variable.startsWith('PATH='));
  return entry?.slice('PATH='.length);
}

/** RLIMIT_STACK's soft limit, from /proc/self/limits (Node has no getrlimit). */
function readStackLimit(): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return undefined;
  }
  const soft = /^Max stack size\s+(\S+)/m.exec(text)?.[1];
  if (soft === 'unlimited') return Infinity;
  const bytes = Number(soft);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The page size, from the kernel's auxiliary vector (AT_PAGESZ), as the C library learns it. */
function readPageSize(): number | undefined {
  let auxv: Buffer;
  try {
    auxv = fs.readFileSync('/proc/self/auxv');
  } catch {
    return undefined;
  }
  const word = POINTER_4_ARCHITECTURES.includes(process.arch) ? 4 : 8;
  const little = os.endianness() === 'LE';
  const read = (offset: number): number => {
    if (word === 4) return little ? auxv.readUInt32LE(offset) : auxv.readUInt32BE(offset);
    return Number(little ? auxv.readBigUInt64LE(offset) : auxv.readBigUInt64BE(offset));
  };
  for (let offset = 0; offset + 2 * word <= auxv.length; offset += 2 * word) {
    if (read(offset) === AT_PAGESZ) return read(offset + word);
  }
  return undefined;
}
