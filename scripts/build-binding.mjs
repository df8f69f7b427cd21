// Run by npm as dt's install step (package.json "install", and `npm rebuild`): builds dt's
// terminal binding (native/termios.cc, binding.gyp) into build/Release with node-gyp, as npm
// would by itself for a package with a binding.gyp, but quietly: node-gyp's and make's
// output is shown only when the build fails.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGyp } from './node-gyp.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const gyp = nodeGyp();
if (gyp === undefined) fail('run this through npm (npm ci, npm rebuild), which tells it where node-gyp is');
try {
  execFileSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
} catch (error) {
  process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`);
  fail('could not build the terminal binding, native/termios.cc (node-gyp\'s output is above); it needs Python 3, make and a C++ compiler');
}

function fail(message) {
  console.error(`dt: ${message}`);
  process.exit(1);
}
