// The master must hold nothing of the command that created it. Node marks every descriptor
// it opens close-on-exec, so any other descriptor above stderr was inherited from the
// creating shell (`dt -n s cmd 200>&1`, a held flock): it would keep that pipe open, or that
// lock held, for the life of the session. Close them.

import fs from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Closes inherited descriptors above 2, except those listed in `keep`. */
export function closeInheritedDescriptors(keep: readonly number[]): void {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc/self/fdinfo');
  } catch {
    return; // no /proc: nothing we can inspect
  }
  for (const entry of entries) {
    const fd = Number(entry);
    if (fd <= 2 || keep.includes(fd)) continue;
    try {
      const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (flags && (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) fs.closeSync(fd);
    } catch {
      // The descriptor was the one readdir used, or closed meanwhile: nothing to do.
    }
  }
}
