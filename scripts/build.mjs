// Bundles src/ into one CommonJS file, dist/dt.js. CommonJS, because Node's ES module
// loader costs every dt process about 5 ms of start-up and 2.5 MiB of memory. The master's
// code is in the same file but runs, and loads node-pty, only in the master.
// Built beside dist/ and swapped in, so a running dt never sees a half-written tree.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

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
  execFileSync(process.execPath, [new URL('../bin/dt', import.meta.url).pathname, '--version'], {
    env: { ...process.env, DT_BUILD_CODE_CACHE: partial.pathname },
    stdio: 'ignore',
  });
  renameSync(partial, cache);
}
