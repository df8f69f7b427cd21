// Which files a session log (-L) may be written to, in one place: the creating command checks
// FILE with it before anything starts, and the master again on every file it opens.

import type fs from 'node:fs';

export const SYMLINK_REFUSED = 'is a symbolic link; dt writes a log only to a regular file';
export const NOT_REGULAR_REFUSED = 'is not a regular file; dt writes a log only to a regular file';

/** Why FILE is refused, or undefined when it may be written: a regular file owned by the user. */
export function refuseLogFile(stats: fs.Stats, uid: number): string | undefined {
  if (stats.isSymbolicLink()) return SYMLINK_REFUSED;
  if (!stats.isFile()) return NOT_REGULAR_REFUSED;
  if (stats.uid !== uid) return `is owned by another user (uid ${stats.uid}); dt writes a log only to your own file`;
  return undefined;
}
