// A process's state as /proc/PID/stat gives it. The command name in it is in parentheses and
// may hold spaces and parentheses itself: the fields are the ones after its last ')'.

import fs from 'node:fs';

/**
 * The fields of a stat line after the command name: [0] the state letter (R, S, T, Z...),
 * [1] the parent, [2] the process group, [3] the session, [5] the terminal's foreground group.
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process's stat fields (see statFields); undefined once it is reaped, or without /proc. */
export function readStatFields(pid: number | 'self'): string[] | undefined {
  try {
    return statFields(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** True while the process is stopped (SIGSTOP, SIGTSTP...): it cannot answer until continued. */
export function isStopped(pid: number): boolean {
  return readStatFields(pid)?.[0] === 'T'; // undefined: it ended meanwhile
}
