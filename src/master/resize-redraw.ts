// The `resize` redraw: the program's terminal one row shorter, then its own size again. Many
// programs ignore a SIGWINCH when the size did not change (htop, bash and zsh at their prompt,
// neovim), but every program that draws a screen redraws on a real size change. The size is
// put back once the program has answered the smaller one with output and then gone quiet:
// put back at once, the program would often read the size only after both changes, see none,
// and draw nothing; put back at its first output, the signal could come while the program is
// between writing its screen and waiting for keys, where less (and any program that notes a
// signal in a flag it checks before it waits) misses it until the next key, and stays drawn
// a row short.

/** How long to wait for the program to answer the smaller size before putting it back anyway. */
export const RESIZE_REDRAW_TIMEOUT_MS = 500;
/** How long the program must have written nothing, after it answered, before the size is put back. */
export const RESIZE_REDRAW_QUIET_MS = 50;

interface SizedTerminal {
  readonly size: { cols: number; rows: number };
  resize(cols: number, rows: number): void;
}

export class ResizeRedraw {
  private pending: { cols: number; rows: number; timer: NodeJS.Timeout; quietTimer?: NodeJS.Timeout } | undefined;

  constructor(private readonly terminal: SizedTerminal) {}

  /** Makes the terminal a row shorter (a one-row terminal a row taller); a redraw under way serves this one too. */
  start(): void {
    if (this.pending) return;
    const { cols, rows } = this.terminal.size;
    this.terminal.resize(cols, rows > 1 ? rows - 1 : rows + 1);
    const timer = setTimeout(this.putSizeBack, RESIZE_REDRAW_TIMEOUT_MS);
    timer.unref();
    this.pending = { cols, rows, timer };
  }

  /** The program wrote something: it has seen the other size; once it is quiet, it waits for keys. */
  programWrote(): void {
    if (!this.pending) return;
    if (this.pending.quietTimer) {
      this.pending.quietTimer.refresh();
      return;
    }
    this.pending.quietTimer = setTimeout(this.putSizeBack, RESIZE_REDRAW_QUIET_MS);
    this.pending.quietTimer.unref();
  }

  /** A client sizes the terminal: its size is the one to keep, whatever a redraw was doing. */
  resize(cols: number, rows: number): void {
    this.forgetPending();
    this.terminal.resize(cols, rows);
  }

  private readonly putSizeBack = (): void => {
    if (!this.pending) return;
    const { cols, rows } = this.pending;
    this.forgetPending();
    this.terminal.resize(cols, rows);
  };

  private forgetPending(): void {
    if (!this.pending) return;
    clearTimeout(this.pending.timer);
    clearTimeout(this.pending.quietTimer);
    this.pending = undefined;
  }
}
