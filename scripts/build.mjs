// Bundles src/ into one CommonJS file, dist/dt.js. CommonJS, because Node's ES module
// loader costs every dt process about 5 ms of start-up and 2.5 MiB of memory. The master's
// code is in the same file but runs, and loads node-pty, only in the master.
// Built beside dist/ and swapped in, so a running dt never sees a half-written tree.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const DT = new URL('../bin/dt', import.meta.url).pathname;
/** How long the client that makes the attaching commands' cache may take; it takes well under a second. */
const ATTACH_CACHE_TIMEOUT_MS = 10_000;
/** How long its session's master may take to end once its program has. */
const MASTER_END_TIMEOUT_MS = 5_000;

const dist = new URL('../dist', import.meta.url);
const fresh = new URL('../dist.new', import.meta.url);
const stale = new URL('../dist.old', import.meta.url);
rmSync(fresh, { recursive: true, force: true });
await build({
  entryPoints: { dt: 'src/main.ts' },
  outdir: 'dist.new',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['node-pty'],
  // import() of a built-in as require(): bin/dt compiles the bundle as a vm.Script, which has
  // no loader for import().
  supported: { 'dynamic-import': false },
  sourcemap: 'linked',
  logLevel: 'warning',
});
// V8 keeps a script's source as long as the script lives, one byte per character if every
// character is ASCII and two bytes otherwise: 225 KiB instead of 112 KiB in every dt process.
// esbuild escapes non-ASCII in strings and identifiers, but keeps some comments as they are;
// in those, any other character becomes '?' (one for one, so the source map still fits).
const bundle = new URL('../dist.new/dt.js', import.meta.url);
writeFileSync(bundle, fasterInterop(readFileSync(bundle, 'utf8').replace(/[^\x00-\x7f]/g, '?')));
// The package is "type": "module" for its sources and tests; the bundle is not.
writeFileSync(new URL('../dist.new/package.json', import.meta.url), '{ "type": "commonjs" }\n');
rmSync(stale, { recursive: true, force: true });
try {
  renameSync(dist, stale);
} catch (error) {
  if (error.code !== 'ENOENT') throw error; // first build: nothing to move aside
}
renameSync(fresh, dist);
rmSync(stale, { recursive: true, force: true });
writeCodeCache();
await writeAttachCodeCache();
await writeCreateCodeCache();

/**
 * esbuild's __toESM copies every property of a CommonJS module into a new object, once per
 * importing module: 38 copies of node:fs, node:net... at every start of every dt process,
 * 1.2-1.7 ms of a 60 ms Node start. An object whose prototype is the module, with `default`
 * of its own, reads the same. Left as esbuild wrote it if esbuild ever writes it otherwise.
 */
function fasterInterop(code) {
  const helper = /^var __toESM = \(mod, isNodeMode, target\) => \(target = [^]*?\n\)\);\n/m;
  const replacement = 'var __toESM = (mod, isNodeMode) => mod != null && (isNodeMode || !mod.__esModule)\n' +
    '  ? Object.create(mod, { default: { value: mod, enumerable: true } }) : mod;\n';
  return code.replace(helper, replacement);
}

/**
 * dist/dt.js.cache: V8's code cache of the bundle, which bin/dt compiles it with. Made by
 * bin/dt itself, running `dt --version`, so that it holds the code every dt process runs at
 * start-up (the module's top level, argument parsing), compiled once here. Written after the
 * bundle, and moved into place whole: bin/dt uses only a cache newer than the bundle.
 */
function writeCodeCache() {
  const cache = new URL('../dist/dt.js.cache', import.meta.url);
  const partial = new URL('../dist/dt.js.cache.new', import.meta.url);
  execFileSync(process.execPath, [DT, '--version'], {
    env: { ...process.env, DT_BUILD_CODE_CACHE: partial.pathname },
    stdio: 'ignore',
  });
  renameSync(partial, cache);
}

/**
 * dist/dt.js.attach.cache, for the commands that attach: made by a client that starts from
 * dist/dt.js.cache and attaches, in a terminal, to a session made for the purpose, whose
 * program reads the line typed at once and ends; the client leaves with it. Where that
 * cannot run (no pty), those commands start from dist/dt.js.cache.
 */
function writeAttachCodeCache() {
  return writeCodeCacheOf('attach', 'dt -a, -A and -c start', async ({ dir, env, cacheOut }) => {
    const socket = path.join(dir, 's');
    execFileSync(process.execPath, [DT, '-n', socket, '/bin/sh', '-c', 'read line'], { env, stdio: 'ignore' });
    const { spawn } = await import('node-pty');
    const client = spawn(process.execPath, [DT, '-a', socket], {
      cols: 80, rows: 24, cwd: dir, env: { ...env, DT_BUILD_CODE_CACHE: cacheOut },
    });
    // The terminal holds the line until the client reads it, in raw mode.
    client.write('x\r');
    const exitCode = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.kill('SIGKILL');
        reject(new Error(`the client did not leave within ${ATTACH_CACHE_TIMEOUT_MS / 1000} s`));
      }, ATTACH_CACHE_TIMEOUT_MS);
      client.onExit((exit) => {
        clearTimeout(timer);
        resolve(exit.exitCode);
      });
    });
    if (exitCode !== 0) throw new Error(`the client exited with status ${exitCode}`);
  });
}

/**
 * dist/dt.js.create.cache, for `dt -n`: made by a `dt -n` that starts from dist/dt.js.cache
 * and creates a session made for the purpose, whose program ends at once, and its master with
 * it. Where that cannot run, `dt -n` starts from dist/dt.js.cache.
 */
function writeCreateCodeCache() {
  return writeCodeCacheOf('create', 'dt -n starts', ({ dir, env, cacheOut }) => {
    execFileSync(process.execPath, [DT, '-n', path.join(dir, 's'), '/bin/sh', '-c', 'exit 0'], {
      env: { ...env, DT_BUILD_CODE_CACHE: cacheOut }, stdio: 'ignore',
    });
  });
}

/**
 * dist/dt.js.<kind>.cache, written by the dt that `run` runs with DT_BUILD_CODE_CACHE set to
 * `cacheOut`, and moved into place whole once `run` has succeeded. `run` gets a directory of
 * its own, and an environment with its own registry and session directory there: nothing of
 * the user's is touched, and every master it started is ended after. Where it fails, says
 * that `commands` start from dist/dt.js.cache.
 */
async function writeCodeCacheOf(kind, commands, run) {
  const cache = new URL(`../dist/dt.js.${kind}.cache`, import.meta.url);
  const partial = new URL(`../dist/dt.js.${kind}.cache.new`, import.meta.url);
  const dir = mkdtempSync(path.join(tmpdir(), 'dt-build-'));
  const env = { ...process.env, XDG_STATE_HOME: path.join(dir, 'state'), DT_DIR: path.join(dir, 'run') };
  delete env.DT_SESSION;
  try {
    await run({ dir, env, cacheOut: partial.pathname });
    renameSync(partial, cache);
  } catch (error) {
    console.warn(`build: no dist/dt.js.${kind}.cache (${error.message}); ${commands} from dist/dt.js.cache`);
  } finally {
    await endMasters(path.join(dir, 'state/dt/sessions'));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for the masters registered in `records` (a file per master, named by its pid) to end; kills those that do not. */
async function endMasters(records) {
  const pids = existsSync(records) ? readdirSync(records).map((name) => Number.parseInt(name, 10)).filter((pid) => pid > 0) : [];
  const deadline = Date.now() + MASTER_END_TIMEOUT_MS;
  while (pids.some(isRunning) && Date.now() < deadline) await delay(10);
  for (const pid of pids.filter(isRunning)) process.kill(pid, 'SIGKILL');
}

/** False once the process has ended, as a zombie too (nobody may reap an orphan in a container). */
function isRunning(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ').pop()[0] !== 'Z';
  } catch {
    return false; // gone
  }
}
