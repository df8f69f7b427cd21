// completion/dt.bash: what bash offers at each point of dt's dtach-style command line,
// `dt <mode> <socket> [options] [command [args...]]`. Each case runs the completion function
// the way bash's programmable completion would (COMP_WORDS, COMP_CWORD) in a fresh
// `bash --norc`, and compares COMPREPLY as a sorted list.
//
// completion/_dt: the same cases in zsh, through test/fixtures/zsh-complete.zsh, which
// presses TAB in an interactive zsh under zpty and prints the matches offered. Both parts are
// skipped where the shell is not installed.
//
// Commands are completed from a PATH holding only two fixture executables, so the expected
// lists do not depend on the machine.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSignal } from '../../src/common/signals.js';

const COMPLETION_DIR = path.resolve(import.meta.dirname, '../../completion');
const COMPLETION_FILE = path.join(COMPLETION_DIR, 'dt.bash');
const ZSH_CAPTURE = path.resolve(import.meta.dirname, '../fixtures/zsh-complete.zsh');
const BASH_COMPLETION_LIBRARY = '/usr/share/bash-completion/bash_completion';
/** A shell's absolute path (the cases run with a PATH of fixtures only), or undefined. */
function findShell(name: string): string | undefined {
  return (process.env['PATH'] ?? '').split(path.delimiter)
    .map((directory) => path.join(directory, name))
    .find((candidate) => fs.existsSync(candidate));
}

const BASH = findShell('bash');
const ZSH = findShell('zsh');

const MODES = ['-A', '-F', '-N', '-a', '-c', '-k', '-l', '-n', '-p', '-w'];
const SESSION_OPTIONS = ['-E', '-R', '-e', '-r', '-z'];
/** The modes that create a session also take -L FILE. */
const CREATE_OPTIONS = ['-E', '-L', '-R', '-e', '-r', '-z'];
const REDRAW_METHODS = ['ctrl_l', 'none', 'resize', 'winch'];
const FIXTURE_COMMANDS = ['dtfixture-alpha', 'dtfixture-beta'];

let scratch: string;
let fixtureBin: string;
/** The session directory of the cases: two live sockets and a file that is not one. */
let sessionDir: string;
const servers: net.Server[] = [];

async function listenOn(socketPath: string): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  servers.push(server);
}

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-completion-'));
  fixtureBin = path.join(scratch, 'bin');
  fs.mkdirSync(fixtureBin);
  for (const name of FIXTURE_COMMANDS) {
    fs.writeFileSync(path.join(fixtureBin, name), '#!/bin/sh\n', { mode: 0o755 });
  }
  fs.mkdirSync(path.join(scratch, 'sessions'));
  for (const name of ['alpha.sock', 'beta.sock', 'other', 'with space*.sock']) {
    fs.writeFileSync(path.join(scratch, 'sessions', name), '');
  }
  sessionDir = path.join(scratch, 'private', 'run');
  fs.mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(sessionDir, 'wonky-file'), '');
  const defaultDir = path.join(scratch, 'tmp', `dt-${process.getuid!()}`);
  fs.mkdirSync(defaultDir, { recursive: true, mode: 0o700 });
  await Promise.all([listenOn(path.join(sessionDir, 'work')), listenOn(path.join(sessionDir, 'build')), listenOn(path.join(defaultDir, 'deflt'))]);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  fs.rmSync(scratch, { recursive: true, force: true });
});

/**
 * COMPREPLY, sorted, after completing the last of `words` (the word under the cursor).
 * `setup` runs first (for example, loading bash-completion).
 */
function complete(words: string[], setup = '', env: Record<string, string> = { DT_DIR: sessionDir }): string[] {
  const script = `${setup}
source "$DT_COMPLETION_FILE"
COMP_WORDS=("$@")
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=\${#COMP_LINE}
COMPREPLY=()
_dt
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync(BASH!, ['--norc', '--noprofile', '-c', script, 'bash', ...words], {
    cwd: scratch,
    encoding: 'utf8',
    // Inside, only the fixtures are commands (plus the system's, for bash-completion to load).
    env: { PATH: setup === '' ? fixtureBin : `${fixtureBin}:/usr/bin:/bin`, DT_COMPLETION_FILE: COMPLETION_FILE, ...env },
  });
  if (result.status !== 0) throw new Error(`bash exited ${result.status}: ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line !== '').sort();
}

describe.skipIf(BASH === undefined)('bash completion', () => {
  it('offers the modes first, and the long options once "--" is typed', () => {
    expect(complete(['dt', ''])).toEqual(MODES);
    expect(complete(['dt', '-'])).toEqual(MODES);
    expect(complete(['dt', '--'])).toEqual(['--help', '--version']);
    expect(complete(['dt', '-x', ''])).toEqual([]);
  });

  it('offers --json to -l, once', () => {
    expect(complete(['dt', '-l', ''])).toEqual(['--json']);
    expect(complete(['dt', '-l', '--json', ''])).toEqual([]);
  });

  it('completes the socket as a file name, for every mode that takes one', () => {
    expect(complete(['dt', '-a', 'sessions/'])).toEqual(
      ['sessions/alpha.sock', 'sessions/beta.sock', 'sessions/other', 'sessions/with space*.sock'],
    );
    // One match, whole: not split at the space, not expanded as a glob.
    expect(complete(['dt', '-n', 'sessions/w'])).toEqual(['sessions/with space*.sock']);
    for (const mode of ['-A', '-c', '-n', '-N', '-p', '-k']) {
      expect(complete(['dt', mode, 'sessions/a'])).toEqual(['sessions/alpha.sock']);
    }
  });

  it('completes session names from the session directory (sockets only), and directories to start a path in', () => {
    expect(complete(['dt', '-a', 'w'])).toEqual(['work']);
    expect(complete(['dt', '-w', 'bu'])).toEqual(['build']);
    expect(complete(['dt', '-a', ''])).toEqual(['bin', 'build', 'private', 'sessions', 'tmp', 'work']);
    for (const mode of ['-A', '-c', '-n', '-N', '-p', '-k', '-w', '-F']) expect(complete(['dt', mode, 'wo'])).toEqual(['work']);
    expect(complete(['dt', '-a', '-R', 'b'])).toEqual(['bin', 'build']);
    // Without DT_DIR: ${TMPDIR:-/tmp}/dt-<uid>.
    expect(complete(['dt', '-a', 'd'], '', { TMPDIR: path.join(scratch, 'tmp') })).toEqual(['deflt']);
  });

  it('offers -F a session or --all, and nothing after; -w nothing after its socket', () => {
    expect(complete(['dt', '-F', '--'])).toEqual(['--all']);
    expect(complete(['dt', '-F', 'w'])).toEqual(['work']);
    expect(complete(['dt', '-F', 'work', ''])).toEqual([]);
    expect(complete(['dt', '-w', 'work', ''])).toEqual([]);
  });

  it('offers the options after the socket, and only them for -a', () => {
    expect(complete(['dt', '-a', 's', ''])).toEqual(SESSION_OPTIONS);
    expect(complete(['dt', '-c', 's', '-'])).toEqual(CREATE_OPTIONS);
    expect(complete(['dt', '-A', 's', '-E', '-'])).toEqual(CREATE_OPTIONS);
    expect(complete(['dt', '-a', 's', '-R', 'extra', ''])).toEqual([]);
  });

  it('knows dt -a -R SOCKET: -R before the socket, then the socket, then the options', () => {
    // dt -a with options and no socket attaches the only session: every option may come first.
    expect(complete(['dt', '-a', '-'])).toEqual(SESSION_OPTIONS);
    expect(complete(['dt', '-a', '-R', 'sessions/a'])).toEqual(['sessions/alpha.sock']);
    expect(complete(['dt', '-a', '-R', 's', ''])).toEqual(SESSION_OPTIONS);
  });

  it('offers the redraw methods as the value of -r, also when -r is inside a group', () => {
    expect(complete(['dt', '-c', 's', '-r', ''])).toEqual(REDRAW_METHODS);
    expect(complete(['dt', '-a', 's', '-Er', 'w'])).toEqual(['winch']);
    // -er: -e takes the first word after the group, -r the second.
    expect(complete(['dt', '-n', 's', '-er', 'x', ''])).toEqual(REDRAW_METHODS);
    expect(complete(['dt', '-n', 's', '-e', ''])).toEqual([]);
  });

  it('completes the value of -L as a file name, also inside a group, and the command after it', () => {
    expect(complete(['dt', '-n', 's', '-L', 'sessions/b'])).toEqual(['sessions/beta.sock']);
    expect(complete(['dt', '-c', 's', '-zL', 'sessions/o'])).toEqual(['sessions/other']);
    expect(complete(['dt', '-N', 's', '-L', 'x.log', 'dtfixture-a'])).toEqual(['dtfixture-alpha']);
  });

  it('completes the command after the options, treating the values of -e and -r as values', () => {
    expect(complete(['dt', '-c', 's', 'dtfixture-'])).toEqual(FIXTURE_COMMANDS);
    expect(complete(['dt', '-N', 's', '-Ez', '-r', 'none', 'dtfixture-'])).toEqual(FIXTURE_COMMANDS);
    // `-e -` sets the detach character to '-': the next word is the command.
    expect(complete(['dt', '-A', 's', '-e', '-', 'dtfixture-b'])).toEqual(['dtfixture-beta']);
    // After --, a word starting with '-' is the command, not an option.
    expect(complete(['dt', '-n', 's', '--', 'dtfixture-a'])).toEqual(['dtfixture-alpha']);
  });

  it("leaves the command's arguments to readline's default completion", () => {
    expect(complete(['dt', '-c', 's', 'dtfixture-alpha', ''])).toEqual([]);
    expect(complete(['dt', '-c', 's', 'dtfixture-alpha', '-'])).toEqual([]);
  });

  it.skipIf(!fs.existsSync(BASH_COMPLETION_LIBRARY))(
    "with bash-completion loaded, uses its file completion and the command's own completion",
    () => {
      const setup = `source ${BASH_COMPLETION_LIBRARY} 2>/dev/null; complete -W 'install info' dtfixture-alpha`;
      expect(complete(['dt', '-a', 'sessions/a'], setup)).toEqual(['sessions/alpha.sock']);
      expect(complete(['dt', '-c', 's', '-E', 'dtfixture-alpha', 'in'], setup)).toEqual(['info', 'install']);
    },
  );

  it('offers signal names to -k, without the SIG prefix unless it is typed', () => {
    const all = complete(['dt', '-k', 's', '']);
    expect(all).toEqual(expect.arrayContaining(['HUP', 'INT', 'KILL', 'TERM', 'USR1', 'WINCH']));
    // Every name offered is one dt -k accepts.
    expect(all.filter((name) => parseSignal(name) === undefined)).toEqual([]);
    expect(all.filter((name) => name.startsWith('SIG'))).toEqual([]);
    expect(complete(['dt', '-k', 's', 'te'])).toEqual(['TERM']);
    expect(complete(['dt', '-k', 's', 'SIGWI'])).toEqual(['SIGWINCH']);
    expect(complete(['dt', '-k', 's', 'rtmin+1'])).toEqual(['RTMIN+1', 'RTMIN+10', 'RTMIN+11', 'RTMIN+12', 'RTMIN+13', 'RTMIN+14', 'RTMIN+15']);
    expect(complete(['dt', '-k', 's', 'SIGRTMAX'])).toEqual(expect.arrayContaining(['SIGRTMAX', 'SIGRTMAX-1', 'SIGRTMAX-14']));
    expect(complete(['dt', '-k', 's', 'TERM', ''])).toEqual([]);
  });

  it('offers nothing after the socket of -p', () => {
    expect(complete(['dt', '-p', 's', ''])).toEqual([]);
  });
});

/** The matches zsh offers when TAB is pressed at the end of `line`, sorted. */
function completeZsh(line: string): string[] {
  const result = spawnSync(ZSH!, ['-f', ZSH_CAPTURE, COMPLETION_DIR, path.join(scratch, 'zcompdump'), fixtureBin, line], {
    cwd: scratch,
    encoding: 'utf8',
    // The system's PATH starts the inner zsh; the fixture then gives it fixtureBin alone.
    env: { PATH: process.env['PATH'] ?? '', HOME: scratch, DT_DIR: sessionDir },
    timeout: 10_000, // a failure limit: a completion that never ends must not hang the suite
  });
  if (result.status !== 0) throw new Error(`zsh exited ${result.status} (${result.signal}): ${result.stderr}`);
  return [...new Set(result.stdout.split('\n').filter((match) => match !== ''))].sort();
}

describe.skipIf(ZSH === undefined)('zsh completion', () => {
  it('parses', () => {
    const result = spawnSync(ZSH!, ['-n', path.join(COMPLETION_DIR, '_dt')], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('offers the modes, --help and --version, and --json to -l', () => {
    expect(completeZsh('dt ')).toEqual(MODES);
    expect(completeZsh('dt --')).toEqual(['--help', '--version']);
    expect(completeZsh('dt -l ')).toEqual(['--json']);
    expect(completeZsh('dt -l --json ')).toEqual([]);
  });

  it('completes the socket as a file name', () => {
    // _files hands zsh the name already quoted, as it is inserted on the command line.
    expect(completeZsh('dt -a sessions/')).toEqual(['alpha.sock', 'beta.sock', 'other', 'with\\ space\\*.sock']);
    expect(completeZsh('dt -k sessions/a')).toEqual(['alpha.sock']);
  });

  it('completes session names from the session directory, and directories to start a path in', () => {
    expect(completeZsh('dt -a w')).toEqual(['work']);
    expect(completeZsh('dt -w bu')).toEqual(['build']);
    expect(completeZsh('dt -k wo')).toEqual(['work']);
    expect(completeZsh('dt -F ')).toEqual(expect.arrayContaining(['--all', 'build', 'work', 'private']));
    expect(completeZsh('dt -F ')).not.toContain('wonky-file');
  });

  it('offers the options after the socket, and the redraw methods to -r', () => {
    expect(completeZsh('dt -a s -')).toEqual(SESSION_OPTIONS);
    expect(completeZsh('dt -c s -')).toEqual(CREATE_OPTIONS);
    expect(completeZsh('dt -c s -r ')).toEqual(REDRAW_METHODS);
    expect(completeZsh('dt -n s -L sessions/b')).toEqual(['beta.sock']);
    expect(completeZsh('dt -n s -L x.log dtfixture-a')).toEqual(['dtfixture-alpha']);
    expect(completeZsh('dt -c s -Er w')).toEqual(['winch']);
    expect(completeZsh('dt -a s -R x ')).toEqual([]);
  });

  it('knows dt -a -R SOCKET: -R before the socket, then the socket, then the options', () => {
    expect(completeZsh('dt -a -')).toEqual(SESSION_OPTIONS);
    expect(completeZsh('dt -a -R sessions/a')).toEqual(['alpha.sock']);
    expect(completeZsh('dt -a -R s -')).toEqual(SESSION_OPTIONS);
  });

  it("completes the command, then its arguments with the command's own completion", () => {
    expect(completeZsh('dt -c s ')).toEqual(FIXTURE_COMMANDS);
    expect(completeZsh('dt -N s -E -r none dtfixture-b')).toEqual(['dtfixture-beta']);
    expect(completeZsh('dt -A s -e - ')).toEqual(FIXTURE_COMMANDS);
    expect(completeZsh('dt -n s dtfixture-alpha in')).toEqual(['info', 'install']);
  });

  it('offers signal names to -k, and nothing after the socket of -p', () => {
    const all = completeZsh('dt -k s ');
    expect(all).toEqual(expect.arrayContaining(['HUP', 'INT', 'KILL', 'TERM', 'USR1', 'WINCH']));
    expect(all.filter((name) => parseSignal(name) === undefined)).toEqual([]);
    expect(completeZsh('dt -k s SIGWI')).toEqual(['SIGWINCH']);
    expect(completeZsh('dt -k s rtmin+1')).toEqual(['RTMIN+1', 'RTMIN+10', 'RTMIN+11', 'RTMIN+12', 'RTMIN+13', 'RTMIN+14', 'RTMIN+15']);
    expect(completeZsh('dt -k s SIGRTMAX')).toEqual(expect.arrayContaining(['SIGRTMAX', 'SIGRTMAX-1', 'SIGRTMAX-14']));
    expect(completeZsh('dt -p s ')).toEqual([]);
  });
});
