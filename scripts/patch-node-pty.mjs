// Run by npm after it has installed and built node-pty (package.json "postinstall"): mends a
// use-after-free in node-pty's native fork, then builds node-pty again.
//
// node-pty 1.1's PtyFork (src/unix/pty.cc) makes a handle for every word of the command and
// every environment variable inside a plain HandleScope, and returns an object made in that
// scope. When the scope closes, V8 frees the extra handle blocks it took, and the object is
// then read from freed memory. Past about 2,000 words and variables the returned handle sits
// in a freed block: the master crashes (SIGSEGV) now and then as it starts the program, and
// every time when malloc scribbles on freed memory (MALLOC_PERTURB_). The session is lost
// without a word. An EscapableHandleScope hands the object out of the scope as N-API means it
// to be (microsoft/node-pty#732); nothing else changes.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeGyp } from './node-gyp.mjs';

const require = createRequire(import.meta.url);

const PLAIN_SCOPE = '  Napi::HandleScope scope(napiEnv);\n';
const ESCAPABLE_SCOPE = '  Napi::EscapableHandleScope scope(napiEnv);\n';
const PLAIN_RETURN = '  return obj;\n}';
const ESCAPING_RETURN = '  return scope.Escape(obj);\n}';

/** The text of PtyFork in node-pty's pty.cc, and where it starts. */
export function findPtyFork(source) {
  const start = source.indexOf('\nNapi::Value PtyFork(const Napi::CallbackInfo& info) {\n');
  if (start === -1) return undefined;
  const end = source.indexOf('\n}\n', start);
  if (end === -1) return undefined;
  return { start, text: source.slice(start, end + 2) };
}

/**
 * pty.cc with PtyFork's scope made escapable; the same text if it already is; undefined if
 * PtyFork is not the function this patch was written for (node-pty changed it).
 */
export function patchPtyFork(source) {
  const fork = findPtyFork(source);
  if (fork === undefined) return undefined;
  if (fork.text.includes(ESCAPABLE_SCOPE) && fork.text.endsWith(ESCAPING_RETURN)) return source;
  if (count(fork.text, PLAIN_SCOPE) !== 1 || !fork.text.endsWith(PLAIN_RETURN) || count(fork.text, 'return') !== 1) {
    return undefined;
  }
  const patched = fork.text.replace(PLAIN_SCOPE, ESCAPABLE_SCOPE).slice(0, -PLAIN_RETURN.length) + ESCAPING_RETURN;
  return source.slice(0, fork.start) + patched + source.slice(fork.start + fork.text.length);
}

function count(text, part) {
  return text.split(part).length - 1;
}

function main() {
  if (process.platform === 'win32' || process.platform === 'darwin') return; // dt runs on Linux only
  const packageRoot = path.dirname(require.resolve('node-pty/package.json'));
  const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8'));
  const sourcePath = path.join(packageRoot, 'src', 'unix', 'pty.cc');
  const source = fs.readFileSync(sourcePath, 'utf8');
  const patched = patchPtyFork(source);
  if (patched === undefined) {
    fail(`node-pty ${version}'s PtyFork is not the one this patch mends; check that it returns its object through an EscapableHandleScope, and update scripts/patch-node-pty.mjs`);
  }
  if (patched === source) return;
  const gyp = nodeGyp();
  if (gyp === undefined) fail('run this through npm (npm ci), which tells it where node-gyp is');
  fs.writeFileSync(sourcePath, patched);
  try {
    execFileSync(process.execPath, [gyp, 'rebuild'], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    // What node-pty runs after its own build: it leaves only the binaries in build/Release.
    execFileSync(process.execPath, [path.join(packageRoot, 'scripts', 'post-install.js')], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    fs.writeFileSync(sourcePath, source); // the next install tries again
    process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`);
    fail(`could not build node-pty ${version} again with its fork mended (node-gyp's output is above)`);
  }
  console.log(`dt: node-pty ${version} built again with its fork mended (scripts/patch-node-pty.mjs)`);
}

function fail(message) {
  console.error(`dt: ${message}`);
  process.exit(1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
