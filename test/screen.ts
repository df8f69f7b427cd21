// What a user's terminal shows, judged by a real terminal emulator: xterm.js (@xterm/headless,
// the terminal of VS Code) fed the bytes a terminal received. Its modes, its active buffer
// and its text are what the tests assert, never what dt itself believes.

import xterm from '@xterm/headless';

const { Terminal } = xterm;

/** The modes a program may set that matter to its user, as xterm.js reports them. */
export interface ScreenModes {
  applicationCursorKeys: boolean;
  applicationKeypad: boolean;
  autowrap: boolean;
  bracketedPaste: boolean;
  focusEvents: boolean;
  /** 'none', 'x10' (?9), 'vt200' (?1000), 'drag' (?1002), 'any' (?1003) */
  mouseTracking: string;
  /** xterm.js's name of the mouse encoding: 'DEFAULT', 'SGR' (?1006), 'SGR_PIXELS' (?1016) */
  mouseEncoding: string;
  cursorHidden: boolean;
  /** 'block', 'underline', 'bar', or undefined for the terminal's default */
  cursorStyle: string | undefined;
  buffer: 'normal' | 'alternate';
  title: string;
  /** G0 and G1 and the set in use, each 'ascii', 'line drawing' or 'other': 'G0 ascii, G1 line drawing, G1 in use' */
  characterSets: string;
}

/** The internals xterm.js keeps public-by-convention; only read, never written. */
interface XtermCore {
  coreService: { isCursorHidden: boolean; decPrivateModes: { cursorStyle?: string } };
  coreMouseService: { activeEncoding: string };
  /** a character set is a map of the characters it replaces, undefined for ASCII; GL is the set in use */
  _charsetService: { glevel: number; charset?: Record<string, string>; _charsets: Array<Record<string, string> | undefined> };
}

/** The name of an xterm.js character set: DEC line drawing maps q to a horizontal line. */
function characterSetName(set: Record<string, string> | undefined): string {
  if (set === undefined) return 'ascii';
  return set['q'] === '\u2500' ? 'line drawing' : 'other';
}

/** What would print, and what SO or SI would switch to. */
function describeCharacterSets(core: XtermCore): string {
  const { glevel, charset, _charsets: sets } = core._charsetService;
  return `G0 ${characterSetName(sets[0])}, G1 ${characterSetName(sets[1])}, G${glevel} in use: ${characterSetName(charset)}`;
}

export class Screen {
  readonly terminal: InstanceType<typeof Terminal>;
  private windowTitle = '';
  private pending: Promise<void> = Promise.resolve();

  constructor(cols = 80, rows = 24) {
    // The title stack (CSI 22 t, CSI 23 t), which xterm answers by default and xterm.js only when asked.
    this.terminal = new Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000, windowOptions: { pushTitle: true, popTitle: true } });
    this.terminal.onTitleChange((title) => { this.windowTitle = title; });
  }

  /** Queues bytes for the terminal; `settled()` resolves once it has parsed everything queued. */
  write(bytes: Buffer | string): void {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.pending = new Promise((resolve) => this.terminal.write(new Uint8Array(data), resolve));
  }

  /** Resolves when every byte written so far has been parsed (xterm.js parses in order). */
  settled(): Promise<void> {
    return this.pending;
  }

  get modes(): ScreenModes {
    const modes = this.terminal.modes;
    const core = (this.terminal as unknown as { _core: XtermCore })._core;
    return {
      applicationCursorKeys: modes.applicationCursorKeysMode,
      applicationKeypad: modes.applicationKeypadMode,
      autowrap: modes.wraparoundMode,
      bracketedPaste: modes.bracketedPasteMode,
      focusEvents: modes.sendFocusMode,
      mouseTracking: modes.mouseTrackingMode,
      mouseEncoding: core.coreMouseService.activeEncoding,
      cursorHidden: core.coreService.isCursorHidden,
      cursorStyle: core.coreService.decPrivateModes.cursorStyle,
      buffer: this.terminal.buffer.active.type,
      title: this.windowTitle,
      characterSets: describeCharacterSets(core),
    };
  }

  /** The OSC 8 hyperlink of the cell at `col` of visible row `row`: its number, 0 for none. */
  linkAt(row: number, col: number): number {
    const buffer = this.terminal.buffer.active;
    const cell = buffer.getLine(buffer.viewportY + row)?.getCell(col) as unknown as { extended?: { urlId: number } } | undefined;
    return cell?.extended?.urlId ?? 0;
  }

  /** The visible screen, one string per row, trailing blanks removed. */
  get lines(): string[] {
    const buffer = this.terminal.buffer.active;
    const lines: string[] = [];
    for (let row = 0; row < this.terminal.rows; row++) lines.push(buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
    return lines;
  }

  /** The visible screen as text, rows joined by newlines. */
  get text(): string {
    return this.lines.join('\n');
  }
}

/** Anything that shows bytes as they arrive: a harness Term (all its terminal shows, the last words at its hang-up too). */
interface ByteSource {
  onOutput(listener: (chunk: Buffer) => void): void;
}

/** A Screen showing everything `source` shows from now on. Call it right after creating the terminal. */
export function screenOf(source: ByteSource, cols = 80, rows = 24): Screen {
  const screen = new Screen(cols, rows);
  source.onOutput((chunk) => screen.write(chunk));
  return screen;
}

/** Polls until `condition` holds of the screen; fails with the screen's text and modes. */
export async function waitForScreen(screen: Screen, condition: (screen: Screen) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await screen.settled();
    if (condition(screen)) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for the screen to show ${what}\n--- screen ---\n${screen.text}\n--- modes ---\n${JSON.stringify(screen.modes)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
