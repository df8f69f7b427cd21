// Every dt the tests start records its sessions under XDG_STATE_HOME, and keeps named
// sessions' sockets in DT_DIR. Tests that build their own environment get a sandbox's; this
// catches the rest, so no test writes into the registry of the user running the suite or
// into the machine's /tmp/dt-<uid>.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'dt-test-state-'));
  process.env['XDG_STATE_HOME'] = state;
  process.env['DT_DIR'] = path.join(state, 'sessions');
  return () => fs.rmSync(state, { recursive: true, force: true });
}
