// The terminal-mode tracker is pure code: every sequence it follows must be understood however
// the program's output is cut, several to a sequence, through resets and garbage; and what it
// replays must put a real terminal (xterm.js) in the same modes as the program's own output.

import { describe, expect, it } from 'vitest';
import { MAX_TITLE_BYTES, TerminalModeTracker, restoreSequenceFor, type TerminalModes } from '../../src/master/terminal-modes.js';
import { Screen } from '../screen.js';

const DEFAULTS: TerminalModes = new TerminalModeTracker().snapshot();

/** The modes after the tracker has read `chunks` in turn. */
function modesAfter(...chunks: Array<Buffer | string>): TerminalModes {
  const tracker = new TerminalModeTracker();
  for (const chunk of chunks) tracker.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  return tracker.snapshot();
}

function changed(changes: Partial<Omit<TerminalModes, 'title'>> & { title?: string }): TerminalModes {
  const { title, ...rest } = changes;
  return { ...DEFAULTS, ...rest, ...(title === undefined ? {} : { title: Buffer.from(title, 'latin1') }) };
}

/** Every way to cut `bytes` in two, and one byte at a time: all must give `expected`. */
function expectEverySplit(bytes: string, expected: TerminalModes): void {
  const whole = Buffer.from(bytes, 'latin1');
  expect(modesAfter(whole), 'whole').toEqual(expected);
  for (let at = 0; at <= whole.length; at++) {
    expect(modesAfter(whole.subarray(0, at), whole.subarray(at)), `split at byte ${at}`).toEqual(expected);
  }
  expect(modesAfter(...[...whole].map((byte) => Buffer.from([byte]))), 'byte by byte').toEqual(expected);
}

const SEQUENCES: Array<{ name: string; bytes: string; modes: TerminalModes }> = [
  { name: 'cursor keys ?1h', bytes: '\x1b[?1h', modes: changed({ applicationCursorKeys: true }) },
  { name: 'cursor keys ?1h ?1l', bytes: '\x1b[?1h\x1b[?1l', modes: DEFAULTS },
  { name: 'autowrap off ?7l', bytes: '\x1b[?7l', modes: changed({ autowrap: false }) },
  { name: 'cursor hidden ?25l', bytes: '\x1b[?25l', modes: changed({ cursorVisible: false }) },
  { name: 'cursor hidden then shown', bytes: '\x1b[?25l\x1b[?25h', modes: DEFAULTS },
  { name: 'alternate screen ?47h', bytes: '\x1b[?47h', modes: changed({ alternateScreen: true }) },
  { name: 'alternate screen ?1047h', bytes: '\x1b[?1047h', modes: changed({ alternateScreen: true }) },
  { name: 'alternate screen ?1049h', bytes: '\x1b[?1049h', modes: changed({ alternateScreen: true }) },
  { name: 'alternate screen left ?1049l', bytes: '\x1b[?1049h\x1b[?1049l', modes: DEFAULTS },
  { name: 'mouse X10 ?9h', bytes: '\x1b[?9h', modes: changed({ mouseTracking: 9 }) },
  { name: 'mouse ?1000h', bytes: '\x1b[?1000h', modes: changed({ mouseTracking: 1000 }) },
  { name: 'mouse ?1002h', bytes: '\x1b[?1002h', modes: changed({ mouseTracking: 1002 }) },
  { name: 'mouse ?1003h', bytes: '\x1b[?1003h', modes: changed({ mouseTracking: 1003 }) },
  { name: 'mouse: the last one set wins', bytes: '\x1b[?1003h\x1b[?1000h', modes: changed({ mouseTracking: 1000 }) },
  { name: 'mouse off by any reset', bytes: '\x1b[?1002h\x1b[?1000l', modes: DEFAULTS },
  { name: 'mouse encoding ?1005h', bytes: '\x1b[?1005h', modes: changed({ mouseEncoding: 1005 }) },
  { name: 'mouse encoding ?1006h', bytes: '\x1b[?1006h', modes: changed({ mouseEncoding: 1006 }) },
  { name: 'mouse encoding ?1015h', bytes: '\x1b[?1015h', modes: changed({ mouseEncoding: 1015 }) },
  { name: 'mouse encoding ?1016h', bytes: '\x1b[?1016h', modes: changed({ mouseEncoding: 1016 }) },
  { name: 'mouse encoding off', bytes: '\x1b[?1006h\x1b[?1006l', modes: DEFAULTS },
  { name: 'focus events ?1004h', bytes: '\x1b[?1004h', modes: changed({ focusEvents: true }) },
  { name: 'bracketed paste ?2004h', bytes: '\x1b[?2004h', modes: changed({ bracketedPaste: true }) },
  { name: 'bracketed paste off', bytes: '\x1b[?2004h\x1b[?2004l', modes: DEFAULTS },
  { name: 'application keypad ESC =', bytes: '\x1b=', modes: changed({ applicationKeypad: true }) },
  { name: 'numeric keypad ESC >', bytes: '\x1b=\x1b>', modes: DEFAULTS },
  { name: 'kitty push CSI > 5 u', bytes: '\x1b[>5u', modes: changed({ keyboardFlags: { normal: 5, alternate: 0 } }) },
  { name: 'kitty push, push, pop', bytes: '\x1b[>1u\x1b[>3u\x1b[<u', modes: changed({ keyboardFlags: { normal: 1, alternate: 0 } }) },
  { name: 'kitty pop 2', bytes: '\x1b[>1u\x1b[>3u\x1b[<2u', modes: DEFAULTS },
  { name: 'kitty pop more than pushed', bytes: '\x1b[>1u\x1b[<9u', modes: DEFAULTS },
  { name: 'kitty set CSI = 5 ; 1 u', bytes: '\x1b[=5;1u', modes: changed({ keyboardFlags: { normal: 5, alternate: 0 } }) },
  { name: 'kitty set, default mode 1', bytes: '\x1b[>8u\x1b[=3u', modes: changed({ keyboardFlags: { normal: 3, alternate: 0 } }) },
  { name: 'kitty add CSI = f ; 2 u', bytes: '\x1b[>1u\x1b[=4;2u', modes: changed({ keyboardFlags: { normal: 5, alternate: 0 } }) },
  { name: 'kitty remove CSI = f ; 3 u', bytes: '\x1b[>7u\x1b[=2;3u', modes: changed({ keyboardFlags: { normal: 5, alternate: 0 } }) },
  { name: 'kitty flags are per screen', bytes: '\x1b[>1u\x1b[?1049h\x1b[>15u', modes: changed({ alternateScreen: true, keyboardFlags: { normal: 1, alternate: 15 } }) },
  { name: 'kitty alternate flags stay with that screen', bytes: '\x1b[?1049h\x1b[>15u\x1b[?1049l', modes: changed({ keyboardFlags: { normal: 0, alternate: 15 } }) },
  { name: 'kitty query CSI ? u changes nothing', bytes: '\x1b[?u', modes: DEFAULTS },
  { name: 'restore cursor CSI u changes nothing', bytes: '\x1b[u', modes: DEFAULTS },
  { name: 'modifyOtherKeys CSI > 4 ; 2 m', bytes: '\x1b[>4;2m', modes: changed({ modifyOtherKeys: 2 }) },
  { name: 'modifyOtherKeys reset CSI > 4 m', bytes: '\x1b[>4;2m\x1b[>4m', modes: DEFAULTS },
  { name: 'modifyOtherKeys reset CSI > m', bytes: '\x1b[>4;1m\x1b[>m', modes: DEFAULTS },
  { name: 'modifyOtherKeys disabled CSI > 4 n', bytes: '\x1b[>4;1m\x1b[>4n', modes: DEFAULTS },
  { name: 'other key modifier resource', bytes: '\x1b[>1;2m', modes: DEFAULTS },
  { name: 'SGR is not a mode', bytes: '\x1b[1;31m\x1b[38:2:1:2:3m', modes: DEFAULTS },
  { name: 'cursor style CSI 5 SP q', bytes: '\x1b[5 q', modes: changed({ cursorStyle: 5 }) },
  { name: 'cursor style default CSI SP q', bytes: '\x1b[2 q\x1b[ q', modes: DEFAULTS },
  { name: 'cursor style out of range', bytes: '\x1b[9 q', modes: DEFAULTS },
  { name: 'title OSC 2 BEL', bytes: '\x1b]2;hello world\x07', modes: changed({ title: 'hello world' }) },
  { name: 'title OSC 0 ST', bytes: '\x1b]0;vim: file.txt\x1b\\', modes: changed({ title: 'vim: file.txt' }) },
  { name: 'title in UTF-8', bytes: '\x1b]2;caf\xc3\xa9\x07', modes: changed({ title: 'caf\xc3\xa9' }) },
  { name: 'icon name OSC 1 is not the title', bytes: '\x1b]1;icon\x07', modes: DEFAULTS },
  { name: 'other OSC (colour) is not the title', bytes: '\x1b]10;?\x07\x1b]52;c;aGk=\x07', modes: DEFAULTS },
  { name: 'title emptied', bytes: '\x1b]2;x\x07\x1b]2;\x07', modes: DEFAULTS },
  { name: 'title saved and restored CSI 22/23 t', bytes: '\x1b]2;shell\x07\x1b[22;0t\x1b]2;vim\x07\x1b[23;0t', modes: changed({ title: 'shell' }) },
  { name: 'title stack underflow keeps the title', bytes: '\x1b]2;a\x07\x1b[23;2t', modes: changed({ title: 'a' }) },
  { name: 'OSC ended by ESC alone', bytes: '\x1b]2;abc\x1b[?1h', modes: changed({ title: 'abc', applicationCursorKeys: true }) },
  { name: 'DCS skipped with its content', bytes: '\x1bP1$r\x1b[?1h\x1b\\', modes: changed({ applicationCursorKeys: true }) },
  { name: 'APC (kitty graphics) skipped', bytes: '\x1b_Gf=100;AAAA\x1b\\\x1b[?25l', modes: changed({ cursorVisible: false }) },
  { name: 'line drawing in G0 ESC ( 0 (smacs of xterm)', bytes: '\x1b(0', modes: changed({ characterSets: { g0: '(0', g1: ')B' } }) },
  { name: 'line drawing then ASCII in G0, and ESC # 8 is no designation', bytes: '\x1b(0lqqk\x1b(B\x1b#8', modes: DEFAULTS },
  { name: 'line drawing in G1, shifted out (enacs and smacs of screen)', bytes: '\x1b(B\x1b)0\x0elq', modes: changed({ characterSets: { g0: '(B', g1: ')0' }, shiftedOut: true }) },
  { name: 'shifted out then in', bytes: '\x1b)0\x0elqqk\x0f text', modes: changed({ characterSets: { g0: '(B', g1: ')0' } }) },
  { name: 'SO inside a CSI acts', bytes: '\x1b[1\x0e;2H', modes: changed({ shiftedOut: true }) },
  { name: 'a 96-character set in G1 ESC - A', bytes: '\x1b)0\x1b-A', modes: changed({ characterSets: { g0: '(B', g1: '-A' } }) },
  { name: 'a designation with two intermediates ESC ( % 5', bytes: '\x1b(%5', modes: changed({ characterSets: { g0: '(%5', g1: ')B' } }) },
  { name: 'G2 and G3 are not followed', bytes: '\x1b*0\x1b+0', modes: DEFAULTS },
  { name: 'a designation with three intermediates is ignored', bytes: '\x1b(0\x1b( !5', modes: changed({ characterSets: { g0: '(0', g1: ')B' } }) },
  { name: 'text and controls around', bytes: 'a\r\nb\x1b[?2004h\tc\x1b[H\x1b[2J', modes: changed({ bracketedPaste: true }) },
  { name: 'control inside a CSI acts without ending it', bytes: '\x1b[?10\r49h', modes: changed({ alternateScreen: true }) },
];

describe('each followed sequence, cut at every byte', () => {
  it.each(SEQUENCES)('$name', ({ bytes, modes }) => {
    expectEverySplit(bytes, modes);
  });
});

describe('several modes in one sequence', () => {
  it('CSI ? 1 ; 1049 ; 1006 ; 1002 ; 1004 ; 2004 ; 25 h, cut at every byte', () => {
    expectEverySplit('\x1b[?1;1049;1006;1002;1004;2004;25h', changed({
      applicationCursorKeys: true, alternateScreen: true, mouseEncoding: 1006, mouseTracking: 1002, focusEvents: true, bracketedPaste: true,
    }));
  });

  it('set and reset in one stream: what vim does on start and on :q', () => {
    const start = '\x1b[?1049h\x1b[22;0t\x1b[>4;2m\x1b[?1h\x1b=\x1b[?2004h\x1b[?1004h\x1b]2;f - VIM\x07\x1b[?25l\x1b[2 q';
    const quit = '\x1b[?2004l\x1b[?1004l\x1b[>4;m\x1b[?1l\x1b>\x1b[?25h\x1b[23;0t\x1b[0 q\x1b[?1049l';
    expectEverySplit(start, changed({
      alternateScreen: true, modifyOtherKeys: 2, applicationCursorKeys: true, applicationKeypad: true, bracketedPaste: true,
      focusEvents: true, title: 'f - VIM', cursorVisible: false, cursorStyle: 2,
    }));
    expectEverySplit(start + quit, DEFAULTS);
  });

  it('an omitted parameter in a list is no mode, the others count', () => {
    expectEverySplit('\x1b[?;1;;2004h', changed({ applicationCursorKeys: true, bracketedPaste: true }));
  });
});

describe('resets', () => {
  const everything = '\x1b[?1;1049;1003;1006;1004;2004h\x1b[?7l\x1b[?25l\x1b=\x1b[>9u\x1b[>4;2m\x1b[4 q\x1b]2;t\x07';

  it('ESC c (RIS) returns every mode to its default and keeps the title, as xterm does', () => {
    expectEverySplit(`${everything}\x1bc`, changed({ title: 't' }));
  });

  it('CSI ! p (DECSTR) resets keys, autowrap, cursor and paste, not the screen, mouse or keyboard flags', () => {
    expectEverySplit(`${everything}\x1b[!p`, changed({
      alternateScreen: true, mouseTracking: 1003, mouseEncoding: 1006, keyboardFlags: { normal: 0, alternate: 9 }, modifyOtherKeys: 2, title: 't',
    }));
  });

  it('RIS and DECSTR reset the character sets and the shift; an SO after them counts', () => {
    expectEverySplit('\x1b(0\x1b)0\x0e\x1bc', DEFAULTS);
    expectEverySplit('\x1b(0\x1b)0\x0e\x1b[!p', DEFAULTS);
    expectEverySplit('\x1b)0\x0e\x1bc\x0e', changed({ shiftedOut: true }));
    expectEverySplit('\x0e\x1b[!p\x1b)0\x0e\x0f\x1b[!p\x0e', changed({ shiftedOut: true }));
  });

  it('a reset inside another sequence is no reset: ESC c in a title, CSI ! p in a DCS', () => {
    expectEverySplit('\x1b[?1h\x1b]2;a\x07', changed({ applicationCursorKeys: true, title: 'a' }));
    expectEverySplit('\x1b[?1h\x1bPq!p\x1b\\', changed({ applicationCursorKeys: true }));
  });
});

describe('garbage', () => {
  it('CAN and SUB abort a sequence; ESC restarts one', () => {
    expectEverySplit('\x1b[?10\x1849h\x1b[?1\x1a;h\x1b[?20\x1b[?2004h', changed({ bracketedPaste: true }));
  });

  it('sequences with bytes no followed sequence has are ignored whole', () => {
    expectEverySplit('\x1b[?1:2h\x1b[??1h\x1b[?1 h\x1b[?1\x80h\x1b[>1!u\x1b[1$p', DEFAULTS);
  });

  it('random bytes never throw, and CAN then a sequence is understood whatever came before', () => {
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
    const alphabet = Buffer.from('\x1b[]?;>=<0123456789hlumqtp !c\x07\x18\\P_ 2004 1049 abc\x00\x7f\xff()-%\x0e\x0f', 'latin1');
    for (let round = 0; round < 200; round++) {
      const garbage = Buffer.alloc(200);
      for (let i = 0; i < garbage.length; i++) garbage[i] = random() % 3 === 0 ? random() & 0xff : alphabet[random() % alphabet.length]!;
      const tracker = new TerminalModeTracker();
      tracker.feed(garbage);
      tracker.feed(Buffer.from('\x18\x1bc\x1b[?2004h', 'latin1'));
      expect(tracker.snapshot().bracketedPaste, garbage.toString('hex')).toBe(true);
      expect(() => tracker.restoreSequence()).not.toThrow();
    }
  });

  it('a title longer than the limit is skipped whole; the one before stays', () => {
    const long = 'x'.repeat(MAX_TITLE_BYTES + 1);
    expect(modesAfter(`\x1b]2;before\x07\x1b]2;${long}\x07\x1b[?1h`)).toEqual(changed({ title: 'before', applicationCursorKeys: true }));
    expect(modesAfter(`\x1b]2;${'y'.repeat(MAX_TITLE_BYTES)}\x07`).title.length).toBe(MAX_TITLE_BYTES);
  });

  it('a never-ending OSC, CSI or DCS does not grow the tracker', () => {
    const megabytes = 16;
    const endless = [
      Buffer.concat([Buffer.from('\x1b]2;'), Buffer.alloc(megabytes << 20, 0x61)]),
      Buffer.concat([Buffer.from('\x1b[?'), Buffer.alloc(megabytes << 20, 0x3b)]), // ;;;;: parameters
      Buffer.concat([Buffer.from('\x1b[?'), Buffer.alloc(megabytes << 20, 0x39)]), // 9999: one huge parameter
      Buffer.concat([Buffer.from('\x1bP'), Buffer.alloc(megabytes << 20, 0x61)]),
    ];
    for (const bytes of endless) {
      const tracker = new TerminalModeTracker();
      const before = process.memoryUsage().heapUsed;
      for (let at = 0; at < bytes.length; at += 4096) tracker.feed(bytes.subarray(at, at + 4096));
      // Kept bytes or numbers would take at least as much heap as the input (16 MiB).
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(4 << 20);
      tracker.feed(Buffer.from('\x07\x18\x1b[?1h', 'latin1'));
      expect(tracker.snapshot()).toEqual(changed({ applicationCursorKeys: true }));
    }
  });

  it('a kitty push flood keeps a bounded stack; popping it all returns to no flags', () => {
    const tracker = new TerminalModeTracker();
    tracker.feed(Buffer.from('\x1b[>1u'.repeat(100_000)));
    tracker.feed(Buffer.from('\x1b[<1000u'));
    expect(tracker.snapshot()).toEqual(DEFAULTS);
  });
});

describe('the restore sequence', () => {
  it('is empty for a program that changed no mode', () => {
    expect(new TerminalModeTracker().restoreSequence().length).toBe(0);
    expect(modesAfter('plain text\r\n\x1b[1mbold\x1b[0m')).toEqual(DEFAULTS);
  });

  it('enters the alternate screen first, after the normal screen\'s keyboard flags', () => {
    const sequence = restoreSequenceFor(changed({
      alternateScreen: true, keyboardFlags: { normal: 1, alternate: 3 }, bracketedPaste: true, title: 't',
    }));
    expect(sequence).toBe('\x1b[>1u\x1b[?1049h\x1b[?2004h\x1b[>3u\x1b]2;t\x07');
  });

  it('designates the character sets and shifts out last; G1 whenever shifted out', () => {
    expect(restoreSequenceFor(changed({ characterSets: { g0: '(0', g1: ')0' }, shiftedOut: true, cursorVisible: false })))
      .toBe('\x1b[?25l\x1b(0\x1b)0\x0e');
    expect(restoreSequenceFor(changed({ shiftedOut: true }))).toBe('\x1b)B\x0e');
    expect(restoreSequenceFor(changed({ characterSets: { g0: '(B', g1: '-A' } }))).toBe('\x1b-A');
  });

  it('writes kitty flags, modifyOtherKeys and the cursor style as the program would', () => {
    expect(restoreSequenceFor(changed({ keyboardFlags: { normal: 31, alternate: 0 }, modifyOtherKeys: 2, cursorStyle: 6 })))
      .toBe('\x1b[>31u\x1b[>4;2m\x1b[6 q');
  });

  const PROGRAMS: Array<{ name: string; output: string }> = [
    { name: 'vim', output: '\x1b[?1049h\x1b[22;0t\x1b[?1h\x1b=\x1b[?2004h\x1b[?1004h\x1b]2;f - VIM\x07\x1b[H\x1b[2Jtext\x1b[?25l\x1b[5 q' },
    { name: 'htop', output: '\x1b[?1049h\x1b[1;24r\x1b(B\x1b[m\x1b[4l\x1b[?7h\x1b[?1h\x1b=\x1b[?25l\x1b[?1000h\x1b[?1006h\x1b[39;49m\x1b[H\x1b[2J  CPU' },
    { name: 'less', output: '\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\rline 1\r\n:' },
    { name: 'a mouse-heavy program', output: '\x1b[?1003;1016h\x1b[?7l\x1b]0;any title\x1b\\' },
    { name: 'bash', output: '\x1b[?2004h\x1b]0;user@host: ~\x07$ ' },
    { name: 'a curses program on TERM=screen', output: '\x1b[?1049h\x1b(B\x1b)0\x1b[H\x1b[2J\x0elqqk\x0f text \x1b[2;1H\x0ex' },
    { name: 'a curses program on TERM=xterm', output: '\x1b[?1049h\x1b[H\x1b[2J\x1b(0lqqk\x1b(B text \x1b[2;1H\x1b(0x' },
    { name: 'a program that reset everything', output: '\x1b]2;kept\x07\x1b[?1049h\x1b[?1h\x1b=\x1b[?2004h\x1bc$ ' },
  ];

  it.each(PROGRAMS)('$name: a fresh xterm.js attaching at any byte ends in the modes of one that saw everything', async ({ output }) => {
    const bytes = Buffer.from(`${output}\x1b[?2004l\x1b]2;last title\x1b\\\x1b[?1004l`, 'latin1');
    const original = new Screen();
    original.write(bytes);
    await original.settled();
    for (let at = 0; at <= bytes.length; at++) {
      const tracker = new TerminalModeTracker();
      tracker.feed(bytes.subarray(0, at));
      const attached = new Screen();
      attached.write(Buffer.concat([tracker.restoreSequence(), bytes.subarray(at)]));
      await attached.settled();
      expect(attached.modes, `attached after byte ${at}`).toEqual(original.modes);
      expect(attached.text, `attached after byte ${at}: no piece of a sequence shown as text`).not.toMatch(/\[|\]|\?|2004|1004|title/);
    }
  });

  it('replays no unfinished sequence longer than it keeps, and none once the output is between sequences', () => {
    const tracker = new TerminalModeTracker();
    tracker.feed(Buffer.from(`\x1b]2;${'t'.repeat(MAX_TITLE_BYTES + 100)}`, 'latin1'));
    expect(tracker.restoreSequence().toString('latin1')).toBe('');
    tracker.feed(Buffer.from('\x07\x1b[?1', 'latin1'));
    expect(tracker.restoreSequence().toString('latin1')).toBe('\x1b[?1');
    tracker.feed(Buffer.from('h', 'latin1'));
    expect(tracker.restoreSequence().toString('latin1')).toBe('\x1b[?1h');
  });

  it.each(PROGRAMS)('puts a fresh xterm.js in the modes $name left its own terminal in', async ({ output }) => {
    const original = new Screen();
    original.write(output);
    await original.settled();
    expect(original.modes, 'the program changed some mode').not.toEqual(new Screen().modes);
    const tracker = new TerminalModeTracker();
    tracker.feed(Buffer.from(output, 'latin1'));
    const fresh = new Screen();
    fresh.write(tracker.restoreSequence());
    await fresh.settled();
    expect(fresh.modes).toEqual(original.modes);
  });
});
