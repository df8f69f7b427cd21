// What the creating command tells a new master: shared by the client that starts it (launch)
// and the master that runs it.

import type { RedrawMethod } from './protocol.js';

export interface MasterSpec {
  /** absolute path */
  socket: string;
  command: string[];
  /** the session's default redraw method */
  redraw: RedrawMethod;
  /** -c/-A: do not read the program's output until the creating client has attached */
  holdUntilAttach: boolean;
  cwd: string;
  cols: number;
  rows: number;
}
