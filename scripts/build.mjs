// Bundles src/ into one CommonJS file, dist/dt.js. CommonJS, because Node's ES module
// loader costs every dt process about 5 ms of start-up and 2.5 MiB of memory. The master's
// code is in the same file but runs, and loads node-pty, only in the master.
// Built beside dist/ and swapped in, so a running dt never sees a half-written tree.
import { build } from 'esbuild';
import { renameSync, rmSync, writeFileSync } from 'node:fs';

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
  sourcemap: 'linked',
  logLevel: 'warning',
});
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
