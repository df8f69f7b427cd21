// Run by npm after it has installed and built node-pty (package.json "postinstall"): mends two
// things in node-pty's native code (src/unix/pty.cc), then builds node-pty again.
//
// The fork. node-pty 1.1's PtyFork makes a handle for every word of the command and every
// environment variable inside a plain HandleScope, and returns an object made in that scope.
// When the scope closes, V8 frees the extra handle blocks it took, and the object is then read
// from freed memory. Past about 2,000 words and variables the returned handle sits in a freed
// block: the master crashes (SIGSEGV) now and then as it starts the program, and every time
// when malloc scribbles on freed memory (MALLOC_PERTURB_). The session is lost without a word.
// An EscapableHandleScope hands the object out of the scope as N-API means it to be
// (microsoft/node-pty#732); nothing else changes.
//
// The exit. The thread that reaps the program passes on only WTERMSIG of its wait status: that
// the program dumped core (WCOREDUMP), which a shell reports ("Segmentation fault (core
// dumped)") and an admin needs to know, is lost. The signal it passes carries it in its bit
// 0x80 (signal numbers are below 0x80; src/master/pty-fork.ts takes it apart again); nothing
// else changes. Both are changed only where the source is exactly as node-pty 1.1 ships it (or
// as this script left it): anything else is refused, and a source already mended is left alone,
// so running this again (npm rebuild) mends only what is not, an earlier mend included.

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

const SIGNAL_ONLY = '    if (WIFSIGNALED(stat_loc)) {\n      exit_event->signal_code = WTERMSIG(stat_loc);\n    }\n';
const SIGNAL_AND_CORE = '    if (WIFSIGNALED(stat_loc)) {\n      exit_event->signal_code = WTERMSIG(stat_loc) | (WCOREDUMP(stat_loc) ? 0x80 : 0);\n    }\n';
/** How the exit thread hands the signal to JavaScript, untouched: checked, so that the flag reaches it. */
const SIGNAL_PASSED = '               Napi::Number::New(env, exit_event->signal_code)});\n';
/** Where the signal is set: only in the one place patched. */
const SIGNAL_SET = 'exit_event->signal_code =';

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

/**
 * pty.cc with the exit thread's signal carrying the core-dump flag (0x80); the same text if it
 * already does; undefined if the exit is not reported as this patch was written for.
 */
export function patchExitSignal(source) {
  if (count(source, SIGNAL_PASSED) !== 1 || count(source, SIGNAL_SET) !== 1) return undefined;
  const shipped = count(source, SIGNAL_ONLY);
  const mended = count(source, SIGNAL_AND_CORE);
  if (shipped === 0 && mended === 1) return source;
  if (shipped !== 1 || mended !== 0) return undefined;
  return source.replace(SIGNAL_ONLY, SIGNAL_AND_CORE);
}

/** pty.cc with both mends (see the top of this file); undefined if either refuses the source. */
export function patchNodePty(source) {
  const forkMended = patchPtyFork(source);
  return forkMended === undefined ? undefined : patchExitSignal(forkMended);
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
  if (patchPtyFork(source) === undefined) {
    fail(`node-pty ${version}'s PtyFork is not the one this patch mends; check that it returns its object through an EscapableHandleScope, and update scripts/patch-node-pty.mjs`);
  }
  const patched = patchNodePty(source);
  if (patched === undefined) {
    fail(`node-pty ${version} does not report the program's exit as this patch expects; check that the signal it passes says whether the program dumped core (WCOREDUMP, in bit 0x80), and update scripts/patch-node-pty.mjs`);
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
    fail(`could not build node-pty ${version} again with its fork and exit mended (node-gyp's output is above)`);
  }
  console.log(`dt: node-pty ${version} built again with its fork and exit mended (scripts/patch-node-pty.mjs)`);
}

function fail(message) {
  console.error(`dt: ${message}`);
  process.exit(1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
