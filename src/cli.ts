// The command line, dtach 0.9 compatible: `dt <mode> <socket> [options] [command...]`.
// minimist's untyped result becomes a typed Command here and nowhere else.

import minimist from 'minimist';
import { UsageError } from './errors.js';
import { parseKeyName, DEFAULT_DETACH_KEY } from './keys.js';
import { REDRAW_METHOD_NAMES, RedrawMethod } from './protocol.js';
import { parseSignal } from './signals.js';

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
}

export type Command =
  | { mode: 'help' }
  | { mode: 'version' }
  | ({ mode: 'attach' } & SessionCommand)
  | ({ mode: 'attach-or-create' } & CreateCommand)
  | ({ mode: 'create' } & CreateCommand)
  | ({ mode: 'create-detached' } & CreateCommand)
  | ({ mode: 'master-foreground' } & CreateCommand)
  | { mode: 'push'; socket: string }
  | { mode: 'kill'; socket: string; signal: number }
  | { mode: 'list'; json: boolean };

const MODES: Record<string, Command['mode']> = {
  '-a': 'attach',
  '-A': 'attach-or-create',
  '-c': 'create',
  '-n': 'create-detached',
  '-N': 'master-foreground',
  '-p': 'push',
  '-k': 'kill',
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

  const [socket, ...afterSocket] = rest;
  if (socket === undefined || socket === '') throw new UsageError('No socket was specified.');

  if (mode === 'kill') return parseKill(socket, afterSocket);

  const { client, operands } = parseOptions(afterSocket);
  if (mode === 'push' || mode === 'attach') {
    if (operands.length > 0) throw new UsageError('Invalid number of arguments.');
    return mode === 'push' ? { mode, socket } : { mode, socket, client };
  }
  if (NEEDS_COMMAND.has(mode) && operands.length === 0) throw new UsageError('No command was specified.');
  return { mode, socket, client, command: operands } as Command;
}

function parseOptions(args: string[]): { client: ClientOptions; operands: string[] } {
  const unknown: string[] = [];
  const parsed = minimist(args, {
    string: ['e', 'r'],
    boolean: ['E', 'z', 'R'],
    stopEarly: true,
    unknown: (arg) => {
      // With stopEarly the first operand (the command) also lands here; only options are unknown.
      if (arg.startsWith('-') && arg !== '-') unknown.push(arg);
      return true;
    },
  });
  if (unknown.length > 0) throw new UsageError(`Invalid option '${unknown[0]}'`);

  const client: ClientOptions = {
    detachKey: DEFAULT_DETACH_KEY,
    redraw: RedrawMethod.Unspecified,
    suspendKey: !parsed['z'],
    readOnly: Boolean(parsed['R']),
  };
  const detach = lastValue(parsed['e']);
  if (detach !== undefined) {
    if (detach === '') throw new UsageError('No escape character specified.');
    client.detachKey = parseKeyName(detach);
  }
  if (parsed['E']) client.detachKey = null;
  const redraw = lastValue(parsed['r']);
  if (redraw !== undefined) {
    const method = REDRAW_METHOD_NAMES[redraw];
    if (method === undefined) throw new UsageError('Invalid redraw method specified.');
    client.redraw = method;
  }
  return { client, operands: parsed._.map(String) };
}

function lastValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? String(value[value.length - 1]) : String(value);
}

function parseKill(socket: string, args: string[]): Command {
  if (args.length > 1) throw new UsageError('Invalid number of arguments.');
  const name = args[0] ?? 'TERM';
  const signal = parseSignal(name);
  if (signal === undefined) throw new UsageError(`Invalid signal '${name}'`);
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

Usage: dt -a <socket> <options>
       dt -A <socket> <options> <command...>
       dt -c <socket> <options> <command...>
       dt -n <socket> <options> <command...>
       dt -N <socket> <options> <command...>
       dt -p <socket>
       dt -k <socket> [signal]
       dt -l [--json]
Modes:
  -a		Attach to the specified socket.
  -A		Attach to the specified socket, or create it if it
		  does not exist, running the specified command.
  -c		Create a new socket and run the specified command.
  -n		Create a new socket and run the specified command detached.
  -N		Create a new socket and run the specified command detached,
		  and have dt run in the foreground.
  -p		Copy the contents of standard input to the specified
		  socket.
  -k		Send a signal (default TERM) to the program's foreground
		  process group.
  -l		List live sessions (--json for scripts).
Options:
  -e <char>	Set the detach character to <char>, defaults to ^\\.
  -E		Disable the detach character.
  -r <method>	Set the redraw method to <method>. The valid methods are:
		     none: Don't redraw at all.
		   ctrl_l: Send a Ctrl L character to the program.
		    winch: Send a WINCH signal to the program.
  -z		Disable processing of the suspend key.
  -R		Read-only: watch the session; never send input or window size.
`;

export const USAGE_HINT = "Try 'dt --help' for more information.";
