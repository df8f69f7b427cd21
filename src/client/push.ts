// -p: copy standard input into the program, as if typed, then leave once all of it is in the
// program's terminal.

import fs from 'node:fs';
import { DtError, ExitCode, describeSystemError, sessionError } from '../common/errors.js';
import {
  FrameType, HelloFeature, ProtocolError, decodeInputWritten, encodeDataFrames, encodeFrame,
} from '../common/protocol.js';
import { keepConnectionAlive, openSession } from './session-connection.js';

const NOT_ALL_SENT = 'the session ended before all input was sent';

export async function push(socketPath: string): Promise<number> {
  refuseDirectoryInput();
  const { socket, decoder, features } = await openSession(socketPath, { features: HelloFeature.InputWritten });
  // A master that offers it says when our input is in the program's terminal. An older one
  // only takes it, and may still hold it (a redraw under way) when it closes the connection:
  // its end is all we learn.
  const confirms = (features & HelloFeature.InputWritten) !== 0;
  return new Promise<number>((resolve, reject) => {
    let inputEnded = false;
    let sentBytes = 0;
    /** Bytes of ours the master said are in the program's terminal. */
    let writtenBytes = -1;
    let failure: string | undefined;
    const allWritten = (): boolean => inputEnded && writtenBytes === sentBytes;
    // Until its first input comes (a quiet pipe, `tail -f`), the master would take it for idle.
    const stopKeepalive = keepConnectionAlive(socket);
    process.stdin.once('data', stopKeepalive);
    process.stdin.on('data', (chunk: Buffer) => {
      sentBytes += chunk.length;
      let accepted = true;
      for (const frame of encodeDataFrames(FrameType.Input, chunk)) accepted = socket.write(frame) && accepted;
      if (!accepted) {
        // The program reads slower than stdin arrives: wait rather than buffer without bound.
        process.stdin.pause();
        socket.once('drain', () => process.stdin.resume());
      }
    });
    // A standard input that fails (EBADF, EIO): what was read of it is sent, the rest never will be.
    let unreadable: DtError | undefined;
    process.stdin.on('error', (error: Error) => {
      unreadable ??= unreadableInput(error);
      stopKeepalive();
      socket.end();
    });
    process.stdin.on('end', () => {
      inputEnded = true;
      stopKeepalive();
      // Asked after the input, on the same connection: answered once all of it is written.
      if (confirms) socket.write(encodeFrame(FrameType.InputWritten));
      else socket.end();
    });
    const read = (chunk: Buffer): void => {
      if (!confirms || failure !== undefined) return;
      try {
        for (const frame of decoder.push(chunk)) {
          // The answer; or, as the program ends, how much of ours it got (before its status).
          if (frame.type === FrameType.InputWritten) writtenBytes = decodeInputWritten(frame.payload);
          // The master dropped us, or the session was terminated.
          if (frame.type === FrameType.Error) failure = `${frame.payload.toString('utf8')} (not all input was sent)`;
          // Anything else (the replies that kept the connection alive, the program's status) is not for -p.
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        failure = `${NOT_ALL_SENT} (unexpected reply: ${error.message})`;
        socket.destroy();
        return;
      }
      if (allWritten()) socket.end();
    };
    // What came with the master's hello.
    read(Buffer.alloc(0));
    socket.on('data', read);
    socket.on('error', () => { /* reported by 'close' */ });
    socket.on('close', () => {
      if (confirms ? allWritten() : inputEnded) resolve(ExitCode.Ok);
      else reject(unreadable ?? sessionError(socketPath, failure ?? NOT_ALL_SENT));
      process.stdin.destroy();
    });
  });
}

/**
 * A directory as standard input (`dt -p s < dir`) would read as empty: Node gives an input it
 * cannot read from an empty stream, and the push would succeed having sent nothing.
 */
function refuseDirectoryInput(): void {
  let isDirectory: boolean;
  try {
    isDirectory = fs.fstatSync(0).isDirectory();
  } catch {
    return; // EBADF, which Node does not leave at fd 0 (it opens /dev/null there): reading says what is wrong
  }
  if (isDirectory) throw unreadableInput({ code: 'EISDIR' });
}

function unreadableInput(error: unknown): DtError {
  return new DtError(`cannot read standard input: ${describeSystemError(error)}`, ExitCode.Failure, { cause: error });
}
