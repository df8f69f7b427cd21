// The `resize` redraw: the program's terminal one row shorter, then its own size again. Many
// programs ignore a SIGWINCH when the size did not change (htop, bash and zsh at their prompt,
// neovim), but every program that draws a screen redraws on a real size change. The size is
// put back once the program has answered the smaller one with output and then gone quiet:
// put back at once, the program would often read the size only after both changes, see none,
// and draw nothing; put back at its first output, the signal could come while the program is
// between writing its screen and waiting for keys, where less (and any program that notes a
// signal in a flag it checks before it waits) misses it until the next key, and stays drawn
// a row short.
//
// Some programs drop a key they read together with a size change (nano: it reads the key and
// the signal in one go and handles only the resize). So input is held from the moment the
// window shrinks until the program has answered the size put back (written, then been quiet
// for RESIZE_REDRAW_QUIET_MS), and then follows, all of it, in order; a client's size set
// meanwhile takes the place of the size put back, and is answered the same way. A program that
// does not answer holds it at most RESIZE_REDRAW_TIMEOUT_MS per size change.

/** How long to wait for the program to answer a size change (the smaller size, then its own) before going on anyway. */
export const RESIZE_REDRAW_TIMEOUT_MS = 500;
/** How long the program must have written nothing, after it answered, before it is taken to wait for keys. */
export const RESIZE_REDRAW_QUIET_MS = 50;

interface SizedTerminal {
  readonly size: { cols: number; rows: number };
  resize(cols: number, rows: number): void;
}

/** Where input waits while the redraw changes the program's size. */
export interface InputHold {
  pause(): void;
  resume(): void;
}

/** A redraw under way: the size to put back, and whether it has been put back yet. */
interface Pending {
  cols: number;
  rows: number;
  sizeBack: boolean;
  timer: NodeJS.Timeout;
  quietTimer?: NodeJS.Timeout;
}

export class ResizeRedraw {
  private pending: Pending | undefined;

  constructor(private readonly terminal: SizedTerminal, private readonly input: InputHold) {}

  /**
   * Makes the terminal a row shorter (a one-row terminal a row taller) and holds input; a
   * redraw still waiting for the smaller size's answer serves this one too, and one waiting
   * for the answer to the size put back keeps holding input for this one.
   */
  start(): void {
    if (this.pending && !this.pending.sizeBack) return;
    const { cols, rows } = this.terminal.size;
    this.awaitAnswer(cols, rows, false);
    this.terminal.resize(cols, rows > 1 ? rows - 1 : rows + 1);
  }

  /**
   * The `winch` redraw: `send` signals the program at the size it has (false if the signal was
   * refused). Input is held until the program has answered, as for the size put back: nano
   * dropped a key that came with the signal. A program that ignores it holds input
   * RESIZE_REDRAW_TIMEOUT_MS. A redraw waiting for the smaller size's answer goes on as it was.
   */
  signal(send: () => boolean): void {
    const pending = this.pending;
    if (!send() || pending?.sizeBack === false) return;
    const { cols, rows } = this.terminal.size;
    this.awaitAnswer(cols, rows, true);
  }

  /** The program wrote something: it has seen the size; once it is quiet, it waits for keys. */
  programWrote(): void {
    if (!this.pending) return;
    if (this.pending.quietTimer) {
      this.pending.quietTimer.refresh();
      return;
    }
    this.pending.quietTimer = this.unrefTimer(this.answered, RESIZE_REDRAW_QUIET_MS);
  }

  /**
   * A client sizes the terminal: its size is the one to keep, whatever a redraw was doing. Held
   * input follows only once the program has answered it: let go with the size change, it was
   * read together with the signal, and nano dropped a key of it. The size the redraw puts back
   * anyway (another client of the same size attaching) changes nothing: put back at once, the
   * program could see no change at all, and draw nothing.
   */
  resize(cols: number, rows: number): void {
    const pending = this.pending;
    if (!pending) return this.terminal.resize(cols, rows);
    // No terminal has it (the terminal ignores it): the size to put back stays.
    if (cols < 1 || rows < 1) return;
    if (cols === pending.cols && rows === pending.rows) return;
    this.awaitAnswer(cols, rows, true);
    this.terminal.resize(cols, rows);
  }

  /**
   * From now on the program's answer (or the timeout) is awaited for `cols` x `rows`, the size to
   * keep, which `sizeBack` says the terminal has; input is held from the first such wait on.
   */
  private awaitAnswer(cols: number, rows: number, sizeBack: boolean): void {
    if (this.pending) this.stopTimers(this.pending);
    else this.input.pause();
    this.pending = { cols, rows, sizeBack, timer: this.unrefTimer(this.answered, RESIZE_REDRAW_TIMEOUT_MS) };
  }

  /** The program is gone: nothing to put back, and input must not stay held. */
  stop(): void {
    this.finish();
  }

  /** The program answered the size it was given (or the timeout passed): the next step. */
  private readonly answered = (): void => {
    const pending = this.pending;
    if (!pending) return;
    if (pending.sizeBack) return this.finish();
    this.stopTimers(pending);
    pending.sizeBack = true;
    pending.timer = this.unrefTimer(this.answered, RESIZE_REDRAW_TIMEOUT_MS);
    this.terminal.resize(pending.cols, pending.rows);
  };

  /** The redraw is over: held input follows. */
  private finish(): void {
    if (!this.pending) return;
    this.stopTimers(this.pending);
    this.pending = undefined;
    this.input.resume();
  }

  private stopTimers(pending: Pending): void {
    clearTimeout(pending.timer);
    clearTimeout(pending.quietTimer);
    pending.quietTimer = undefined;
  }

  private unrefTimer(callback: () => void, delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  }
}
