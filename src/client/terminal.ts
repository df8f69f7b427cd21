// The user's terminal, as the attaching client sees it: its input, window size, job control,
// hangup, and the status lines printed when the client leaves.

import fs from 'node:fs';
import type net from 'node:net';
import tty from 'node:tty';
import type { WindowSize } from '../common/protocol.js';
import { descriptorFlags } from '../common/descriptors.js';
import { DtError, ExitCode, TerminalHangUp, describeSystemError } from '../common/errors.js';
import { LentReads } from '../common/lent-reads.js';
import { readStatFields } from '../common/process-stat.js';
import { descriptorOf, writeAtOnce } from '../common/write-at-once.js';

const DEFAULT_SIZE: WindowSize = { cols: 80, rows: 24 };
/** The one buffer every read of the terminal lands in (a terminal hands over at most 4 KiB a read). */
const KEYS_BUFFER_BYTES = 16 * 1024;

/**
 * Modes a full-screen program may leave on when we leave it behind (and that the master puts
 * a terminal in when it attaches): alternate screen, mouse reporting, focus events, bracketed
 * paste, application cursor keys and keypad, kitty key flags, modifyOtherKeys, autowrap off,
 * cursor style, colours, and a hidden cursor. And what any program may leave half done when
 * it is left in the middle of a screen update (or a `cat` of a binary file): a scroll region
 * (apt's progress bar keeps one on the normal screen), origin mode, insert mode, reverse
 * video, a synchronized update, the line-drawing character set (shifted out, or designated
 * as G0), and a hyperlink, which would otherwise confine, overwrite, garble or link the
 * shell's lines.
 *
 * Leaving the alternate screen puts the cursor where it was when the screen was entered
 * (xterm and tmux do so on the normal screen too, from the last save: so the alternate screen
 * is entered first, saving where the cursor is), and resetting the scroll region or origin
 * mode moves it home: the cursor is saved once back on the normal screen, and put back after
 * them, so that a killed client leaves it where the shell had it. Not before leaving the
 * alternate screen: tmux and GNU screen keep one saved cursor for both screens, and would put
 * the normal screen's cursor where the program left the alternate screen's.
 * Putting it back also puts back the colours and character set saved with it (and in xterm
 * origin mode, which the whole-screen region makes harmless): those are reset after.
 *
 * Each screen has its own stack of kitty keyboard flags, kept when the terminal switches
 * screens: flags pushed on the alternate screen by the program (or by the attach) would make
 * the next full-screen program the user runs there (less, htop) get its keys encoded. They
 * are all popped on the alternate screen (entered for that, if it was not the current one),
 * then one entry on the normal screen, as the program would on leaving.
 */
const RESET_PROGRAM_MODES =
  '\x1b[?1049h\x1b[<99u' + // the alternate screen's kitty keyboard flags all popped
  '\x1b[?1049l' + // normal screen buffer
  '\x1b7' + // save the cursor, on the normal screen
  '\x1b[?6l\x1b[r' + // origin mode off, scroll region the whole screen
  '\x1b8' + // the cursor back
  '\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l' + // mouse reporting
  '\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l' + // mouse encodings
  '\x1b[?1004l' + // focus events
  '\x1b[?2004l' + // bracketed paste
  '\x1b[?1l\x1b>' + // normal cursor keys and keypad
  '\x1b[<u' + // pop the normal screen's kitty keyboard flags
  '\x1b[>4m' + // modifyOtherKeys back to the terminal's default
  '\x1b[?7h' + // autowrap
  '\x1b[4l' + // replace mode, not insert
  '\x1b[?5l' + // normal video, not reverse
  '\x1b[?2026l' + // no synchronized update under way
  '\x0f\x1b(B' + // shifted in (G0), and G0 is ASCII, not line drawing
  '\x1b[0 q' + // the terminal's default cursor style
  '\x1b[0m' + // default colours
  '\x1b]8;;\x1b\\' + // no hyperlink open (ls --hyperlink): it would take in the shell's text
  '\x1b[?25h'; // visible cursor

/**
 * The parts of RESET_PROGRAM_MODES the Linux console (TERM=linux) misreads. The kernel's parser
 * from before its 2019 rework (drivers/tty/vt/vt.c; kernels such as 4.18 and 4.19 are still in
 * use) ends a control sequence at the first byte that is not a digit, ';' or a leading '?': a
 * private marker ('<', '>') or an intermediate byte (CSI 0 SP q) ends it there, and the rest
 * is printed ("99u", "u", "4m", "q"); older kernels also print an OSC's parameters (";;").
 * The console has none of the modes they reset (kitty keyboard flags, modifyOtherKeys, cursor
 * styles, hyperlinks), so nothing is lost by leaving them out for it.
 */
const MISREAD_BY_LINUX_CONSOLE = ['\x1b[<99u', '\x1b[<u', '\x1b[>4m', '\x1b[0 q', '\x1b]8;;\x1b\\'];

/** RESET_PROGRAM_MODES as the terminal named by `term` (the TERM variable) takes it. */
export function programModesResetFor(term: string | undefined): string {
  // linux, linux-16color, linux-c...: the kernel's console, whatever its terminfo variant.
  if (term !== 'linux' && !term?.startsWith('linux-')) return RESET_PROGRAM_MODES;
  return MISREAD_BY_LINUX_CONSOLE.reduce((sequence, part) => sequence.replace(part, ''), RESET_PROGRAM_MODES);
}

/** The reset for this client's terminal. */
const PROGRAM_MODES_RESET = programModesResetFor(process.env.TERM);

/**
 * The window title is the terminal's, not one of its modes: a program's title (vim's `foo.c -
 * VIM`, a shell's `user@host: ~/src`) would stay on the window, tab and task bar after the
 * client left. xterm keeps a stack of titles (its window operations 22 and 23, which
 * terminals without one ignore): the user's title is pushed before any of the session's output
 * reaches the terminal, and popped when the client leaves it. Ps 0: the icon name too, which
 * `OSC 0` sets with the title. A killed client (SIGKILL) leaves one entry on the stack, which
 * terminals keep bounded (xterm.js: 10 entries, the oldest dropped).
 */
const SAVE_TITLE = '\x1b[22;0t';
const RESTORE_TITLE = '\x1b[23;0t';

/** Whether this client pushed the user's title, and pops it on leaving (never one it did not push). */
let titleSaved = false;

/** Saves the user's window title, before the program's modes (its title among them) are shown. */
export function saveTitle(): void {
  if (titleSaved) return;
  titleSaved = true;
  writeToTerminal(SAVE_TITLE);
}

/** RESET_PROGRAM_MODES, and the user's title back if this client saved it. */
function resetSequence(): string {
  if (!titleSaved) return PROGRAM_MODES_RESET;
  titleSaved = false;
  return PROGRAM_MODES_RESET + RESTORE_TITLE;
}

/**
 * Bottom line of the screen, as dtach's EOS; origin mode off first, which xterm may have put
 * back with the cursor (see RESET_PROGRAM_MODES): turning it off moves the cursor home.
 */
const MOVE_TO_BOTTOM = '\x1b[?6l\x1b[999H';

/**
 * True when a job-control shell started us in a process group of our own. Without one (we
 * lead our session, or share the session leader's group), the kernel discards SIGTSTP for
 * an orphaned process group, so a suspend key would leave the terminal cooked but attached.
 */
export function hasJobControl(): boolean {
  const fields = readStatFields('self');
  // No /proc: assume a normal interactive shell.
  if (fields === undefined) return true;
  const [, , processGroup, session] = fields;
  return processGroup !== session;
}

export function hasTerminal(): boolean {
  return tty.isatty(0);
}

/**
 * The terminal's input (fd 0), read into one reused buffer: each read is lent to onKeys, valid
 * until it returns. Node's process.stdin would allocate a Buffer for every keystroke and pass
 * it through its stream machinery: garbage, and time on every key's way to the program. Made
 * once, and process.stdin never: a second stream on fd 0 would reopen the terminal under the
 * first one.
 */
let input: tty.ReadStream | undefined;
let onKeys: (keys: Buffer) => void = () => {};
let onKeysError: (error: NodeJS.ErrnoException) => void = () => {};
/** True once the terminal's reads have ended: it hung up. */
let inputEnded = false;

/** The terminal's input stream (raw mode is set on it). */
export function terminalInput(): tty.ReadStream {
  if (input) return input;
  const { onread } = new LentReads(KEYS_BUFFER_BYTES, (keys) => {
    onKeys(keys);
    return true;
  });
  try {
    input = new tty.ReadStream(0, { onread } as net.SocketConstructorOpts);
  } catch (error) {
    throw terminalStreamError(0, error);
  }
  input.on('error', (error: NodeJS.ErrnoException) => onKeysError(error));
  input.on('end', () => {
    inputEnded = true;
    onKeysError(hungUp());
  });
  return input;
}

/**
 * A hung-up terminal's reads return 0 bytes (a terminal in raw mode has no other end of
 * input): the kernel sends SIGHUP to the session's leader alone, and a leader that survives
 * it (a shell that ignores it, or one that has not yet passed it on to its jobs) leaves us
 * to learn of the hangup from this end. Reported as EIO, which is what a write gets.
 */
function hungUp(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('the terminal hung up: its input ended');
  error.code = 'EIO';
  return error;
}

/**
 * Why Node could not make a stream of a terminal descriptor (tty.ReadStream, tty.WriteStream):
 * ERR_TTY_INIT_FAILED where libuv no longer found a terminal there, a moment after dt (or Node
 * itself, for process.stdout) saw one: it hung up in between, and the client ends as at any
 * hangup. Anything else is said, not shown as Node's stack trace.
 */
export function terminalStreamError(fd: number, error: unknown): DtError {
  if ((error as NodeJS.ErrnoException).code === 'ERR_TTY_INIT_FAILED' && !tty.isatty(fd)) return new TerminalHangUp(error);
  const reason = (error as { info?: { code?: string } }).info?.code;
  return new DtError(`cannot use the terminal: ${describeSystemError(reason === undefined ? error : { code: reason })}`, ExitCode.Failure, { cause: error });
}

/** O_NONBLOCK in a descriptor's status flags. */
const O_NONBLOCK = 0o4000;

/**
 * Keys typed before the client started (the terminal holds them), read at once rather than in
 * a later turn of the event loop, so that they can go with the attach request; undefined when
 * there are none. Only where the read cannot wait: libuv reads the terminal through a
 * descriptor of its own, non-blocking unless it could not reopen the terminal (a Linux
 * console), as /proc/self/fdinfo says. Call before readKeys().
 */
export function readTypedKeys(): Buffer | undefined {
  const fd = descriptorOf(terminalInput());
  // fd 0 itself: libuv could not reopen the terminal and left it blocking.
  if (fd === undefined || fd === 0 || ((descriptorFlags(fd) ?? 0) & O_NONBLOCK) === 0) return undefined;
  const keys = Buffer.allocUnsafe(KEYS_BUFFER_BYTES);
  try {
    const count = fs.readSync(fd, keys);
    return count > 0 ? keys.subarray(0, count) : undefined;
  } catch {
    return undefined; // EAGAIN: nothing typed; another error (EIO: hung up) reaches readKeys' reader too
  }
}

/**
 * Reads keys from the terminal until stopReadingKeys(), or until another reader takes over; a
 * failed read (a hangup's EIO) goes to onError.
 */
export function readKeys(keys: (keys: Buffer) => void, onError: (error: NodeJS.ErrnoException) => void): void {
  onKeys = keys;
  onKeysError = onError;
  // Ended before this reader came (during the connection): the end is told to it too.
  if (inputEnded) process.nextTick(() => onKeysError(hungUp()));
  else terminalInput().resume();
}

export function stopReadingKeys(): void {
  onKeys = () => {};
  pauseReadingKeys();
}

/** Keys stay in the terminal until resumeReadingKeys(): a suspended client must not read them (SIGTTIN) if continued in the background. */
export function pauseReadingKeys(): void {
  input?.pause();
}

export function resumeReadingKeys(): void {
  input?.resume();
}

export function windowSize(): WindowSize {
  const stream = process.stdout.isTTY ? process.stdout : undefined;
  if (!stream) return DEFAULT_SIZE;
  const [cols, rows] = stream.getWindowSize();
  return cols > 0 && rows > 0 ? { cols, rows } : DEFAULT_SIZE;
}

/** Which of stdin, stdout and stderr were terminals when the process started. */
const STARTED_ON_TERMINAL = [0, 1, 2].map((fd) => tty.isatty(fd));

/**
 * As the process exits, Node puts back the terminal settings stdin, stdout and stderr had at
 * its start, and libuv those from before its first change (through a descriptor of its own).
 * Two terminals must be left alone. A hung-up one (a closed window, a dropped ssh) refuses
 * everything with EIO and no longer even answers isatty(3), and Node aborts on the refusal (an
 * assertion, SIGABRT, a core dump). One whose foreground is another job (a suspended client
 * ended by the shell's `kill %1`) has the shell's settings: libuv's change would stop us
 * (SIGTTOU) until `fg`, and Node's, made with SIGTTOU blocked, would put our start's settings
 * over the shell's line editing. Closing our descriptors of such a terminal makes both skip it.
 *
 * A terminal that is fine now may hang up before Node gets to it, a few milliseconds later
 * (a window closed as the client detaches, keys typed and the terminal gone): so every
 * terminal is closed here, not only one that has hung up already. The settings Node would put
 * back are those dt puts back itself (raw mode is undone through libuv's own descriptor of the
 * terminal). Nor does Node have a flag to put back: libuv reopens a terminal and puts its own
 * descriptor over fd 0 (and 1, 2), so the O_NONBLOCK it sets there is this process's alone. A
 * descriptor it could not reopen (a Linux console) and made non-blocking is the user's shell's
 * too: that one is left to Node, unless it has hung up. Call it right before exiting.
 */
export function releaseTerminalBeforeExit(): void {
  const inBackground = STARTED_ON_TERMINAL.includes(true) && !ownsTerminal();
  for (const [fd, wasTerminal] of STARTED_ON_TERMINAL.entries()) {
    if (wasTerminal ? inBackground || !nodeMustResetFlags(fd) || !tty.isatty(fd) : mayHaveHungUp(fd)) closeDescriptor(fd);
  }
  const libuvDescriptor = input === undefined ? undefined : descriptorOf(input);
  if (inBackground && libuvDescriptor !== undefined && libuvDescriptor > 2) closeDescriptor(libuvDescriptor);
}

/**
 * Whether Node may have to put back a descriptor's O_NONBLOCK flag as it exits, for the other
 * processes that share it: the flag is set (or cannot be read: no /proc) on a descriptor that
 * is not libuv's reopened terminal input.
 */
function nodeMustResetFlags(fd: number): boolean {
  if (fd === 0 && input !== undefined && (descriptorOf(input) ?? 0) !== 0) return false;
  const flags = descriptorFlags(fd);
  return flags === undefined || (flags & O_NONBLOCK) !== 0;
}

/**
 * Whether a descriptor that was no terminal when this module loaded may be one that Node saw
 * as a terminal at its start, a moment earlier, and that has hung up since: a character
 * device that is no terminal (or /dev/null, which closing harms nothing).
 */
function mayHaveHungUp(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isCharacterDevice() && !tty.isatty(fd);
  } catch {
    return false; // EBADF: closed already
  }
}

function closeDescriptor(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // EBADF: already closed, which is all Node needs.
  }
}

/**
 * False while another process group is the foreground of our terminal (we are a background
 * job): its settings are then the shell's, and changing them would stop us (SIGTTOU).
 */
export function ownsTerminal(): boolean {
  const fields = readStatFields('self');
  // No /proc: as a client in the foreground.
  if (fields === undefined) return true;
  const [, , processGroup, , , foregroundGroup] = fields;
  // -1: no controlling terminal, so nobody else's either.
  return Number(foregroundGroup) <= 0 || foregroundGroup === processGroup;
}

/**
 * True once the terminal we were attached from has hung up (a closed window, a dropped ssh):
 * it no longer answers isatty(3), whatever error its last read or write reported.
 */
export function terminalHungUp(): boolean {
  return STARTED_ON_TERMINAL[0] === true && !tty.isatty(0);
}

/** Leave the screen usable and print a one-line status at its bottom (none if empty). */
export function printStatusLine(message: string): void {
  writeToTerminal(`${resetSequence()}${MOVE_TO_BOTTOM}\r\n${message === '' ? '' : `${message}\r\n`}`);
}

/**
 * Says a status line on standard error too, when standard output failed and so never showed
 * it (standard output a full disk, say), unless standard error is that same file.
 */
export function repeatOnStandardError(message: string): void {
  try {
    const output = fs.fstatSync(1);
    const errors = fs.fstatSync(2);
    if (output.dev === errors.dev && output.ino === errors.ino) return;
    fs.writeSync(2, `${message}\n`);
  } catch {
    // EBADF, or a standard error that fails too: there is nobody left to tell.
  }
}

export function resetProgramModes(): void {
  writeToTerminal(resetSequence());
}

/**
 * Written at once, as the session's output is (write-at-once.ts): the stream's own first write
 * cost an attaching client 0.3 ms before it could show the session's first answer.
 */
function writeToTerminal(text: string): void {
  try {
    writeAtOnce(process.stdout, Buffer.from(text));
  } catch {
    // EIO/EPIPE: the terminal is gone (hangup); there is nobody to tell.
  }
}
