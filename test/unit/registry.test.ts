// parseRecord: a registry file's text becomes a record only when every field is what dt writes.

import { describe, expect, it } from 'vitest';
import { compareStarts, isNewer, parseRecord } from '../../src/common/registry.js';

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
    const dumped = { ...VALID, exit: { code: 0, signal: 11, coreDumped: true, endedAt: EXIT.endedAt } };
    expect(parseRecord(JSON.stringify(dumped), 42)).toEqual(dumped);
  });

  it('keeps a service manager\'s socket and the signal that is ending the session', () => {
    const ending = { ...VALID, serviceSocket: true, terminatedBy: 'SIGTERM' };
    expect(parseRecord(JSON.stringify(ending), 42)).toEqual(ending);
    expect(parseRecord(JSON.stringify({ ...VALID, terminatedBy: 'SIGINT' }), 42)).toEqual({ ...VALID, terminatedBy: 'SIGINT' });
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
    ['exit coreDumped false', JSON.stringify({ ...VALID, exit: { ...EXIT, signal: 11, coreDumped: false } })],
    ['exit coreDumped a number', JSON.stringify({ ...VALID, exit: { ...EXIT, signal: 11, coreDumped: 1 } })],
    ['exit coreDumped without a signal', JSON.stringify({ ...VALID, exit: { ...EXIT, coreDumped: true } })],
    ['startError a number', JSON.stringify({ ...VALID, exit: EXIT, startError: 1 })],
    ['startError too long', JSON.stringify({ ...VALID, exit: EXIT, startError: 'x'.repeat(5000) })],
    ['serviceSocket false', JSON.stringify({ ...VALID, serviceSocket: false })],
    ['serviceSocket a string', JSON.stringify({ ...VALID, serviceSocket: 'yes' })],
    ['terminatedBy a number', JSON.stringify({ ...VALID, terminatedBy: 15 })],
    ['terminatedBy no signal', JSON.stringify({ ...VALID, terminatedBy: 'SIGNOPE' })],
    ['terminatedBy without SIG', JSON.stringify({ ...VALID, terminatedBy: 'TERM' })],
    ['terminatedBy too long', JSON.stringify({ ...VALID, terminatedBy: `SIGTERM${' '.repeat(20)}` })],
  ])('refuses a record with %s', (_, text) => {
    expect(parseRecord(text, 42)).toBeUndefined();
  });
});

describe('compareStarts', () => {
  it('orders by the instant a session started, then by socket path, then by master pid', () => {
    const start = (socket: string, masterPid: number, startedAt: string) => ({ socket, masterPid, startedAt });
    const ordered = [
      start('/tmp/z', 9, '2026-06-01T12:00:00.000+02:00'),
      start('/tmp/b', 5, '2026-06-01T11:00:00Z'),
      start('/tmp/a', 8, '2026-06-01T11:00:00.001Z'),
      start('/tmp/a', 3, '2026-06-01T13:00:00.000+01:00'),
      start('/tmp/a', 4, '2026-06-01T12:00:00.000Z'),
      start('/tmp/b', 2, '2026-06-01T12:00:00.000Z'),
    ];
    for (const shift of [0, 1, 2, 3, 4, 5]) {
      const shuffled = [...ordered.slice(shift), ...ordered.slice(0, shift)].reverse();
      expect(shuffled.sort(compareStarts)).toEqual(ordered);
    }
    // Of one socket's two sessions, the later, or in the same millisecond the higher pid, is the newer.
    expect(isNewer({ ...ordered[4]!, command: ['sh'] }, { ...ordered[3]!, command: ['sh'] })).toBe(true);
    expect(isNewer({ ...ordered[3]!, command: ['sh'] }, { ...ordered[2]!, command: ['sh'] })).toBe(true);
    expect(isNewer({ ...ordered[2]!, command: ['sh'] }, { ...ordered[3]!, command: ['sh'] })).toBe(false);
  });
});
