// The command line, dtach 0.9 compatible: `dt <mode> <socket> [options] [command...]`.
// The words become a typed Command here and nowhere else.

import { UsageError } from './common/errors.js';
import { parseKeyName, DEFAULT_DETACH_KEY } from './client/keys.js';
import { REDRAW_METHOD_NAMES, RedrawMethod } from './common/protocol.js';
import { invalidSignalMessage, parseSignal } from './common/signals.js';

export const VERSION = '0.1.0';

export interface ClientOptions {
  /** byte that detaches, or null for -E */
  detachKey: number | null;
  redraw: RedrawMethod;
  /** false with -z: the suspend key goes to the program */
  suspendKey: boolean;
  /** -R: watch only; the master ignores input and window size from this client */
  readOnly: boolean;
}

interface SessionCommand {
  socket: string;
  client: ClientOptions;
}

interface CreateCommand extends SessionCommand {
  command: string[];
  /** -L: the file the session's output is appended to, as given (relative to the current directory) */
  log?: string;
}

export type Command =
  | { mode: 'help' }
  | { mode: 'version' }
  | ({ mode: 'attach' } & SessionCommand)
  /** `dt -a` without a socket: the user's only live session */
  | { mode: 'attach-only'; client: ClientOptions }
  | ({ mode: 'attach-or-create' } & CreateCommand)
  | ({ mode: 'create' } & CreateCommand)
  | ({ mode: 'create-detached' } & CreateCommand)
  | ({ mode: 'master-foreground' } & CreateCommand)
  | { mode: 'push'; socket: string }
  | { mode: 'kill'; socket: string; signal: number }
  | { mode: 'wait'; socket: string }
  | { mode: 'forget'; socket: string }
  /** `dt -F --all`: every ended session */
  | { mode: 'forget-ended' }
  | { mode: 'list'; json: boolean };

const MODES: Record<string, Command['mode']> = {
  '-a': 'attach',
  '-A': 'attach-or-create',
  '-c': 'create',
  '-n': 'create-detached',
  '-N': 'master-foreground',
  '-p': 'push',
  '-k': 'kill',
  '-w': 'wait',
  '-F': 'forget',
  '-l': 'list',
};

const NEEDS_COMMAND = new Set<Command['mode']>(['attach-or-create', 'create', 'create-detached', 'master-foreground']);

export function parseArgs(argv: readonly string[]): Command {
  const [modeFlag, ...rest] = argv;
  if (modeFlag === undefined) throw new UsageError('No mode was specified.');
  if (modeFlag === '--help' || modeFlag === '-h' || modeFlag === '-?') return { mode: 'help' };
  if (modeFlag === '--version') return { mode: 'version' };
  const mode = MODES[modeFlag];
  if (mode === undefined) throw new UsageError(`Invalid mode '${modeFlag}'`);

  if (mode === 'list') return parseList(rest);
  if (mode === 'forget' && rest[0] === '--all' && rest.length === 1) return { mode: 'forget-ended' };

  // `dt -a -R sock`, the way read-only viewing is usually written, besides dtach's `dt -a sock -R`.
  const readOnlyFirst = mode === 'attach' && rest[0] === '-R' && rest.length > 1 && !rest[1]!.startsWith('-');
  // `dt -a`, alone or followed by options: no socket (a name never starts with '-').
  if (mode === 'attach' && !readOnlyFirst && (rest.length === 0 || rest[0]!.startsWith('-'))) {
    return { mode: 'attach-only', client: parseAttachOptions(rest) };
  }
  // `dt -k -9 sock`, kill(1)'s order, typed from habit: the signal (`-9`, `-KILL`, `-s KILL`)
  // before the socket, which is then the last word (a session name never starts with '-').
  if (mode === 'kill' && isSignalFirst(rest)) {
    const socket = rest[rest.length - 1]!;
    checkSessionName(socket);
    return parseKill(socket, rest.slice(0, -1));
  }
  const [socket, ...afterSocket] = readOnlyFirst ? [rest[1]!, '-R', ...rest.slice(2)] : rest;
  if (socket === undefined || socket === '') throw new UsageError('No socket was specified.');
  checkSessionName(socket);

  if (mode === 'kill') return parseKill(socket, afterSocket);

  // dtach: -p takes the socket alone; so do -w and -F.
  if (mode === 'push' || mode === 'wait' || mode === 'forget') {
    if (afterSocket.length > 0) throw new UsageError('Invalid number of arguments.');
    return { mode, socket };
  }
  if (mode === 'attach') return { mode, socket, client: parseAttachOptions(afterSocket) };
  const { client, log, operands } = parseOptions(afterSocket);
  if (NEEDS_COMMAND.has(mode) && operands.length === 0) throw new UsageError('No command was specified.');
  return { mode, socket, client, command: operands, ...(log === undefined ? {} : { log }) } as Command;
}

/**
 * A socket argument without a '/' names a session in the session directory; '.' and '..'
 * would name the directory itself, and a leading '-' reads as an option.
 */
function checkSessionName(word: string): void {
  if (word.includes('/')) return;
  if (word === '.' || word === '..' || word.startsWith('-')) {
    throw new UsageError(`Invalid session name '${word}' (for a file of that name in the current directory, write ./${word})`);
  }
}

/**
 * dtach's option grammar, which minimist cannot express: options come in groups (`-Ez`),
 * `-e`, `-r` and `-L` take the next word whatever it looks like (`-e -` sets '-'), the first word
 * that is not an option starts the command, and no long forms exist. `--` also ends the
 * options, so a command whose name starts with '-' can be run.
 */
function parseOptions(args: string[]): { client: ClientOptions; log?: string; operands: string[] } {
  const client: ClientOptions = {
    detachKey: DEFAULT_DETACH_KEY,
    redraw: RedrawMethod.Unspecified,
    suspendKey: true,
    readOnly: false,
  };
  let log: string | undefined;
  let index = 0;
  for (; index < args.length; index++) {
    const word = args[index]!;
    if (word === '--') {
      index++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;
    if (word.startsWith('--')) throw new UsageError(`Invalid option '${word}'`);
    for (const letter of word.slice(1)) {
      switch (letter) {
        case 'E': client.detachKey = null; break;
        case 'z': client.suspendKey = false; break;
        case 'R': client.readOnly = true; break;
        case 'e': client.detachKey = parseKeyName(takeValue(args, ++index, 'No escape character specified.')); break;
        case 'r': client.redraw = parseRedrawMethod(takeValue(args, ++index, 'No redraw method specified.')); break;
        case 'L': log = parseLogFile(takeValue(args, ++index, 'No log file specified.')); break;
        default: throw new UsageError(`Invalid option '-${letter}'`);
      }
    }
  }
  return { client, ...(log === undefined ? {} : { log }), operands: args.slice(index) };
}

/** The options of `dt -a`, with or without a socket: a viewer's alone, and no command after them. */
function parseAttachOptions(args: string[]): ClientOptions {
  const { client, log, operands } = parseOptions(args);
  if (log !== undefined) throw new UsageError('The -L option applies only to a new session (-c, -n, -N, -A).');
  if (operands.length > 0) throw new UsageError('Invalid number of arguments.');
  return client;
}

function parseLogFile(file: string): string {
  if (file === '') throw new UsageError('No log file specified.');
  return file;
}

function takeValue(args: string[], index: number, missing: string): string {
  const value = args[index];
  if (value === undefined) throw new UsageError(missing);
  return value;
}

function parseRedrawMethod(name: string): RedrawMethod {
  const method = REDRAW_METHOD_NAMES[name];
  if (method === undefined) throw new UsageError('Invalid redraw method specified.');
  return method;
}

/** `-SIGNAL sock` or `-s SIGNAL sock`: the words after `dt -k` in kill(1)'s order. */
function isSignalFirst(words: string[]): boolean {
  const last = words[words.length - 1];
  if (last === undefined || last.startsWith('-') || !words[0]!.startsWith('-')) return false;
  return words.length === 2 || (words.length === 3 && words[0] === '-s');
}

/**
 * `dt -k sock [SIGNAL]`, the signal also in kill(1)'s forms, typed from habit: `-9`, `-KILL`
 * and POSIX `-s KILL`. Only the signal may follow the socket, so one leading '-' is unambiguous.
 */
function parseKill(socket: string, args: string[]): Command {
  const signalFlag = args[0] === '-s';
  if (signalFlag && args.length === 1) throw new UsageError('No signal specified.');
  const words = signalFlag ? args.slice(1) : args;
  if (words.length > 1) throw new UsageError('Invalid number of arguments.');
  const word = words[0] ?? 'TERM';
  const name = !signalFlag && word.startsWith('-') ? word.slice(1) : word;
  const signal = parseSignal(name);
  if (signal === undefined) throw new UsageError(invalidSignalMessage(word, name));
  return { mode: 'kill', socket, signal };
}

function parseList(args: string[]): Command {
  const json = args.includes('--json');
  const others = args.filter((arg) => arg !== '--json');
  if (others.length > 0) throw new UsageError(`Invalid option '${others[0]}'`);
  return { mode: 'list', json };
}

export const USAGE = `dt - version ${VERSION}
Keep a program running after its terminal goes away, and attach to it again.

Usage: dt -a [<socket>] <options>
       dt -A <socket> <options> <command...>
       dt -c <socket> <options> <command...>
       dt -n <socket> <options> <command...>
       dt -N <socket> <options> <command...>
       dt -p <socket>
       dt -k <socket> [signal]
       dt -w <socket>
       dt -F <socket> | --all
       dt -l [--json]
A <socket> without a '/' names a session: its socket is $DT_DIR/<socket>, by
default \${TMPDIR:-/tmp}/dt-<uid>. Anything with a '/' is a path (./name).
Modes:
  -a		Attach to the specified socket; without one, to your only
		  running session.
  -A		Attach to the specified socket, or create it if it
		  does not exist, running the specified command.
  -c		Create a new socket and run the specified command.
  -n		Create a new socket and run the specified command detached.
  -N		Create a new socket and run the specified command detached,
		  and have dt run in the foreground. Under systemd socket
		  activation, serve on the socket systemd passes.
  -p		Copy the contents of standard input to the specified
		  socket.
  -k		Send a signal (default TERM) to the program's foreground
		  process group. Signal 0 sends none: exit 0 if the program
		  is running, 1 if not.
  -w		Wait until the program ends; exit with its status.
  -F		Forget an ended session's status (--all: every ended one).
  -l		List sessions, live and recently ended (--json for scripts).
Options:
  -e <char>	Set the detach character to <char>, defaults to ^\\.
  -E		Disable the detach character.
  -r <method>	Set the redraw method to <method>. The valid methods are:
		     none: Don't redraw at all.
		   ctrl_l: Send a Ctrl L character to the program
		           (typed into it: an editor may insert it).
		    winch: Send a WINCH signal to the program.
		   resize: Make the window one row shorter, then restore
		           it (the default: every full-screen program
		           redraws, and nothing is typed).
  -z		Disable processing of the suspend key.
  -R		Read-only: watch the session; never send input or window size.
  -L <file>	Append everything the program writes to <file>, attached or
		  not (a new session only). At $DT_LOG_LIMIT bytes (default
		  16M) <file> becomes <file>.1 and a new <file> begins.
`;

export const USAGE_HINT = "Try 'dt --help' for more information.";
