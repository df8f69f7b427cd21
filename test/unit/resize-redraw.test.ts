// The resize redraw's decisions, against a terminal that records its sizes: a row shorter,
// the size back only once the program has answered and gone quiet (or after the timeout), and a client's
// size always the last word.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RESIZE_REDRAW_QUIET_MS, RESIZE_REDRAW_TIMEOUT_MS, ResizeRedraw } from '../../src/master/resize-redraw.js';

class RecordingTerminal {
  readonly sizes: string[] = [];
  size = { cols: 80, rows: 24 };

  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    this.sizes.push(`${cols}x${rows}`);
  }
}

let terminal: RecordingTerminal;
let redraw: ResizeRedraw;
beforeEach(() => {
  vi.useFakeTimers();
  terminal = new RecordingTerminal();
  redraw = new ResizeRedraw(terminal);
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
