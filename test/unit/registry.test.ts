// parseRecord: a registry file's text becomes a record only when every field is what dt writes.

import { describe, expect, it } from 'vitest';
import { parseRecord } from '../../src/common/registry.js';

const VALID = { socket: '/tmp/dt-0/work', masterPid: 42, command: ['bash', '-l'], startedAt: '2026-11-24T18:02:00.000Z' };
const EXIT = { code: 3, signal: 0, endedAt: '2026-11-24T18:40:00.000Z' };

describe('parseRecord', () => {
  it('accepts what dt writes, with and without an exit status, and ignores unknown fields', () => {
    expect(parseRecord(JSON.stringify(VALID), 42)).toEqual(VALID);
    expect(parseRecord(JSON.stringify({ ...VALID, exit: EXIT }), 42)).toEqual({ ...VALID, exit: EXIT });
    expect(parseRecord(JSON.stringify({ ...VALID, future: true }), 42)).toEqual(VALID);
    const failed = { ...VALID, exit: { code: 1, signal: 0, endedAt: EXIT.endedAt }, startError: 'could not start bash: forkpty(3) failed.' };
    expect(parseRecord(JSON.stringify(failed), 42)).toEqual(failed);
    expect(parseRecord(JSON.stringify({ ...VALID, log: '/var/log/work.log' }), 42)).toEqual({ ...VALID, log: '/var/log/work.log' });
  });

  it.each([
    ['not JSON', '{"socket":'],
    ['empty', ''],
    ['null', 'null'],
    ['an array', '[1]'],
    ['a string', '"x"'],
    ['socket missing', JSON.stringify({ ...VALID, socket: undefined })],
    ['socket relative', JSON.stringify({ ...VALID, socket: 'work' })],
    ['socket with NUL', JSON.stringify({ ...VALID, socket: '/tmp/a\0b' })],
    ['socket a number', JSON.stringify({ ...VALID, socket: 5 })],
    ['pid a string', JSON.stringify({ ...VALID, masterPid: '42' })],
    ['pid not the name', JSON.stringify({ ...VALID, masterPid: 43 })],
    ['command a string', JSON.stringify({ ...VALID, command: 'bash' })],
    ['command empty', JSON.stringify({ ...VALID, command: [] })],
    ['command with a number', JSON.stringify({ ...VALID, command: ['bash', 1] })],
    ['startedAt missing', JSON.stringify({ ...VALID, startedAt: undefined })],
    ['startedAt not a date', JSON.stringify({ ...VALID, startedAt: 'yesterday' })],
    ['startedAt a number', JSON.stringify({ ...VALID, startedAt: 1700000000 })],
    ['log relative', JSON.stringify({ ...VALID, log: 'work.log' })],
    ['log a number', JSON.stringify({ ...VALID, log: 1 })],
    ['log with NUL', JSON.stringify({ ...VALID, log: '/tmp/a\0b' })],
    ['exit null', JSON.stringify({ ...VALID, exit: null })],
    ['exit code a string', JSON.stringify({ ...VALID, exit: { ...EXIT, code: '3' } })],
    ['exit code 256', JSON.stringify({ ...VALID, exit: { ...EXIT, code: 256 } })],
    ['exit code fractional', JSON.stringify({ ...VALID, exit: { ...EXIT, code: 1.5 } })],
    ['exit signal 65', JSON.stringify({ ...VALID, exit: { ...EXIT, signal: 65 } })],
    ['exit endedAt missing', JSON.stringify({ ...VALID, exit: { code: 0, signal: 0 } })],
    ['startError a number', JSON.stringify({ ...VALID, exit: EXIT, startError: 1 })],
    ['startError too long', JSON.stringify({ ...VALID, exit: EXIT, startError: 'x'.repeat(5000) })],
  ])('refuses a record with %s', (_, text) => {
    expect(parseRecord(text, 42)).toBeUndefined();
  });
});
