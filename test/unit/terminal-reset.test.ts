// The reset a client writes as it leaves, as each terminal takes it (src/client/terminal.ts).
import { describe, expect, it } from 'vitest';
import { programModesResetFor } from '../../src/client/terminal.js';

const ONLY_FOR_XTERMS = ['\x1b[<99u', '\x1b[<u', '\x1b[>4m', '\x1b[0 q', '\x1b]8;;\x1b\\'];

describe('programModesResetFor', () => {
  it.each(['xterm-256color', 'tmux-256color', 'screen', 'vt220', undefined])('TERM=%s: resets kitty flags, modifyOtherKeys, cursor style and hyperlinks', (term) => {
    const reset = programModesResetFor(term);
    for (const part of ONLY_FOR_XTERMS) expect(reset).toContain(part);
  });

  it.each(['linux', 'linux-16color', 'linux-c'])('TERM=%s: leaves out what the console misreads, and keeps the rest', (term) => {
    const reset = programModesResetFor(term);
    for (const part of ONLY_FOR_XTERMS) expect(reset).not.toContain(part);
    expect(reset).toBe(ONLY_FOR_XTERMS.reduce((sequence, part) => sequence.replace(part, ''), programModesResetFor('xterm')));
    expect(reset).toContain('\x1b[?1049l\x1b7\x1b[?6l\x1b[r\x1b8');
  });

  it('a name that only begins like the console\'s is not the console', () => {
    expect(programModesResetFor('linuxish')).toBe(programModesResetFor('xterm'));
  });
});
