// The program launch through /bin/sh for words that are not UTF-8: run the real shell with
// what programLaunch gives, and see what the program received.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBytes } from '../../src/common/bytes.js';
import { programLaunch } from '../../src/master/program-launch.js';

/** What `printf %s "$1"` prints when launched as the program with `word` as $1. */
function receivedBy(word: Buffer): Buffer {
  const command = ['/bin/sh', '-c', 'printf %s "$1"', decodeBytes(Buffer.from('sh\xe9', 'latin1')), decodeBytes(word)];
  const launch = programLaunch(command, '/', '/tmp/s', {});
  expect(launch.file).toBe('/bin/sh');
  const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
  expect(result.stderr.toString()).toBe('');
  return result.stdout;
}

describe('programLaunch', () => {
  it('execs a command that is UTF-8 directly, argv[0] as given, DT_SESSION in its environment', () => {
    expect(programLaunch(['vim', 'café'], '/home', '/tmp/s', { A: '1' }))
      .toEqual({ file: 'vim', args: ['café'], cwd: '/home', env: { A: '1', DT_SESSION: '/tmp/s' } });
  });

  it('passes every byte value, alone, through the shell exactly', () => {
    for (let byte = 1; byte < 256; byte++) expect(receivedBy(Buffer.of(byte))).toEqual(Buffer.of(byte));
  });

  it('passes trailing newlines, %, backslashes and quotes exactly', () => {
    const word = Buffer.from('a%s\\n\\\\"\'$x`\xff\n\n', 'latin1');
    expect(receivedBy(word)).toEqual(word);
    expect(receivedBy(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });

  it('passes a long word with UTF-8 and other bytes exactly, escaping only what it must', () => {
    const word = Buffer.concat([Buffer.from('日本語 café '.repeat(3000), 'utf8'), Buffer.from([0xff, 0x25, 0x5c, 0xe9])]);
    expect(receivedBy(word)).toEqual(word);
    const launch = programLaunch(['/bin/echo', decodeBytes(word)], '/', '/tmp/s', {});
    expect(Buffer.byteLength(launch.args.at(-1)!)).toBe(word.length + 1 + 4 * 3);
  });

  it('gives the program DT_SESSION and its working directory exactly', () => {
    const directory = decodeBytes(Buffer.from('/tmp', 'latin1'));
    const socket = decodeBytes(Buffer.from('/tmp/s\xff\n', 'latin1'));
    const launch = programLaunch(['/bin/sh', '-c', 'printf "%s|%s" "$DT_SESSION" "$PWD"'], directory, socket, {});
    const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
    expect(result.stdout).toEqual(Buffer.from('/tmp/s\xff\n|/tmp', 'latin1'));
  });

  it('gives the program environment values that are not UTF-8 exactly, and the others as they are, whatever its command', () => {
    const latin = Buffer.from('caf\xe9 a%s\\n"\'$x\n', 'latin1');
    const env = { LATIN: decodeBytes(latin), PLAIN: 'café' };
    const launch = programLaunch(['/bin/sh', '-c', 'printf "%s|%s|%s" "$LATIN" "$PLAIN" "$DT_SESSION"'], '/', '/tmp/s', env);
    expect(launch.file).toBe('/bin/sh');
    const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
    expect(result.stderr.toString()).toBe('');
    expect(result.stdout).toEqual(Buffer.concat([latin, Buffer.from('|café|/tmp/s')]));
  });

  it('keeps the variables whose names the shell cannot hold (it drops them as it starts), unless the program\'s name has a "="', () => {
    const env = { 'A-B': 'x', 'a.b': decodeBytes(Buffer.from('\xff', 'latin1')), PLAIN: '1' };
    const environmentOf = (program: string): string[] => {
      // A socket path that is not UTF-8: the launch goes through the shell.
      const launch = programLaunch([program, '-0'], '/', '/tmp/s\udcff', env);
      expect(launch.file).toBe('/bin/sh');
      const result = spawnSync(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
      expect(result.stderr.toString()).toBe('');
      return result.stdout.toString('latin1').split('\0').filter((entry) => /^(A-B|a\.b|PLAIN|DT_SESSION)=/.test(entry)).sort();
    };
    expect(environmentOf('/usr/bin/env')).toEqual(['A-B=x', 'DT_SESSION=/tmp/s\xff', 'PLAIN=1', 'a.b=\xff']);
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-launch-'));
    try {
      fs.symlinkSync('/usr/bin/env', path.join(directory, 'e=nv'));
      expect(environmentOf(path.join(directory, 'e=nv'))).toEqual(['DT_SESSION=/tmp/s\xff', 'PLAIN=1']);
    } finally {
      fs.rmSync(directory, { recursive: true });
    }
  });
});
