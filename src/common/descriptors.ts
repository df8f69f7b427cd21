// The master must hold nothing of the command that created it. Node opens every descriptor
// of its own close-on-exec, so a descriptor above stderr without that flag was inherited
// from the creating shell (`dt -n s cmd 200>&1`, a held flock): passed on to the master, it
// would keep that pipe open, or that lock held, for the life of the session.
//
// The launcher lists them in its own process, where nothing else can have opened them, and
// the master closes exactly those. The master cannot find them itself: V8 opens some of its
// own files (--perf-basic-prof, --prof) without close-on-exec before any of our code runs.

import fs from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Descriptors above stderr that a child process would inherit. */
export function inheritableDescriptors(): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc/self/fdinfo');
  } catch {
    return []; // no /proc: nothing we can inspect
  }
  const inheritable: number[] = [];
  for (const entry of entries) {
    const fd = Number(entry);
    if (fd <= 2) continue;
    // undefined: the descriptor was the one readdir used, or closed meanwhile: nothing to do.
    const flags = descriptorFlags(fd);
    if (flags !== undefined && (flags & O_CLOEXEC) === 0) inheritable.push(fd);
  }
  return inheritable;
}

/** Enough for the pos, flags and mnt_id lines of /proc/self/fdinfo/FD (about 60 bytes; more follow only for epoll, inotify and the like). */
const FDINFO_BYTES = 256;

/**
 * The open file's status flags (O_NONBLOCK, O_CLOEXEC...) of one of this process's
 * descriptors, from /proc/self/fdinfo; undefined when it is not open, or there is no /proc.
 * Read in one go into a small buffer: readFileSync of a /proc file, whose size it cannot
 * know, costs twice as much.
 */
export function descriptorFlags(fd: number): number | undefined {
  const info = Buffer.allocUnsafe(FDINFO_BYTES);
  let length: number;
  try {
    const file = fs.openSync(`/proc/self/fdinfo/${fd}`, 'r');
    try {
      length = fs.readSync(file, info, 0, info.length, 0);
    } finally {
      fs.closeSync(file);
    }
  } catch {
    return undefined;
  }
  const flags = /^flags:\s*([0-7]+)$/m.exec(info.toString('latin1', 0, length))?.[1];
  return flags === undefined ? undefined : Number.parseInt(flags, 8);
}

export function closeDescriptors(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      fs.closeSync(fd);
    } catch {
      // EBADF: not open here after all.
    }
  }
}
