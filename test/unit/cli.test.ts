// parseArgs: dtach 0.9's command line, typed. Usage errors must be UsageError (exit code 2)
// and, where dtach has a message for the same mistake, use dtach's words.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE_HINT, parseArgs, type ClientOptions } from '../../src/cli.js';
import { UsageError } from '../../src/common/errors.js';

const DEFAULT_CLIENT: ClientOptions = { detachKey: 0x1c, redraw: 0, suspendKey: true, readOnly: false };

function client(overrides: Partial<ClientOptions>): ClientOptions {
  return { ...DEFAULT_CLIENT, ...overrides };
}

/** The error parseArgs throws, or a failure if it returns. */
function usageErrorOf(argv: string[]): UsageError {
  let result: unknown;
  try {
    result = parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) returned ${JSON.stringify(result)} instead of throwing`);
}

describe('modes', () => {
  it.each([
    [['-a', 's'], { mode: 'attach', socket: 's', client: DEFAULT_CLIENT }],
    [['-A', 's', 'sh'], { mode: 'attach-or-create', socket: 's', client: DEFAULT_CLIENT, command: ['sh'] }],
    [['-c', 's', 'sh', '-i'], { mode: 'create', socket: 's', client: DEFAULT_CLIENT, command: ['sh', '-i'] }],
    [['-n', '/tmp/x/s', 'vi', 'f'], { mode: 'create-detached', socket: '/tmp/x/s', client: DEFAULT_CLIENT, command: ['vi', 'f'] }],
    [['-N', 's', 'top'], { mode: 'master-foreground', socket: 's', client: DEFAULT_CLIENT, command: ['top'] }],
    [['-p', 's'], { mode: 'push', socket: 's' }],
    [['-k', 's'], { mode: 'kill', socket: 's', signal: 15 }],
    [['-l'], { mode: 'list', json: false }],
    [['-l', '--json'], { mode: 'list', json: true }],
    [['-w', 'build'], { mode: 'wait', socket: 'build' }],
    [['-w', './build'], { mode: 'wait', socket: './build' }],
    [['-F', 'build'], { mode: 'forget', socket: 'build' }],
    [['-F', '--all'], { mode: 'forget-ended' }],
    [['-n', './-x', 'sh'], { mode: 'create-detached', socket: './-x', client: DEFAULT_CLIENT, command: ['sh'] }],
    [['--help'], { mode: 'help' }],
    [['-h'], { mode: 'help' }],
    [['--version'], { mode: 'version' }],
  ])('dt %j', (argv, expected) => {
    expect(parseArgs(argv)).toEqual(expected);
  });
});

describe('client options', () => {
  it.each([
    // -e: ^X notation (either case), ^?, a literal character, a lone ^
    [['-e', '^A'], client({ detachKey: 0x01 })],
    [['-e', '^a'], client({ detachKey: 0x01 })],
    [['-e', '^]'], client({ detachKey: 0x1d })],
    [['-e', '^\\'], client({ detachKey: 0x1c })],
    [['-e', '^?'], client({ detachKey: 0x7f })],
    [['-e', 'x'], client({ detachKey: 0x78 })],
    [['-e', '^'], client({ detachKey: 0x5e })],
    [['-E'], client({ detachKey: null })],
    // -E after -e wins, as in dtach: options apply in order (see below for -e after -E)
    [['-e', 'x', '-E'], client({ detachKey: null })],
    [['-r', 'none'], client({ redraw: 1 })],
    [['-r', 'ctrl_l'], client({ redraw: 2 })],
    [['-r', 'winch'], client({ redraw: 3 })],
    [['-r', 'resize'], client({ redraw: 4 })],
    [['-r', 'winch', '-r', 'none'], client({ redraw: 1 })],
    [['-z'], client({ suspendKey: false })],
    [['-R'], client({ readOnly: true })],
    [['-Ez'], client({ detachKey: null, suspendKey: false })],
    [['-zE'], client({ detachKey: null, suspendKey: false })],
    [['-zER'], client({ detachKey: null, suspendKey: false, readOnly: true })],
    // Options apply in order, as in dtach: a later -e overrides an earlier -E.
    [['-E', '-z', '-R', '-e', '^B', '-r', 'ctrl_l'], client({ detachKey: 2, suspendKey: false, readOnly: true, redraw: 2 })],
    [['-e', '^B', '-E'], client({ detachKey: null })],
  ])('dt -a s %j', (options, expected) => {
    expect(parseArgs(['-a', 's', ...options])).toEqual({ mode: 'attach', socket: 's', client: expected });
  });

  it.each([
    [['-a', '-R', 's'], client({ readOnly: true })],
    [['-a', '-R', 's', '-r', 'winch'], client({ readOnly: true, redraw: 3 })],
  ])('takes -R before the socket too: %o', (argv, expected) => {
    expect(parseArgs(argv)).toEqual({ mode: 'attach', socket: 's', client: expected });
  });

  it('attaches the only session when -a has no socket, alone or with options', () => {
    expect(parseArgs(['-a'])).toEqual({ mode: 'attach-only', client: DEFAULT_CLIENT });
    expect(parseArgs(['-a', '-R'])).toEqual({ mode: 'attach-only', client: client({ readOnly: true }) });
    expect(parseArgs(['-a', '-R', '-E'])).toEqual({ mode: 'attach-only', client: client({ readOnly: true, detachKey: null }) });
    expect(parseArgs(['-a', '-r', 'none', '-e', '^B'])).toEqual({ mode: 'attach-only', client: client({ redraw: 1, detachKey: 2 }) });
  });

  it('applies the same options in the modes that create a session', () => {
    expect(parseArgs(['-c', 's', '-e', '^B', '-r', 'winch', '-z', 'sh'])).toEqual({
      mode: 'create', socket: 's', client: client({ detachKey: 0x02, redraw: 3, suspendKey: false }), command: ['sh'],
    });
  });
});

describe('-L, the log of a new session', () => {
  it.each([
    [['-n', 's', '-L', 'out.log', 'sh'], 'create-detached', 'out.log', DEFAULT_CLIENT],
    [['-c', 's', '-L', '/var/log/x', 'sh'], 'create', '/var/log/x', DEFAULT_CLIENT],
    [['-N', 's', '-L', '-', 'sh'], 'master-foreground', '-', DEFAULT_CLIENT], // the next word, whatever it looks like
    [['-A', 's', '-zL', 'l', 'sh'], 'attach-or-create', 'l', client({ suspendKey: false })],
    [['-n', 's', '-L', 'a', '-L', 'b', 'sh'], 'create-detached', 'b', DEFAULT_CLIENT], // the last one wins
    [['-n', 's', '-Lz', 'l', 'sh'], 'create-detached', 'l', client({ suspendKey: false })],
  ])('dt %j', (argv, mode, log, expectedClient) => {
    expect(parseArgs(argv)).toEqual({ mode, socket: 's', client: expectedClient, command: ['sh'], log });
  });

  it('is absent unless given', () => {
    expect(parseArgs(['-n', 's', 'sh'])).not.toHaveProperty('log');
  });

  it('belongs to the command after the command', () => {
    expect(parseArgs(['-n', 's', 'tail', '-L', 'x'])).toEqual({ mode: 'create-detached', socket: 's', client: DEFAULT_CLIENT, command: ['tail', '-L', 'x'] });
  });
});

describe('the command', () => {
  it.each([
    // Options after the command belong to the command.
    [['-n', 's', 'grep', '-e', 'x'], ['grep', '-e', 'x'], DEFAULT_CLIENT],
    [['-n', 's', '-z', 'sh', '-z', '-E'], ['sh', '-z', '-E'], client({ suspendKey: false })],
    [['-n', 's', '-r', 'winch', 'cmd', '-r', 'none'], ['cmd', '-r', 'none'], client({ redraw: 3 })],
    // `--` ends dt's options, so a command may itself start with '-'.
    [['-n', 's', '--', '-weird'], ['-weird'], DEFAULT_CLIENT],
    [['-n', 's', '-E', '--', 'sh', '--', 'x'], ['sh', '--', 'x'], client({ detachKey: null })],
    // A lone '-' is an operand, not an option.
    [['-n', 's', '-'], ['-'], DEFAULT_CLIENT],
  ])('dt %j runs %j', (argv, command, expectedClient) => {
    expect(parseArgs(argv)).toEqual({ mode: 'create-detached', socket: 's', client: expectedClient, command });
  });
});

describe('kill signals', () => {
  it.each([
    ['TERM', 15], ['SIGINT', 2], ['int', 2], ['9', 9], ['HUP', 1], ['SIGWINCH', 28], ['64', 64],
    ['RTMIN', 34], ['SIGRTMIN+1', 35], ['rtmax-2', 62], ['RTMAX', 64],
    // kill(2)'s null signal: nothing is sent, the master only checks that the program runs.
    ['0', 0], ['00', 0],
  ])('dt -k s %s sends %i', (name, signal) => {
    expect(parseArgs(['-k', 's', name])).toEqual({ mode: 'kill', socket: 's', signal });
  });

  // kill(1)'s form, typed from habit: a session name never starts with '-', and nothing but
  // the signal may follow the socket, so one leading '-' reads only one way.
  it.each([
    ['-9', 9], ['-KILL', 9], ['-SIGTERM', 15], ['-int', 2], ['-RTMIN+1', 35], ['-RTMAX-2', 62], ['-64', 64], ['-0', 0],
  ])('dt -k s %s sends %i, as kill does', (name, signal) => {
    expect(parseArgs(['-k', 's', name])).toEqual({ mode: 'kill', socket: 's', signal });
  });

  // And in kill(1)'s order, the signal before the socket.
  it.each([
    [['-9', 's'], 9], [['-KILL', 's'], 9], [['-SIGTERM', './s'], 15], [['-s', 'HUP', 's'], 1], [['-s', '2', 's'], 2],
    [['-0', 's'], 0], [['-s', '0', 's'], 0],
  ])('dt -k %j sends %i, as kill does', (args, signal) => {
    const socket = args[args.length - 1];
    expect(parseArgs(['-k', ...args])).toEqual({ mode: 'kill', socket, signal });
  });

  it.each([
    [['-BOGUS', 's'], "Invalid signal '-BOGUS'"],
    [['-s', 's'], 'No signal specified.'],
    [['-9', '-s'], "Invalid session name '-9' (for a file of that name in the current directory, write ./-9)"],
    [['-9'], "Invalid session name '-9' (for a file of that name in the current directory, write ./-9)"],
    [['-9', 's', 'extra'], "Invalid session name '-9' (for a file of that name in the current directory, write ./-9)"],
    [['-9', '..'], "Invalid session name '..' (for a file of that name in the current directory, write ./..)"],
  ])('dt -k %j, the signal first, is a usage error', (args, message) => {
    const error = usageErrorOf(['-k', ...args]);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(message);
  });

  it.each([['KILL', 9], ['SIGHUP', 1], ['2', 2], ['RTMAX', 64], ['0', 0]])('dt -k s -s %s sends %i, as POSIX kill -s does', (name, signal) => {
    expect(parseArgs(['-k', 's', '-s', name])).toEqual({ mode: 'kill', socket: 's', signal });
  });

  it.each([
    [['-s'], 'No signal specified.'],
    [['-s', ''], "Invalid signal ''"],
    [['-s', '-9'], "Invalid signal '-9'"],
    [['-s', 'KILL', 'extra'], 'Invalid number of arguments.'],
    [['-9', 'extra'], 'Invalid number of arguments.'],
  ])('dt -k s %j is a usage error', (args, message) => {
    const error = usageErrorOf(['-k', 's', ...args]);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(message);
  });

  it.each([
    'BOGUS', 'SIGBOGUS', '65', '', 'RTMIN+31', 'RTMAX+1', '-', '--', '--9', '-65', '-BOGUS', '-SIG', '- 9',
    // Numbers that are not 0 to 64 (nor glibc's 32 and 33, below), and 0 written otherwise.
    '99', '255', '256', '+0', '0x0', '0.0', ' 0', '--0', 'SIG0', '-SIG0',
  ])('dt -k s %j is a usage error', (name) => {
    const error = usageErrorOf(['-k', 's', name]);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`Invalid signal '${name}'`);
  });

  it.each(['32', '33', '-32', '-33'])('dt -k s %s is a usage error that says the C library keeps it', (name) => {
    const error = usageErrorOf(['-k', 's', name]);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`Invalid signal '${name}' (32 and 33 are the C library's own; real-time signals are 34 to 64, RTMIN to RTMAX)`);
  });
});

describe('usage errors', () => {
  it.each([
    [[], 'No mode was specified.'],
    [['-x'], "Invalid mode '-x'"],
    [['s'], "Invalid mode 's'"],
    [['-an', 's'], "Invalid mode '-an'"],
    [['-a', '-E', 's'], 'Invalid number of arguments.'],
    [['-w'], 'No socket was specified.'],
    [['-w', 's', 'extra'], 'Invalid number of arguments.'],
    [['-F'], 'No socket was specified.'],
    [['-F', 's', 'extra'], 'Invalid number of arguments.'],
    [['-n', '..', 'sh'], "Invalid session name '..' (for a file of that name in the current directory, write ./..)"],
    [['-a', '.'], "Invalid session name '.' (for a file of that name in the current directory, write ./.)"],
    [['-n', '-x', 'sh'], "Invalid session name '-x' (for a file of that name in the current directory, write ./-x)"],
    [['-w', '-'], "Invalid session name '-' (for a file of that name in the current directory, write ./-)"],
    [['-a', ''], 'No socket was specified.'],
    [['-n'], 'No socket was specified.'],
    [['-k'], 'No socket was specified.'],
    [['-A', 's'], 'No command was specified.'],
    [['-c', 's'], 'No command was specified.'],
    [['-n', 's'], 'No command was specified.'],
    [['-N', 's'], 'No command was specified.'],
    [['-n', 's', '-E'], 'No command was specified.'],
    [['-n', 's', '--'], 'No command was specified.'],
    [['-a', 's', 'extra'], 'Invalid number of arguments.'],
    [['-a', 's', '-E', 'extra'], 'Invalid number of arguments.'],
    [['-p', 's', 'extra'], 'Invalid number of arguments.'],
    [['-k', 's', 'TERM', 'extra'], 'Invalid number of arguments.'],
    [['-a', 's', '-e'], 'No escape character specified.'],
    [['-n', 's', '-e'], 'No escape character specified.'],
    [['-n', 's', '-e', 'ab', 'sh'], "Invalid escape character 'ab': the detach character must be one byte: an ASCII character, or ^X for Ctrl-X."],
    [['-a', 's', '-r', 'fast'], 'Invalid redraw method specified.'],
    [['-n', 's', '-r', '', 'sh'], 'Invalid redraw method specified.'],
    [['-n', 's', '-q', 'sh'], "Invalid option '-q'"],
    [['-a', 's', '--bogus'], "Invalid option '--bogus'"],
    [['-l', 'x'], "Invalid option 'x'"],
    [['-n', 's', '-L'], 'No log file specified.'],
    [['-n', 's', '-L', '', 'sh'], 'No log file specified.'],
    [['-a', 's', '-L', 'x'], 'The -L option applies only to a new session (-c, -n, -N, -A).'],
  ])('dt %j → %s', (argv, message) => {
    const error = usageErrorOf(argv);
    expect(error.message).toBe(message);
    expect(error.exitCode).toBe(2);
  });
});

// dtach 0.9 prints `<argv0>: <message>` and `Try '<argv0> --help' for more information.` (on
// stdout) for these mistakes, before it touches any socket. dt uses the same words (on stderr,
// with exit code 2 rather than 1).
const DTACH = '/usr/bin/dtach';
describe.skipIf(!fs.existsSync(DTACH))('messages match dtach 0.9', () => {
  let scratch: string;
  beforeAll(() => { scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-cli-')); });
  afterAll(() => { fs.rmSync(scratch, { recursive: true, force: true }); });

  function dtachUsageLines(argv: string[]): string[] {
    // stdin is not a terminal and every argv below is a usage error: dtach never creates a session.
    const result = spawnSync(DTACH, argv, { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    expect(result.status).toBe(1);
    return result.stdout.trimEnd().split('\n');
  }

  it.each([
    [[]],
    [['-x']],
    // dt -a without a socket attaches the only session: no dtach message to match.
    [['-c', 's']],
    [['-A', 's']],
    [['-n', 's']],
    [['-N', 's']],
    [['-n', 's', '-e']],
    [['-n', 's', '-r', 'fast', 'sh']],
    [['-n', 's', '-q', 'sh']],
    [['-p', 's', 'extra']],
    // dtach has a separate message for -r without its argument.
    [['-n', 's', '-r']],
  ])('dt %j', (argv) => {
    const [message, hint] = dtachUsageLines(argv);
    expect(message).toMatch(new RegExp(`^${DTACH}: `));
    expect(hint).toBe(`Try '${DTACH} --help' for more information.`);
    expect(usageErrorOf(argv).message).toBe(message!.slice(`${DTACH}: `.length));
    expect(USAGE_HINT).toBe(hint!.replace(DTACH, 'dt'));
    expect(fs.readdirSync(scratch)).toEqual([]);
  });
});
