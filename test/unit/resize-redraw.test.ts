// The resize redraw's decisions, against a terminal that records its sizes: a row shorter,
// the size back only once the program has answered and gone quiet (or after the timeout), and a client's
// size always the last word; input held from the shrink until the program answered the size put back.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RESIZE_REDRAW_QUIET_MS, RESIZE_REDRAW_TIMEOUT_MS, ResizeRedraw } from '../../src/master/resize-redraw.js';

/** Sizes given to the terminal and the input hold's pauses and resumes, in the order they came. */
let events: string[];

class RecordingTerminal {
  readonly sizes: string[] = [];
  size = { cols: 80, rows: 24 };

  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    this.sizes.push(`${cols}x${rows}`);
    events.push(`${cols}x${rows}`);
  }
}

class RecordingHold {
  pauses = 0;
  resumes = 0;

  get holding(): boolean {
    return this.pauses > this.resumes;
  }

  pause(): void {
    expect(this.holding, 'paused twice').toBe(false);
    this.pauses += 1;
    events.push('pause');
  }

  resume(): void {
    expect(this.holding, 'resumed without a pause').toBe(true);
    this.resumes += 1;
    events.push('resume');
  }
}

let terminal: RecordingTerminal;
let hold: RecordingHold;
let redraw: ResizeRedraw;
beforeEach(() => {
  vi.useFakeTimers();
  events = [];
  terminal = new RecordingTerminal();
  hold = new RecordingHold();
  redraw = new ResizeRedraw(terminal, hold);
});
afterEach(() => { vi.useRealTimers(); });

describe('the resize redraw', () => {
  it('makes the terminal a row shorter and puts the size back once the program has written and gone quiet', () => {
    redraw.start();
    expect(terminal.sizes).toEqual(['80x23']);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS / 2);
    expect(terminal.sizes).toEqual(['80x23']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS - 1);
    expect(terminal.sizes, 'not while the program may still be between drawing and waiting').toEqual(['80x23']);
    redraw.programWrote(); // still drawing: the quiet starts again
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS - 1);
    expect(terminal.sizes).toEqual(['80x23']);
    vi.advanceTimersByTime(1);
    expect(terminal.sizes).toEqual(['80x23', '80x24']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS * 2);
    expect(terminal.sizes).toEqual(['80x23', '80x24']);
  });

  it('puts the size back at the timeout when the program never stops writing', () => {
    redraw.start();
    for (let elapsed = 0; elapsed < RESIZE_REDRAW_TIMEOUT_MS - 10; elapsed += 10) {
      redraw.programWrote();
      vi.advanceTimersByTime(10);
    }
    expect(terminal.sizes).toEqual(['80x23']);
    redraw.programWrote();
    vi.advanceTimersByTime(10);
    expect(terminal.sizes).toEqual(['80x23', '80x24']);
  });

  it('puts the size back after the timeout when the program writes nothing', () => {
    redraw.start();
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS);
    expect(terminal.sizes).toEqual(['80x23', '80x24']);
  });

  it('makes a one-row terminal a row taller instead', () => {
    terminal.size = { cols: 80, rows: 1 };
    redraw.start();
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(terminal.sizes).toEqual(['80x2', '80x1']);
  });

  it('serves a second attach with the redraw under way', () => {
    redraw.start();
    redraw.start();
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(terminal.sizes).toEqual(['80x23', '80x24']);
  });

  it('keeps a client\'s size set during the redraw: nothing is put back over it', () => {
    redraw.start();
    redraw.resize(100, 30);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS);
    expect(terminal.sizes).toEqual(['80x23', '100x30']);
  });
});

describe('the resize redraw holds input', () => {
  it('from before the window shrinks until the program answered the size put back and went quiet', () => {
    redraw.start();
    expect(events).toEqual(['pause', '80x23']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', '80x23', '80x24']);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS / 2);
    expect(hold.holding, 'the program has not answered the size put back yet').toBe(true);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS - 1);
    redraw.programWrote(); // still drawing: the quiet starts again
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS - 1);
    expect(hold.holding).toBe(true);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['pause', '80x23', '80x24', 'resume']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS * 2);
    expect(events).toEqual(['pause', '80x23', '80x24', 'resume']);
  });

  it('at most a timeout per size change when the program never answers', () => {
    redraw.start();
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS);
    expect(events).toEqual(['pause', '80x23', '80x24']);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS - 1);
    expect(hold.holding).toBe(true);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['pause', '80x23', '80x24', 'resume']);
  });

  it('at most a timeout per size change when the program never stops writing', () => {
    redraw.start();
    for (let elapsed = 0; elapsed < 2 * RESIZE_REDRAW_TIMEOUT_MS - 10; elapsed += 10) {
      redraw.programWrote();
      vi.advanceTimersByTime(10);
    }
    expect(hold.holding).toBe(true);
    redraw.programWrote();
    vi.advanceTimersByTime(10);
    expect(events).toEqual(['pause', '80x23', '80x24', 'resume']);
  });

  it.each([
    ['waits for the smaller size\'s answer', 0],
    ['waits for the answer to the size put back', RESIZE_REDRAW_TIMEOUT_MS],
  ])('goes on holding when a client sizes the terminal while the redraw %s, until the program answered that size', (_, elapsed) => {
    redraw.start();
    vi.advanceTimersByTime(elapsed);
    redraw.resize(100, 30);
    // Let go with the size change, the keys would be read with its signal (nano drops them).
    expect(events.at(-1)).toBe('100x30');
    expect(hold.holding).toBe(true);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events.slice(-2)).toEqual(['100x30', 'resume']);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS * 2);
    expect(events.slice(-2)).toEqual(['100x30', 'resume']);
  });

  it('holds at most a timeout after a client\'s size when the program does not answer it', () => {
    redraw.start();
    redraw.resize(100, 30);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS - 1);
    expect(hold.holding).toBe(true);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['pause', '80x23', '100x30', 'resume']);
  });

  it('puts its size back when a client gives a size no terminal has', () => {
    redraw.start();
    redraw.resize(0, 0);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(terminal.sizes).toEqual(['80x23', '80x24']);
  });

  it('goes on as it was when a client sizes the terminal to the size the redraw puts back (a client of the same size attaching)', () => {
    redraw.start();
    redraw.resize(80, 24);
    redraw.start();
    // Put back at once, the program might see no change, and draw nothing.
    expect(events).toEqual(['pause', '80x23']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', '80x23', '80x24']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', '80x23', '80x24', 'resume']);
  });

  it('goes on holding for a redraw started while the size put back is being answered: one pause, one resume', () => {
    redraw.start();
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    redraw.start();
    expect(events).toEqual(['pause', '80x23', '80x24', '80x23']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', '80x23', '80x24', '80x23', '80x24', 'resume']);
  });

  it('holds input for the winch redraw until the program has answered the signal and gone quiet, sizing nothing', () => {
    let signals = 0;
    redraw.signal(() => { signals += 1; return true; });
    expect(signals).toBe(1);
    expect(events).toEqual(['pause']);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', 'resume']);
  });

  it('holds input for the winch redraw at most a timeout when the program ignores the signal, and not at all when it was refused', () => {
    redraw.signal(() => true);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS - 1);
    expect(hold.holding).toBe(true);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['pause', 'resume']);
    redraw.signal(() => false);
    expect(hold.holding).toBe(false);
    expect(events).toEqual(['pause', 'resume']);
  });

  it('signals at once during a resize redraw: before the size is put back, that goes on as it was; after, the signal is waited for too', () => {
    let signals = 0;
    redraw.start();
    redraw.signal(() => { signals += 1; return true; });
    expect(signals).toBe(1);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', '80x23', '80x24']);
    redraw.signal(() => { signals += 1; return true; });
    expect(signals).toBe(2);
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS - 1);
    expect(hold.holding).toBe(true);
    redraw.programWrote();
    vi.advanceTimersByTime(RESIZE_REDRAW_QUIET_MS);
    expect(events).toEqual(['pause', '80x23', '80x24', 'resume']);
  });

  it('stops holding when the program is gone, and sizes nothing more', () => {
    redraw.start();
    redraw.stop();
    vi.advanceTimersByTime(RESIZE_REDRAW_TIMEOUT_MS * 2);
    expect(events).toEqual(['pause', '80x23', 'resume']);
  });

  it('is never left holding, whatever the program and the clients do, and holds at most two timeouts after the last start', () => {
    let seed = 42;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let run = 0; run < 200; run++) {
      for (let step = 0; step < 20; step++) {
        const action = random(6);
        if (action === 0) redraw.start();
        else if (action === 1) redraw.programWrote();
        else if (action === 2) redraw.resize(80, 24);
        else if (action === 3 && random(4) === 0) redraw.stop();
        else if (action === 5) redraw.signal(() => random(4) !== 0);
        else vi.advanceTimersByTime(random(RESIZE_REDRAW_TIMEOUT_MS / 2));
      }
      redraw.start();
      for (let elapsed = 0; elapsed < 2 * RESIZE_REDRAW_TIMEOUT_MS; elapsed += 20) {
        if (random(2) === 0) redraw.programWrote();
        vi.advanceTimersByTime(20);
      }
      expect(hold.holding, `run ${run}: ${events.slice(-12).join(' ')}`).toBe(false);
      expect(events.at(-1), 'nothing sized after the redraw ended').toBe('resume');
    }
  });
});
