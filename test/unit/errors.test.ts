import { describe, expect, it } from 'vitest';
import { describeSystemError } from '../../src/common/errors.js';

/** An error as Node makes them: its message names the call and an internal path. */
function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}: something /proc/self/fd/18/.dt-1234-abcdef`), { code });
}

describe('describeSystemError', () => {
  it.each([
    ['ENOENT', 'No such file or directory'],
    ['EACCES', 'Permission denied'],
    ['ENOTDIR', 'Not a directory'],
    ['ELOOP', 'Too many levels of symbolic links'],
    ['ENAMETOOLONG', 'File name too long'],
    ['EROFS', 'Read-only file system'],
    ['ENOSPC', 'No space left on device'],
    ['EMFILE', 'Too many open files (ulimit -n)'],
    ['EDQUOT', 'Disk quota exceeded'],
    ['EPIPE', 'Broken pipe'],
  ])('words %s as "%s", without the internal path', (code, reason) => {
    expect(describeSystemError(systemError(code))).toBe(reason);
  });

  it('gives the code of a system error it has no words for, not the message', () => {
    expect(describeSystemError(systemError('EWHATEVER'))).toBe('EWHATEVER');
  });

  it('keeps the message of an error that is not a system error', () => {
    expect(describeSystemError(new Error('something else'))).toBe('something else');
    expect(describeSystemError('text')).toBe('text');
  });
});
