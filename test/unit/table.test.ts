// formatTable: dt -l's table fitted to a terminal's width; shorten: which end is kept.

import { describe, expect, it } from 'vitest';
import { ELLIPSIS, formatTable, shorten, textWidth, type Column } from '../../src/client/table.js';

const COLUMNS: Column[] = [{ title: 'NAME', shorten: 'keep-end' }, { title: 'PID' }, { title: 'COMMAND', shorten: 'keep-start' }];
const ROWS = [
  ['/a/rather/long/path/to/the/socket', '123', 'make -j8 all install'],
  ['w', '45678', 'bash'],
];

describe('shorten', () => {
  it.each([
    ['abcdef', 6, 'keep-start', 'abcdef'],
    ['abcdef', 5, 'keep-start', `abcd${ELLIPSIS}`],
    ['abcdef', 5, 'keep-end', `${ELLIPSIS}cdef`],
    ['abcdef', 1, 'keep-start', ELLIPSIS],
    ['abcdef', 0, 'keep-start', ''],
    ['日本語です', 5, 'keep-start', `日本${ELLIPSIS}`],
  ] as const)('%j in %i columns, %s', (text, width, keep, expected) => {
    expect(shorten(text, width, keep)).toBe(expected);
    expect(textWidth(shorten(text, width, keep))).toBeLessThanOrEqual(width);
  });
});

describe('formatTable', () => {
  it('without a width, keeps every value whole and aligns the columns', () => {
    expect(formatTable(COLUMNS, ROWS)).toBe(
      'NAME                               PID    COMMAND\n' +
      '/a/rather/long/path/to/the/socket  123    make -j8 all install\n' +
      'w                                  45678  bash\n');
  });

  it.each([60, 40, 30, 24, 10, 1])('fits every row in %i columns, columns aligned', (width) => {
    const lines = formatTable(COLUMNS, ROWS, width).trimEnd().split('\n');
    for (const line of lines) expect(textWidth(line)).toBeLessThanOrEqual(width);
    if (width >= 30) {
      const pid = lines[0]!.indexOf('PID');
      expect(lines[1]!.slice(pid)).toMatch(/^123 /);
      expect(lines[2]!.slice(pid)).toMatch(/^45678 /);
    }
  });

  it('shortens the widest shortenable column first, the path from its start, the command at its end', () => {
    expect(formatTable(COLUMNS, ROWS, 40)).toBe(
      'NAME             PID    COMMAND\n' +
      `${ELLIPSIS}/to/the/socket  123    make -j8 all in${ELLIPSIS}\n` +
      'w                45678  bash\n');
  });

  it('shows control characters as ?', () => {
    expect(formatTable([{ title: 'C' }], [['a\nb\x1b[2J\x9b']])).toBe('C\na?b?[2J?\n');
  });
});
