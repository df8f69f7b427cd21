// The program's terminal, with a real program in a real pty: what the session asks of it
// costs the master a bounded number of processes, however often a client asks.

import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProgramTerminal } from '../../src/master/program-terminal.js';

const started: ProgramTerminal[] = [];

function startProgram(): ProgramTerminal {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  const program = new ProgramTerminal('/bin/sh', ['-c', 'exec sleep 60'], { cols: 80, rows: 24, cwd: '/', env });
  started.push(program);
  return program;
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
  it('asks stty once for many redraw requests at the same time, and gives each the answer', async () => {
    const program = startProgram();
    const answers = Array.from({ length: 50 }, () => program.isCharacterAtATimeNoEcho());
    expect(childrenRunning('stty').length).toBeLessThanOrEqual(1);
    // A shell's terminal is in canonical mode with echo: a ^L would be a stray character.
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 50 }, () => false));
    expect(childrenRunning('stty')).toEqual([]);
    // Asked again once answered: a new question, as the mode may have changed.
    expect(await program.isCharacterAtATimeNoEcho()).toBe(false);
  });
});
