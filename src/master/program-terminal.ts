// The program's terminal: node-pty forks the program in a new pty, sizes it and reports the
// exit (pty-fork.ts); dt owns the pty's descriptor, reads the output (pty-output.ts) and
// writes the input (pty-input.ts) itself. Plus what node-pty does not offer: the foreground
// process group, the line-discipline mode, and an exit reported only after the last output.

import fs from 'node:fs';
import { describeSystemError } from '../common/errors.js';
import { withTerminalDefaults } from '../common/program-launch.js';
import { statFields } from '../common/process-stat.js';
import { signalName } from '../common/signals.js';
import { termios } from '../common/termios.js';
import { forkPty, resizePty, type ForkedPty, type ForkOptions } from './pty-fork.js';
import { PtyInput } from './pty-input.js';
import { PtyOutput } from './pty-output.js';

const ICANON = 0o2;
const ECHO = 0o10;
/**
 * Room for /proc/PID/stat (about 300 bytes) and comm (16). readFileSync would allocate 8 KiB
 * for each, a size /proc does not tell: every `dt -l` asks, and a client that floods the
 * master with requests made it churn through megabytes.
 */
const PROC_FILE_BYTES = 4096;
const procFileBuffer = Buffer.allocUnsafe(PROC_FILE_BYTES);

export interface ProgramExit {
  code: number;
  signal: number;
  /** killed by a signal, the program dumped core; absent otherwise */
  coreDumped?: true;
}

/** What became of a signal for the program (signalForeground). */
export type SignalOutcome = { kind: 'sent' } | { kind: 'refused'; reason: string } | { kind: 'too-late' };

export class ProgramTerminal {
  private readonly pty: ForkedPty;
  private readonly output: PtyOutput;
  private readonly input: PtyInput;
  private readonly dataListeners: Array<(data: Buffer) => void> = [];
  private readonly exitListeners: Array<(exit: ProgramExit) => void> = [];
  private exitStatus: ProgramExit | undefined;
  private exitReported = false;
  private cols: number;
  private rows: number;

  constructor(file: string, args: string[], options: ForkOptions) {
    const env = withTerminalDefaults(options.env, options.cwd);
    this.pty = forkPty(file, args, { ...options, env }, (code, signal, coreDumped) => {
      this.programExited({ code, signal, ...(coreDumped && { coreDumped: true }) });
    });
    this.cols = options.cols;
    this.rows = options.rows;
    this.output = new PtyOutput(this.pty.fd, (data) => this.emitData(data), () => this.outputClosed());
    this.input = new PtyInput(this.pty.fd, () => this.output.descriptorOpen);
  }

  get pid(): number {
    return this.pty.pid;
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.cols, rows: this.rows };
  }

  /**
   * The program's output, read by read. Each is lent: a view of one buffer that the next read
   * overwrites, so a listener copies what it keeps (the relay gathers it into its frames).
   */
  onData(listener: (data: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  private emitData(data: Buffer): void {
    for (const listener of this.dataListeners) listener(data);
  }

  /** Fires once every byte the program wrote has been delivered through onData. */
  onExit(listener: (exit: ProgramExit) => void): void {
    this.exitListeners.push(listener);
  }

  private programExited(status: ProgramExit): void {
    this.exitStatus = status;
    if (this.output.closed) this.reportExit();
    else this.output.programExited();
  }

  private outputClosed(): void {
    this.input.close();
    if (this.exitStatus) this.reportExit();
  }

  private reportExit(): void {
    if (this.exitReported || !this.exitStatus) return;
    this.exitReported = true;
    for (const listener of this.exitListeners) listener(this.exitStatus);
  }

  /**
   * Input for the program; what it does not take now waits, in order (see PtyInput). Returns
   * its position in the program's input, for whenInputWritten.
   */
  write(data: Buffer): number {
    return this.input.write(data);
  }

  /** Whether the input up to `position` is in the program's terminal. */
  isInputWritten(position: number): boolean {
    return this.input.hasWritten(position);
  }

  /** Calls `written` once the input up to `position` is in the program's terminal; never if some was lost. Returns how to stop waiting. */
  whenInputWritten(position: number, written: () => void): () => void {
    return this.input.whenWritten(position, written);
  }

  /** Bytes of input the program has not taken yet. */
  get pendingInputLength(): number {
    return this.input.pendingLength;
  }

  /** Called whenever the program has taken all pending input, or it can take no more. */
  onInputDrained(listener: () => void): void {
    this.input.onDrained(listener);
  }

  resize(cols: number, rows: number): void {
    if (cols < 1 || rows < 1) return;
    // Set even when it is the size the terminal was given last: the program may have set
    // another since (stty rows, resize(1)), as dtach sets it on every attach. The kernel
    // signals the program only when the size changes.
    // Once the program has ended the descriptor is closed (its number may be reused): nothing left to size.
    if (!this.output.descriptorOpen) return;
    try {
      resizePty(this.pty.fd, cols, rows);
    } catch (error) {
      // ioctl(2) failed: the terminal is going away with its program; there is nobody to tell.
      if (!String(error).includes('ioctl')) throw error;
      return;
    }
    this.cols = cols;
    this.rows = rows;
  }

  /** Stop reading the program's output: the kernel then blocks the program's writes. */
  pause(): void {
    this.output.pause();
  }

  resume(): void {
    this.output.resume();
  }

  /**
   * Signals the foreground process group of the program's terminal (the program itself if
   * unknown). The kernel may refuse (EPERM for a job of another user, su or sudo -i, which
   * must not end the session): then why. Too late once the program has ended, its end
   * perhaps not reported yet (onExit waits for its last output): then nothing is signalled,
   * nor its pid, which another process may have by now. Signal 0 (dt -k sock 0) is sent as kill -0
   * sends it: nothing, the kernel only checks, so 'sent' means the program runs.
   */
  signalForeground(signal: number): SignalOutcome {
    if (this.hasEnded()) return { kind: 'too-late' };
    const group = this.foregroundProcessGroup();
    try {
      if (group > 0) process.kill(-group, signal);
      else process.kill(this.pty.pid, signal);
      return { kind: 'sent' };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
        // The program itself gone: it ended, and is being reaped. Otherwise its foreground
        // group ended between reading /proc and signalling it.
        return group > 0 && !this.hasEnded() ? { kind: 'sent' } : { kind: 'too-late' };
      }
      const command = this.foregroundCommand();
      return {
        kind: 'refused',
        reason: `cannot send ${signalName(signal)} to the program's foreground process group ${group || this.pty.pid}`
          + `${command === undefined ? '' : ` (${command})`}: ${describeSystemError(error)}`,
      };
    }
  }

  /** Whether the program has ended: reaped, or a zombie (it has exited, and is not reaped yet). */
  private hasEnded(): boolean {
    if (this.exitStatus) return true;
    try {
      return statFields(readProcFile(`/proc/${this.pty.pid}/stat`, 'latin1'))[0] === 'Z';
    } catch (error) {
      // Reaped, and its end not reported yet. Without /proc at all, there is no telling.
      return (error as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/stat');
    }
  }

  /** The terminal's foreground process group (tcgetpgrp), read from /proc; 0 when unknown. */
  private foregroundProcessGroup(): number {
    try {
      const group = Number(statFields(readProcFile(`/proc/${this.pty.pid}/stat`, 'latin1'))[5]);
      return Number.isInteger(group) && group > 0 ? group : 0;
    } catch {
      // The program has exited; there is no foreground group to report.
      return 0;
    }
  }

  /** Name of the foreground process, for listings. */
  foregroundCommand(): string | undefined {
    const group = this.foregroundProcessGroup();
    try {
      return readProcFile(`/proc/${group || this.pty.pid}/comm`, 'utf8').trim();
    } catch {
      // The process ended while we looked.
      return undefined;
    }
  }

  /**
   * True when the program reads keys one at a time without echo (a full-screen program), the
   * only state in which a ^L redraw is safe: a shell or `cat` would receive a stray ^L. Read
   * from the pty's descriptor, as dtach does (Linux answers for the program's end). False
   * when it cannot be read: the program has gone, or dt's binding is missing (which no
   * client gets past to attach), and then nothing is typed.
   */
  isCharacterAtATimeNoEcho(): boolean {
    // Closed, its number may be another file's already (see PtyOutput.descriptorOpen).
    if (!this.output.descriptorOpen) return false;
    let modes: number[];
    try {
      modes = termios().localModes(this.pty.fd);
    } catch {
      return false;
    }
    const [error, lflag, vmin] = modes;
    return error === 0 && (lflag! & (ICANON | ECHO)) === 0 && vmin === 1;
  }

  /** Hang up the program as a closing terminal would. */
  hangUp(): void {
    try {
      // The program leads its own session and process group: reach its jobs too.
      process.kill(-this.pty.pid, 'SIGHUP');
    } catch (error) {
      // ESRCH: already gone. EPERM: it runs as another user (su); the terminal's closing hangs it up.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH' && code !== 'EPERM') throw error;
    }
  }
}

/** A small /proc file of the program's, read into one reused buffer. Throws if it is gone. */
function readProcFile(path: string, encoding: 'latin1' | 'utf8'): string {
  const fd = fs.openSync(path, 'r');
  try {
    const count = fs.readSync(fd, procFileBuffer, 0, PROC_FILE_BYTES, 0);
    return procFileBuffer.toString(encoding, 0, count);
  } finally {
    fs.closeSync(fd);
  }
}
