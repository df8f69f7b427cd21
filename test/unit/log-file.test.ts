// The creating command's side of -L: the size limit from DT_LOG_LIMIT, and which files are
// refused before anything starts (checked against real files in a temp dir).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_LIMIT_BYTES, parseLogLimit, prepareOutputLog } from '../../src/client/log-file.js';
import { DtError, UsageError } from '../../src/common/errors.js';

describe('DT_LOG_LIMIT', () => {
  it.each([
    [undefined, DEFAULT_LOG_LIMIT_BYTES], ['', DEFAULT_LOG_LIMIT_BYTES],
    ['1024', 1024], ['1K', 1024], ['1k', 1024], ['512K', 512 * 1024], ['16M', 16 * 1024 * 1024], ['2G', 2 * 1024 ** 3],
    ['16MiB', 16 * 1024 * 1024], ['64KB', 64 * 1024], [' 8M ', 8 * 1024 * 1024],
  ])('%j is %i bytes', (text, bytes) => {
    expect(parseLogLimit(text)).toBe(bytes);
  });

  it.each(['0', '1023', '-5', '1.5M', 'M', '16T', 'lots', '99999999999999999999'])('%j is refused as a usage error', (text) => {
    expect(() => parseLogLimit(text)).toThrow(UsageError);
    expect(() => parseLogLimit(text)).toThrow(`Invalid DT_LOG_LIMIT '${text}': a size of at least 1K, such as 512K or 16M.`);
  });
});

describe('which files may be a log', () => {
  let dir: string;
  let cwd: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-log-'));
    cwd = process.cwd();
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(cwd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function refusal(file: string): string {
    try {
      prepareOutputLog(file, dir, {});
    } catch (error) {
      expect(error).toBeInstanceOf(DtError);
      expect((error as DtError).exitCode).toBe(1);
      return (error as Error).message;
    }
    throw new Error(`${file} was accepted`);
  }

  it('a new file, relative to the current directory, with the limit from the environment', () => {
    expect(prepareOutputLog('new.log', dir, { DT_LOG_LIMIT: '4K' })).toEqual({ file: path.join(dir, 'new.log'), limitBytes: 4096 });
    expect(fs.existsSync('new.log')).toBe(false); // checking creates nothing
  });

  it('an existing regular file of the user', () => {
    fs.writeFileSync('old.log', 'x');
    expect(prepareOutputLog('old.log', dir, {}).file).toBe(path.join(dir, 'old.log'));
  });

  it('refuses a symbolic link, even to a file of the user or to nothing', () => {
    fs.writeFileSync('target', '');
    fs.symlinkSync('target', 'link');
    fs.symlinkSync('nowhere', 'dangling');
    expect(refusal('link')).toBe(`${dir}/link: is a symbolic link; dt writes a log only to a regular file`);
    expect(refusal('dangling')).toBe(`${dir}/dangling: is a symbolic link; dt writes a log only to a regular file`);
  });

  it('refuses what is not a regular file', () => {
    fs.mkdirSync('sub');
    expect(refusal('sub')).toBe(`${dir}/sub: is not a regular file; dt writes a log only to a regular file`);
    expect(refusal('/dev/null')).toBe('/dev/null: is not a regular file; dt writes a log only to a regular file');
  });

  it.skipIf(process.getuid!() !== 0)('refuses a file of another user', () => {
    fs.writeFileSync('theirs', '');
    fs.chownSync('theirs', 65534, 65534);
    expect(refusal('theirs')).toBe(`${dir}/theirs: is owned by another user (uid 65534); dt writes a log only to your own file`);
  });

  it('refuses a file in a directory that does not exist', () => {
    expect(refusal('no/such.log')).toBe(`${dir}/no/such.log: No such file or directory`);
    fs.writeFileSync('plain', '');
    expect(refusal('plain/x.log')).toBe(`${dir}/plain/x.log: Not a directory`);
  });
});
