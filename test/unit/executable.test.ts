// findExecutable must give the answer execvp(3) would, so `dt -n s prog` can say
// "could not execute prog: <reason>" before any session exists.
//
// The tests may run as root, which may execute any file with at least one x bit: files meant
// to be "not executable" therefore have no x bit at all (0644), and executable ones have the
// owner's x bit, which works for root and for the (owning) test user alike.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findExecutable } from '../../src/common/executable.js';

const NOT_FOUND = { reason: 'No such file or directory' };
const PERMISSION_DENIED = { reason: 'Permission denied' };
const NOT_A_DIRECTORY = { reason: 'Not a directory' };

let scratch: string;
beforeEach(() => { scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-exec-')); });
afterEach(() => { fs.rmSync(scratch, { recursive: true, force: true }); });

/** Creates scratch/<relative> (and its directories) with the given mode; returns its path. */
function file(relative: string, mode: number): string {
  const full = path.join(scratch, relative);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(full, mode); // explicit: writeFileSync's mode is filtered by the umask
  return full;
}

function directory(relative: string): string {
  const full = path.join(scratch, relative);
  fs.mkdirSync(full, { recursive: true });
  return full;
}

describe('a name with a slash is checked as it is', () => {
  it('an executable file is returned unchanged', () => {
    const tool = file('bin/tool', 0o755);
    expect(findExecutable(tool, '/nonexistent')).toBe(tool);
  });

  it('a file executable by its owner only is found', () => {
    const tool = file('bin/tool', 0o700);
    expect(findExecutable(tool, undefined)).toBe(tool);
    const ownerExecuteOnly = file('bin/other', 0o100);
    expect(findExecutable(ownerExecuteOnly, undefined)).toBe(ownerExecuteOnly);
  });

  it('a directory is Permission denied', () => {
    expect(findExecutable(directory('bin/tool'), undefined)).toEqual(PERMISSION_DENIED);
  });

  it('a file without any x bit is Permission denied', () => {
    expect(findExecutable(file('bin/tool', 0o644), undefined)).toEqual(PERMISSION_DENIED);
  });

  it('a missing file is No such file or directory', () => {
    expect(findExecutable(path.join(scratch, 'missing'), '/bin')).toEqual(NOT_FOUND);
  });

  it('a path through a regular file is Not a directory', () => {
    file('plain', 0o644);
    expect(findExecutable(path.join(scratch, 'plain', 'tool'), undefined)).toEqual(NOT_A_DIRECTORY);
  });

  it('is not searched in PATH even when PATH has it', () => {
    file('bin/tool', 0o755);
    expect(findExecutable('./tool', path.join(scratch, 'bin'))).toEqual(NOT_FOUND);
  });

  it('a symlink to an executable is followed; a dangling one is not found', () => {
    const tool = file('bin/tool', 0o755);
    fs.symlinkSync(tool, path.join(scratch, 'link'));
    fs.symlinkSync(path.join(scratch, 'gone'), path.join(scratch, 'dangling'));
    expect(findExecutable(path.join(scratch, 'link'), undefined)).toBe(path.join(scratch, 'link'));
    expect(findExecutable(path.join(scratch, 'dangling'), undefined)).toEqual(NOT_FOUND);
  });
});

describe('a bare name is searched in PATH', () => {
  it('the empty name is not found', () => {
    expect(findExecutable('', scratch)).toEqual(NOT_FOUND);
  });

  it('finds the program in a later directory', () => {
    const tool = file('b/tool', 0o755);
    const searchPath = [path.join(scratch, 'missing'), directory('a'), path.join(scratch, 'b')].join(':');
    expect(findExecutable('tool', searchPath)).toBe(tool);
  });

  it('takes the first directory that has it', () => {
    const first = file('a/tool', 0o755);
    file('b/tool', 0o755);
    expect(findExecutable('tool', `${path.join(scratch, 'a')}:${path.join(scratch, 'b')}`)).toBe(first);
    expect(findExecutable('tool', `${path.join(scratch, 'b')}:${path.join(scratch, 'a')}`)).toBe(path.join(scratch, 'b/tool'));
  });

  it('skips a non-executable file and a directory of the same name, like execvp', () => {
    file('a/tool', 0o644);
    directory('b/tool');
    const runnable = file('c/tool', 0o755);
    expect(findExecutable('tool', ['a', 'b', 'c'].map((dir) => path.join(scratch, dir)).join(':'))).toBe(runnable);
  });

  it('reports Permission denied when a non-executable match exists anywhere, like execvp', () => {
    file('b/tool', 0o644);
    const missingFirst = `${path.join(scratch, 'a')}:${path.join(scratch, 'b')}`;
    const missingLast = `${path.join(scratch, 'b')}:${path.join(scratch, 'a')}`;
    expect(findExecutable('tool', missingFirst)).toEqual(PERMISSION_DENIED);
    expect(findExecutable('tool', missingLast)).toEqual(PERMISSION_DENIED);
  });

  it('reports Permission denied for a directory of that name', () => {
    directory('a/tool');
    expect(findExecutable('tool', `${path.join(scratch, 'a')}:${path.join(scratch, 'missing')}`)).toEqual(PERMISSION_DENIED);
  });

  it('reports No such file or directory when no directory has it', () => {
    directory('a');
    expect(findExecutable('tool', `${path.join(scratch, 'a')}:${path.join(scratch, 'missing')}`)).toEqual(NOT_FOUND);
  });

  it('does not let a PATH entry that is a file hide a later "not found", like execvp', () => {
    // glibc's execvp skips ENOTDIR like ENOENT (only EACCES is remembered), and reports the
    // last error: dtach 0.9 with PATH=/etc/passwd:/nonexistent says "No such file or directory".
    file('plain', 0o644);
    const fileFirst = `${path.join(scratch, 'plain')}:${path.join(scratch, 'missing')}`;
    expect(findExecutable('tool', fileFirst)).toEqual(NOT_FOUND);
    // ...and, being the last error, "Not a directory" when that entry comes last.
    const fileLast = `${path.join(scratch, 'missing')}:${path.join(scratch, 'plain')}`;
    expect(findExecutable('tool', fileLast)).toEqual(NOT_A_DIRECTORY);
  });

  it('reports Permission denied over an earlier Not a directory, like execvp', () => {
    // dtach 0.9 with PATH=<file>:<dir with a 0644 tool> says "Permission denied".
    file('plain', 0o644);
    file('b/tool', 0o644);
    expect(findExecutable('tool', `${path.join(scratch, 'plain')}:${path.join(scratch, 'b')}`)).toEqual(PERMISSION_DENIED);
  });

  describe('an empty PATH entry means the current directory', () => {
    let previousDirectory: string;
    beforeEach(() => {
      previousDirectory = process.cwd();
      process.chdir(directory('work'));
    });
    afterEach(() => { process.chdir(previousDirectory); });

    it.each([
      ['leading', (other: string) => `:${other}`],
      ['trailing', (other: string) => `${other}:`],
      ['in the middle', (other: string) => `${other}::${other}`],
      ['the whole PATH', () => ''],
    ])('%s', (_where, makePath) => {
      file('work/tool', 0o755);
      const found = findExecutable('tool', makePath(path.join(scratch, 'missing')));
      expect(typeof found).toBe('string');
      expect(path.resolve(found as string)).toBe(path.join(scratch, 'work', 'tool'));
    });

    it('without a program in the current directory, is not found', () => {
      expect(findExecutable('tool', `:${path.join(scratch, 'missing')}`)).toEqual(NOT_FOUND);
    });
  });

  it('without PATH, searches where execvp(3) does: the C library\'s default path (getconf PATH), not /usr/local/bin', () => {
    const defaultPath = execFileSync('getconf', ['PATH'], { encoding: 'utf8' }).trim().split(':');
    const expected = defaultPath.map((dir) => `${dir}/sh`).find((candidate) => fs.existsSync(candidate));
    expect(expected).toBeDefined();
    expect(findExecutable('sh', undefined)).toBe(expected);
    expect(findExecutable('dt-no-such-program-here', undefined)).toEqual(NOT_FOUND);
    // A program only outside that path (in /usr/local/bin, or a directory of the test's own
    // put where execvp would not look) is not found, as execvp would not find it.
    const outside = ['/usr/local/bin', '/usr/local/sbin', '/sbin', '/usr/sbin']
      .filter((dir) => !defaultPath.includes(dir) && fs.existsSync(dir))
      .flatMap((dir) => fs.readdirSync(dir).map((name) => ({ dir, name })))
      .find(({ name }) => !name.includes(':') && defaultPath.every((dir) => !fs.existsSync(path.join(dir, name))));
    if (outside !== undefined) expect({ ...outside, found: findExecutable(outside.name, undefined) }).toEqual({ ...outside, found: NOT_FOUND });
  });
});
