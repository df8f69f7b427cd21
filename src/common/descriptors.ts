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
    try {
      const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (flags && (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) inheritable.push(fd);
    } catch {
      // The descriptor was the one readdir used, or closed meanwhile: nothing to do.
    }
  }
  return inheritable;
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
