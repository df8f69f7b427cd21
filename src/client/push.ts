// -p: copy standard input into the program, as if typed, then leave.

import { ExitCode, sessionError } from '../common/errors.js';
import { FrameType, encodeDataFrames } from '../common/protocol.js';
import { keepConnectionAlive, openSession } from './session-connection.js';

export async function push(socketPath: string): Promise<number> {
  const { socket } = await openSession(socketPath);
  return new Promise<number>((resolve, reject) => {
    let inputEnded = false;
    // Until its first input comes (a quiet pipe, `tail -f`), the master would take it for idle.
    const stopKeepalive = keepConnectionAlive(socket);
    process.stdin.once('data', stopKeepalive);
    process.stdin.on('data', (chunk: Buffer) => {
      let accepted = true;
      for (const frame of encodeDataFrames(FrameType.Input, chunk)) accepted = socket.write(frame) && accepted;
      if (!accepted) {
        // The program reads slower than stdin arrives: wait rather than buffer without bound.
        process.stdin.pause();
        socket.once('drain', () => process.stdin.resume());
      }
    });
    process.stdin.on('end', () => {
      inputEnded = true;
      stopKeepalive();
      socket.end();
    });
    // The master answers our end with its own; anything it says meanwhile is not for -p.
    socket.on('data', () => {});
    socket.on('error', () => { /* reported by 'close' */ });
    socket.on('close', () => {
      if (inputEnded) resolve(ExitCode.Ok);
      else reject(sessionError(socketPath, 'the session ended before all input was sent'));
      process.stdin.destroy();
    });
  });
}
