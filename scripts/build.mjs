// Bundles src/ into dist/: one file for the client modes, and a separate chunk for the
// master, which alone loads node-pty. Fewer files to resolve makes `dt -a` start faster.
// Built beside dist/ and swapped in, so a running dt never sees a half-written tree.
import { build } from 'esbuild';
import { renameSync, rmSync } from 'node:fs';

const dist = new URL('../dist', import.meta.url);
const fresh = new URL('../dist.new', import.meta.url);
const stale = new URL('../dist.old', import.meta.url);
rmSync(fresh, { recursive: true, force: true });
await build({
  entryPoints: { dt: 'src/main.ts' },
  outdir: 'dist.new',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['node-pty'],
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
rmSync(stale, { recursive: true, force: true });
try {
  renameSync(dist, stale);
} catch (error) {
  if (error.code !== 'ENOENT') throw error; // first build: nothing to move aside
}
renameSync(fresh, dist);
rmSync(stale, { recursive: true, force: true });
