// Session names: a socket argument without a '/' is a session in the private session
// directory (DT_DIR, by default ${TMPDIR:-/tmp}/dt-<uid>), which dt creates private and
// refuses unless it is the user's own and private; a '/' makes a path, as in dtach.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DT, Sandbox, waitForViewers } from './harness.js';
import { HEXECHO, isSocketFile, killTracked, modeOf, runDt } from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = new Sandbox();
  sandbox.leavesMaster('where sessions live is checked here; how they end is tested in lifecycle and faults');
});
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

function dt(args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof runDt> {
  return runDt(args, { cwd: sandbox.dir, env: sandbox.env(env) });
}

it('a name is a socket in the session directory, made private on first use; every mode takes names', async () => {
  expect(fs.existsSync(sandbox.sessionDir)).toBe(false);
  expect(await dt(['-n', 'work', ...HEXECHO])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  const socket = path.join(sandbox.sessionDir, 'work');
  expect(isSocketFile(socket)).toBe(true);
  expect(modeOf(sandbox.sessionDir)).toBe(0o700);
  const masterPid = await sandbox.trackMaster(socket);

  // dt -l shows it by its name; --json gives both.
  const table = await dt(['-l']);
  expect(table.stdout).toMatch(new RegExp(`^SESSION\\s+PID\\s.*\\nwork\\s+${masterPid}\\s`));
  expect(JSON.parse((await dt(['-l', '--json'])).stdout)).toMatchObject([{ name: 'work', socket, masterPid }]);

  // -a, -p and -k by name.
  const viewer = sandbox.dt(['-a', 'work', '-r', 'none']);
  await waitForViewers(socket, 1);
  expect(await runDt(['-p', 'work'], { cwd: sandbox.dir, env: sandbox.env(), input: 'p' })).toMatchObject({ code: 0 });
  await viewer.waitFor('HEX 70');
  expect(await dt(['-k', 'work', 'INT'])).toMatchObject({ code: 0 });
  expect((await viewer.waitForExit()).exitCode).toBe(130);
});

it("a '/' makes a path, as in dtach: ./work is in the current directory, and is listed by its path", async () => {
  expect(await dt(['-n', './work', ...HEXECHO])).toMatchObject({ code: 0, stderr: '' });
  const socket = sandbox.path('work');
  expect(isSocketFile(socket)).toBe(true);
  expect(fs.existsSync(sandbox.sessionDir), 'the session directory, for a path').toBe(false);
  const masterPid = await sandbox.trackMaster(socket);
  expect((await dt(['-l'])).stdout).toMatch(new RegExp(`\\n${socket}\\s+${masterPid}\\s`));
  const [listed] = JSON.parse((await dt(['-l', '--json'])).stdout) as Array<Record<string, unknown>>;
  expect(listed).toMatchObject({ socket });
  expect(listed).not.toHaveProperty('name');
  // A name of the same spelling is another session.
  expect(await dt(['-w', 'work'])).toMatchObject({ code: 1, stderr: `dt: ${path.join(sandbox.sessionDir, 'work')}: No such file or directory\n` });
});

it('without DT_DIR, the directory is ${TMPDIR:-/tmp}/dt-<uid>', async () => {
  const tmp = sandbox.path('tmp');
  fs.mkdirSync(tmp);
  expect(await dt(['-n', 'work', ...HEXECHO], { DT_DIR: '', TMPDIR: tmp })).toMatchObject({ code: 0, stderr: '' });
  const directory = path.join(tmp, `dt-${process.getuid!()}`);
  expect(modeOf(directory)).toBe(0o700);
  await sandbox.trackMaster(path.join(directory, 'work'));
});

/** `dt ...args` in a terminal (-A needs one), its stderr apart: what the terminal showed is its stdout. */
async function dtInTerminal(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const stderrFile = sandbox.path('dt.stderr');
  const term = sandbox.run('sh', ['-c', 'exec "$@" 2>"$0"', stderrFile, process.execPath, DT, ...args], { env });
  const { exitCode } = await term.waitForExit();
  const stderr = fs.readFileSync(stderrFile, 'utf8');
  fs.rmSync(stderrFile);
  return { code: exitCode, stdout: term.text, stderr };
}

/**
 * A refused session directory: every mode fails with `message` before anything starts; those
 * that look for a session only, with `lookupMessage` when it differs.
 */
async function expectRefused(env: NodeJS.ProcessEnv, message: string, lookupMessage = message): Promise<void> {
  for (const args of [['-n', 'work', ...HEXECHO], ['-a', 'work'], ['-w', 'work'], ['-p', 'work'], ['-k', 'work'], ['-A', 'work', ...HEXECHO]]) {
    const result = args[0] === '-A' || args[0] === '-a' ? await dtInTerminal(args, env) : await dt(args, env);
    const said = args[0] === '-n' || args[0] === '-A' ? message : lookupMessage;
    expect(result, `dt ${args.slice(0, 2).join(' ')}`).toMatchObject({ code: 1, stdout: '', stderr: `dt: ${said}\n` });
  }
  expect(sandbox.findMasters(), 'masters started').toEqual([]);
}

it('a session directory that group or others can access is refused, and left as it is', async () => {
  fs.mkdirSync(sandbox.sessionDir, { mode: 0o755 });
  fs.chmodSync(sandbox.sessionDir, 0o755);
  await expectRefused({}, `${sandbox.sessionDir}: group or others can access it (mode 0755); refusing to keep sessions there (chmod 700 it)`);
  expect(modeOf(sandbox.sessionDir)).toBe(0o755);
  expect(fs.readdirSync(sandbox.sessionDir)).toEqual([]);
});

it.skipIf(process.getuid?.() !== 0)('a session directory owned by someone else is refused', async () => {
  fs.mkdirSync(sandbox.sessionDir, { mode: 0o700 });
  execFileSync('chown', ['nobody', sandbox.sessionDir]);
  const uid = fs.statSync(sandbox.sessionDir).uid;
  await expectRefused({}, `${sandbox.sessionDir}: owned by uid ${uid}, not by you (uid 0); refusing to keep sessions there (set DT_DIR)`);
  expect(fs.readdirSync(sandbox.sessionDir)).toEqual([]);
});

it('a session directory that is a symlink or a file is refused; one whose parent is missing is not made, one whose parent is a file is refused', async () => {
  fs.mkdirSync(sandbox.path('elsewhere'), { mode: 0o700 });
  fs.symlinkSync(sandbox.path('elsewhere'), sandbox.sessionDir);
  await expectRefused({}, `${sandbox.sessionDir}: not a directory (sessions are kept in a private directory)`);
  expect(fs.readdirSync(sandbox.path('elsewhere'))).toEqual([]);
  fs.unlinkSync(sandbox.sessionDir);
  fs.writeFileSync(sandbox.sessionDir, '');
  await expectRefused({}, `${sandbox.sessionDir}: not a directory (sessions are kept in a private directory)`);
  // Made only to create a session in it: the modes that look for one find no session there.
  const orphan = sandbox.path('missing/run');
  await expectRefused({ DT_DIR: orphan }, `${orphan}: No such file or directory`, `${orphan}/work: No such file or directory`);
  expect(fs.existsSync(sandbox.path('missing'))).toBe(false);
  // One whose parent is a file: what the system says, in every mode, and nothing made.
  fs.writeFileSync(sandbox.path('notes'), 'kept');
  const underFile = sandbox.path('notes/run');
  await expectRefused({ DT_DIR: underFile }, `${underFile}: Not a directory`);
  expect(fs.readFileSync(sandbox.path('notes'), 'utf8')).toBe('kept');
  await expectRefused({ DT_DIR: 'relative' }, 'DT_DIR=relative: not an absolute path');
});

it('names that would not be a file in the directory are usage errors', async () => {
  for (const name of ['..', '.', '-x']) {
    const result = await dt(['-n', name, ...HEXECHO]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Invalid session name '${name}'`);
  }
});
