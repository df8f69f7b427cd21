// Where node-gyp is, for the install scripts: as npm tells its lifecycle scripts, or the one
// npm ships with. Undefined when neither is known (not run through npm).

import path from 'node:path';

export function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  if (process.env.npm_execpath) {
    return path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  }
  return undefined;
}
