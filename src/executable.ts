// Find the program as execvp(3) would, so that "cannot execute" is reported before a
// session exists rather than as output of a program that never ran.

import fs from 'node:fs';
import path from 'node:path';

export type ExecutableLookup = string | { reason: string };

export function findExecutable(name: string, searchPath: string | undefined): ExecutableLookup {
  if (name === '') return { reason: 'No such file or directory' };
  if (name.includes('/')) return checkExecutable(name);
  let firstFailure: { reason: string } | undefined;
  for (const directory of (searchPath ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = path.join(directory === '' ? '.' : directory, name);
    const result = checkExecutable(candidate);
    if (typeof result === 'string') return result;
    // Like execvp: a file that exists but cannot be run is a better reason than "not found".
    if (result.reason !== 'No such file or directory') firstFailure ??= result;
  }
  return firstFailure ?? { reason: 'No such file or directory' };
}

function checkExecutable(file: string): ExecutableLookup {
  try {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) return { reason: 'Permission denied' };
    fs.accessSync(file, fs.constants.X_OK);
    return file;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return { reason: 'Permission denied' };
    if (code === 'ENOTDIR') return { reason: 'Not a directory' };
    return { reason: 'No such file or directory' };
  }
}
