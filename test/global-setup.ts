// Every dt the tests start records its sessions under XDG_STATE_HOME. Tests that build their
// own environment get a sandbox's; this catches the rest, so no test writes into the
// registry of the user running the suite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-test-state-'));
  process.env['XDG_STATE_HOME'] = state;
  return () => fs.rmSync(state, { recursive: true, force: true });
}
