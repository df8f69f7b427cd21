// One-shot requests to a running session: -k (signal the program).

import { ExitCode } from './errors.js';
import { encodeKill } from './protocol.js';
import { openSession } from './session.js';

export async function sendSignal(socketPath: string, signal: number): Promise<number> {
  const { socket } = await openSession(socketPath);
  socket.on('data', () => {});
  socket.on('error', () => { /* the master closing first is fine: the signal was sent */ });
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.end(encodeKill(signal));
  });
  return ExitCode.Ok;
}
