// node-pty's native binding, pty.node, which the master needs to start the program: where it
// is, and what dt says when it cannot be loaded. An install whose scripts did not run
// (`npm ci --ignore-scripts`) has node-pty's JavaScript but no binding. Only the master loads
// it (master/pty-fork.ts), a Node start after the creating command has returned: so the
// creating command looks for the file first (a few stats, some 0.04 ms; loading it would cost
// several times that, and the master loads it again anyway), and refuses to start a master
// that could not run the program. A binding that is there but does not load (another
// platform's, a damaged file) only the master finds: it reports it as any other reason the
// program could not be started (start-failure.ts).

import fs from 'node:fs';
import path from 'node:path';
import { DtError, ExitCode } from './errors.js';
import { NATIVE_BUILD_HINT, PACKAGE_ROOT } from './termios.js';

/**
 * Where node-pty 1.1's loader (lib/utils.js, loadNativeModule) looks for its binding, in its
 * order, relative to node-pty's directory: each of these in the package (an install) and in
 * lib/ (a bundled copy).
 */
const BINDING_DIRECTORIES = ['build/Release', 'build/Debug', `prebuilds/${process.platform}-${process.arch}`];

/** A dt without node-pty at all was not installed whole. */
const INSTALL_HINT = `install dt's dependencies with \`npm ci\` in ${PACKAGE_ROOT}`;
const NOT_INSTALLED = 'node-pty is not installed';

/** node-pty's directory, as require would find it from dt's bundle; undefined if none is installed. */
function nodePtyDirectory(): string | undefined {
  // The node_modules directories require searches for node-pty, in its order (no I/O).
  for (const modules of require.resolve.paths('node-pty') ?? []) {
    const directory = path.join(modules, 'node-pty');
    if (isThere(path.join(directory, 'package.json'))) return directory;
  }
  return undefined;
}

/**
 * Whether a file can be found, as require finds one: a path it cannot stat (ENOENT, ENOTDIR,
 * EACCES: ~/.node_modules under another user's HOME, say) is not there, and the search goes on.
 */
function isThere(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException).code === 'string') return false;
    throw error;
  }
}

/**
 * The binding file node-pty would load first, or why there is none: node-pty is not installed,
 * or was never built (its first place named).
 */
export function findPtyBinding(): { file: string } | { missing: string } {
  const directory = nodePtyDirectory();
  if (directory === undefined) return { missing: NOT_INSTALLED };
  for (const binding of BINDING_DIRECTORIES) {
    for (const base of [directory, path.join(directory, 'lib')]) {
      const file = path.join(base, binding, 'pty.node');
      if (isThere(file)) return { file };
    }
  }
  return { missing: `${path.join(directory, BINDING_DIRECTORIES[0]!, 'pty.node')}: No such file or directory` };
}

/**
 * A creating command's check, before anything is made for the session: a DtError that says
 * what is missing and how to build it, or nothing if there is a binding to load.
 */
export function checkPtyBinding(): void {
  const found = findPtyBinding();
  if ('missing' in found) {
    throw new DtError(`cannot start the session: node-pty cannot be loaded: ${found.missing}`, ExitCode.Failure, { hint: hintFor(found.missing) });
  }
}

/**
 * The master's reason, one line (the registry keeps it, and each client prints it after the
 * socket): `error` is what loading node-pty threw. node-pty's own message names only the
 * last place it looked, so the binding it found first is loaded again here to tell why.
 */
export function ptyBindingFailure(error: unknown): DtError {
  const found = findPtyBinding();
  let reason = 'missing' in found ? found.missing : (error as Error).message;
  if ('file' in found) {
    try {
      process.dlopen({ exports: {} }, found.file);
    } catch (loadError) {
      reason = (loadError as Error).message;
    }
  }
  // Node's own messages span lines ("was compiled against a different Node.js version ...").
  const oneLine = reason.split('\n').map((line) => line.trim()).filter(Boolean).join(' ');
  return new DtError(`cannot start the session: node-pty cannot be loaded: ${oneLine} (${hintFor(reason)})`, ExitCode.Failure, { cause: error });
}

function hintFor(reason: string): string {
  return reason === NOT_INSTALLED ? INSTALL_HINT : NATIVE_BUILD_HINT;
}
