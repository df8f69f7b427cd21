// The harness itself: what a test's terminal shows must reach every reader of it, also the
// last words of a program that exits before the test has read them.

import { afterEach, beforeEach, expect, it } from 'vitest';
import { Sandbox, checkPattern, hasEnded, waitUntil } from './harness.js';
import { screenOf } from '../screen.js';

const LINES = 1024; // 16 KiB of the pattern: far more than one read, well under what a pty holds

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => { await sandbox.teardown(); });

it('a program that prints and exits while the test does not read: every byte reaches the pattern checker and the screen', async () => {
  // The pattern (test/fixtures/pattern.mjs's lines) with output processing off, then an end line.
  const script = `stty -opost; i=0; while [ $i -lt ${LINES} ]; do printf '%015d\\n' $i; i=$((i+1)); done; printf '\\r\\nEND %s' done`;
  const term = sandbox.run('/bin/sh', ['-c', script]);
  const checker = checkPattern(term);
  const screen = screenOf(term);
  // A test busy elsewhere: the program's output waits in the pty until it has exited.
  term.pty.pause();
  await waitUntil(() => hasEnded(term.pid), 'the program to exit');
  term.pty.resume();
  await term.waitFor('END done');
  expect(checker.matched, 'bytes of the pattern the checker saw').toBe(LINES * 16);
  expect(checker.tail).toBe('\r\nEND done');
  await screen.settled();
  expect(screen.text).toContain('END done');
});
