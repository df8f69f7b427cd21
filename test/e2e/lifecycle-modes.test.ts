// Session lifecycle, part 2: dt -A (attach or create), dt -N (master in the foreground), and
// what everyone sees when the program ends.

import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIXTURES, Sandbox, masterPidOf, waitUntil, type Term } from './harness.js';
import {
  expectStatusLine, hexReceived, isRunning, isSocketFile, killTracked, runDt, sessionInfo, trackPid, waitForClients,
} from './lifecycle-helpers.js';

let sandbox: Sandbox;
beforeEach(() => { sandbox = new Sandbox(); });
afterEach(async () => {
  await killTracked();
  await sandbox.teardown();
});

/** hexecho, after appending its pid to a file: one line per time the command was run. */
function countedHexecho(runsFile: string): string[] {
  return ['sh', '-c', 'echo $$ >> "$0"; exec "$1" "$2"', runsFile, process.execPath, `${FIXTURES}/hexecho.mjs`];
}

function runsIn(runsFile: string): number[] {
  return fs.existsSync(runsFile) ? fs.readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

async function typeAndSee(term: Term, key: string): Promise<void> {
  const from = term.text.length;
  term.write(key);
  await term.until(() => hexReceived(term, from).includes(key), `hexecho to receive ${JSON.stringify(key)}`);
}

it('dt -A creates the session when the socket is missing and attaches when it is live, running the command once', async () => {
  sandbox.leavesMaster('the session must outlive the clients: that is what is checked');
  const socket = sandbox.path('s');
  const runs = sandbox.path('runs');
  const creator = sandbox.dt(['-A', socket, ...countedHexecho(runs)]);
  await creator.waitFor('READY');
  const masterPid = await sandbox.trackMaster(socket);
  expect(runsIn(runs)).toHaveLength(1);
  creator.write('\x1c');
  expect((await creator.waitForExit()).exitCode).toBe(0);

  const attacher = sandbox.dt(['-A', socket, ...countedHexecho(runs)]);
  await typeAndSee(attacher, 'a');
  // Same master, same program: the command was not started a second time.
  expect(await masterPidOf(socket)).toBe(masterPid);
  expect(runsIn(runs)).toHaveLength(1);
  expect((await sessionInfo(socket)).programPid).toBe(runsIn(runs)[0]);
});

it('dt -A replaces a stale socket (its master was killed) with a new session', async () => {
  sandbox.leavesMaster('the replacing session is the point; its end is tested elsewhere');
  const socket = sandbox.path('s');
  const runs = sandbox.path('runs');
  const created = await runDt(['-n', socket, ...countedHexecho(runs)], { cwd: sandbox.dir });
  expect(created.code).toBe(0);
  const { masterPid: deadMaster, programPid } = await sessionInfo(socket);
  trackPid(programPid);
  process.kill(deadMaster, 'SIGKILL');
  await waitUntil(() => !isRunning(deadMaster), `the killed master ${deadMaster} to be gone`);
  expect(isSocketFile(socket)).toBe(true); // nobody removed it: a stale socket

  const term = sandbox.dt(['-A', socket, ...countedHexecho(runs)]);
  await term.waitFor('READY');
  const newMaster = await sandbox.trackMaster(socket);
  expect(newMaster).not.toBe(deadMaster);
  expect(runsIn(runs)).toHaveLength(2);
  await typeAndSee(term, 'n');
});

/** A program that waits for one line, prints its last words, then ends as `ending` says. */
function endsAfterOneLine(ending: string): string[] {
  return ['sh', '-c', `read line; printf '%s' "$0"; ${ending}`, LAST_WORDS];
}

const LAST_WORDS = 'last-words';

/** The client showed the program's last output, then the status line, and nothing visible after. */
function expectEnding(output: string, message: string): void {
  expect(output).toContain(LAST_WORDS);
  expect(output.indexOf(LAST_WORDS)).toBeLessThan(output.indexOf('\x1b[999H'));
  expectStatusLine(output, message);
}

const endings = [
  { ending: 'exit 7', status: 7, message: '[program exited with status 7]' },
  { ending: 'kill -TERM $$', status: 143, message: '[program killed by SIGTERM]' },
];

for (const { ending, status, message } of endings) {
  it(`dt -N runs the master in the foreground until the program ends, then exits ${status} (${ending})`, async () => {
    const socket = sandbox.path('s');
    const master = sandbox.dt(['-N', socket, ...endsAfterOneLine(ending)]);
    await waitUntil(() => isSocketFile(socket), 'the foreground master to create its socket');
    // The dt process in the terminal is the master itself.
    expect(await sandbox.trackMaster(socket)).toBe(master.pid);

    const client = sandbox.dt(['-a', socket]);
    await waitForClients(socket, 1);
    expect(master.exited).toBeUndefined();
    const beforeEnd = client.text.length;
    client.write('go\r');

    expect((await client.waitForExit()).exitCode).toBe(status);
    expectEnding(client.text.slice(beforeEnd), message);
    expect((await master.waitForExit()).exitCode).toBe(status);
    expect(fs.existsSync(socket)).toBe(false);
  });
}

it('dt -N with nobody attached exits with the program\'s status', async () => {
  const socket = sandbox.path('s');
  const master = sandbox.dt(['-N', socket, 'sh', '-c', 'exit 7']);
  expect(await master.waitForExit()).toEqual({ exitCode: 7, signal: 0 });
  expect(fs.existsSync(socket)).toBe(false);
});

for (const { ending, status, message } of [
  { ending: 'exit 3', status: 3, message: '[program exited with status 3]' },
  { ending: 'kill -TERM $$', status: 143, message: '[program killed by SIGTERM]' },
]) {
  it(`when the program ends (${ending}) every client prints ${message} and exits ${status}; socket and master go`, async () => {
    const socket = sandbox.path('s');
    const creator = sandbox.dt(['-c', socket, ...endsAfterOneLine(ending)]);
    await waitUntil(() => isSocketFile(socket), 'the session socket');
    const masterPid = await sandbox.trackMaster(socket);
    const other = sandbox.dt(['-a', socket]);
    await waitForClients(socket, 2);
    const offsets = [creator.text.length, other.text.length];

    other.write('bye\r');
    for (const [index, client] of [creator, other].entries()) {
      expect((await client.waitForExit()).exitCode).toBe(status);
      expectEnding(client.text.slice(offsets[index]!), message);
    }
    await waitUntil(() => !fs.existsSync(socket), 'the socket file to be removed');
    await waitUntil(() => !isRunning(masterPid), `the master ${masterPid} to exit`);
  });
}
