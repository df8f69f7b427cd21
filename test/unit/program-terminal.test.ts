// The program's terminal, with a real program in a real pty: its line-discipline mode as the
// ctrl_l redraw asks for it; and once the pty's descriptor is closed, nothing more goes to its
// number.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProgramTerminal } from '../../src/master/program-terminal.js';

const started: ProgramTerminal[] = [];

function startProgram(command = 'exec sleep 60'): ProgramTerminal {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  const program = new ProgramTerminal('/bin/sh', ['-c', command], { cols: 80, rows: 24, cwd: '/', env });
  started.push(program);
  return program;
}

/** This process's descriptors open on the pseudo-terminal multiplexer (a pty's master side). */
function ptyDescriptors(): number[] {
  return fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/ptmx';
    } catch {
      return false; // the directory's own descriptor, closed by now
    }
  });
}

/** Opens `file` until it has descriptor `fd` (the lowest free number is taken first); closes the others. */
function openAs(file: string, fd: number): number | undefined {
  const others: number[] = [];
  let opened: number | undefined;
  while (others.length < 1000) {
    const next = fs.openSync(file, 'a');
    if (next === fd) opened = next;
    else others.push(next);
    if (opened !== undefined || next > fd) break;
  }
  for (const other of others) fs.closeSync(other);
  return opened;
}

/** The pids of this process's children that run `name`. */
function childrenRunning(name: string): number[] {
  const children = fs.readFileSync(`/proc/self/task/${process.pid}/children`, 'latin1').split(' ').filter(Boolean).map(Number);
  return children.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim() === name;
    } catch {
      return false; // it ended as we looked
    }
  });
}

afterEach(async () => {
  for (const program of started.splice(0)) {
    const exited = new Promise<void>((resolve) => program.onExit(() => resolve()));
    program.hangUp();
    await exited;
  }
  expect(childrenRunning('sleep')).toEqual([]);
});

describe('ProgramTerminal', () => {
  it('tells a program that reads keys one at a time without echo from one that reads lines, from its pty', async () => {
    // Each mode is set by stty in the program's own terminal, and the program says so in a file.
    const marker = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-modes-'));
    try {
      let programs = 0;
      const modes = async (settings: string): Promise<boolean> => {
        const file = path.join(marker, String(++programs));
        const program = startProgram(`stty ${settings} && : > '${file}' && exec sleep 60`);
        const deadline = performance.now() + 10_000;
        while (!fs.existsSync(file)) {
          if (performance.now() > deadline) throw new Error(`the program did not set "${settings}" within 10 s`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return program.isCharacterAtATimeNoEcho();
      };
      // A shell's terminal, canonical with echo: a ^L would be a stray character.
      expect(await modes('sane')).toBe(false);
      expect(await modes('raw -echo')).toBe(true);
      expect(await modes('-icanon -echo min 1')).toBe(true);
      // Raw but echoing, or reading keys two at a time: still no ^L.
      expect(await modes('raw echo')).toBe(false);
      expect(await modes('raw -echo min 2')).toBe(false);
    } finally {
      fs.rmSync(marker, { recursive: true, force: true });
    }
  });

  it('says no once the pty\'s descriptor is closed', async () => {
    const program = startProgram('stty raw -echo && exec cat');
    const exited = new Promise<void>((resolve) => program.onExit(() => resolve()));
    // Once it is cat: raw, and leading its process group, which the hangup reaches.
    const deadline = performance.now() + 10_000;
    while (fs.readFileSync(`/proc/${program.pid}/comm`, 'latin1') !== 'cat\n') {
      if (performance.now() > deadline) throw new Error('the program did not become cat within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(program.isCharacterAtATimeNoEcho()).toBe(true);
    program.hangUp();
    await exited;
    started.splice(started.indexOf(program), 1); // ended: nothing for afterEach to hang up
    expect(program.isCharacterAtATimeNoEcho()).toBe(false);
  });

  // Node closes the descriptor as the stream ends and says 'close' only in a later phase of the
  // event loop; in the master, a client connection accepted meanwhile took the number, and input
  // typed then (or a window size) went to that client as raw bytes, not to anybody's program.
  it('writes no input once its descriptor is closed, before the close is reported: the number may be another file\'s by then', async () => {
    const before = ptyDescriptors();
    const program = startProgram('exec cat');
    const [fd] = ptyDescriptors().filter((descriptor) => !before.includes(descriptor));
    expect(fd).toBeDefined();
    const exited = new Promise<void>((resolve) => program.onExit(() => resolve()));
    // Hung up once it is cat: before, it may not lead its process group yet, and nothing would end it.
    const waitingSince = performance.now();
    while (fs.readFileSync(`/proc/${program.pid}/comm`, 'latin1') !== 'cat\n') {
      if (performance.now() - waitingSince > 10_000) throw new Error('the program did not become cat within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-pty-'));
    const file = path.join(directory, 'other');
    const pty = fs.fstatSync(fd!);
    let taken: number | undefined;
    try {
      const deadline = performance.now() + 10_000;
      // In every turn of the loop, after its I/O (setImmediate): the descriptor closed, the number is given to a file.
      const reused = new Promise<void>((resolve, reject) => {
        const check = (): void => {
          let now: fs.Stats | undefined;
          try {
            now = fs.fstatSync(fd!);
          } catch {
            taken = openAs(file, fd!);
            program.write(Buffer.from('typed after the end\n'));
            program.resize(100, 30); // asks the same question before its ioctl; on a file it would only fail
            return resolve();
          }
          if (now.ino !== pty.ino || now.rdev !== pty.rdev) return reject(new Error(`the pty's descriptor ${fd} was closed and taken by another file before this test could look`));
          if (performance.now() > deadline) return reject(new Error(`the pty's descriptor ${fd} was not closed within 10 s`));
          setImmediate(check);
        };
        setImmediate(check);
      });
      program.hangUp();
      await reused;
      await exited;
      started.splice(started.indexOf(program), 1); // ended: nothing for afterEach to hang up
      expect(taken, 'the file did not get the pty\'s old number').toBe(fd);
      expect(fs.readFileSync(file, 'latin1')).toBe('');
    } finally {
      if (taken !== undefined) fs.closeSync(taken);
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });
});
