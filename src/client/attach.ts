// The attaching client: the user's terminal in raw mode, keys to the program, the program's
// bytes to the screen, and the detach and suspend keys.

import type { ClientOptions } from '../cli.js';
import { ExitCode, SIGNAL_EXIT_BASE, describeSystemError } from '../common/errors.js';
import { SUSPEND_KEY, findKey } from './keys.js';
import {
  FrameType, ProtocolError, RedrawMethod, decodeExit, encodeAttach, encodeDataFrames, encodeFrame, encodeResize,
  type ExitStatus, type Frame,
} from '../common/protocol.js';
import { openSession, type SessionConnection } from './session-connection.js';
import { onShutdown } from '../common/shutdown.js';
import { signalName, signalNumber } from '../common/signals.js';
import { enterRawMode, hasJobControl, printStatusLine, resetProgramModes, restoreTerminal, windowSize } from './terminal.js';

/** How long a detaching client waits for its last keystrokes to reach the master. */
const DETACH_FLUSH_TIMEOUT_MS = 1_000;

export function describeExit(status: ExitStatus): string {
  return status.signal > 0
    ? `[program killed by ${signalName(status.signal)}]`
    : `[program exited with status ${status.code}]`;
}

export function exitCodeOf(status: ExitStatus): number {
  return status.signal > 0 ? SIGNAL_EXIT_BASE + status.signal : status.code;
}

/** Attaches to the session; resolves with the client's exit code. */
export async function attach(socketPath: string, options: ClientOptions, session?: SessionConnection): Promise<number> {
  const { socket, decoder, early } = session ?? (await openSession(socketPath));
  const keys = { detach: options.detachKey, suspend: options.suspendKey && hasJobControl() ? SUSPEND_KEY : null };

  let done = false;
  enterRawMode();
  // Killed by a signal or an internal error while attached: leave the terminal usable.
  onShutdown(() => {
    if (done) return;
    restoreTerminal();
    resetProgramModes();
  });

  const sendAttach = (redraw: RedrawMethod): void => {
    socket.write(encodeAttach({ ...windowSize(), redraw, readOnly: options.readOnly }));
  };
  sendAttach(options.redraw);

  return new Promise<number>((resolve) => {
    let lastError: string | undefined;

    const leave = (code: number, message: string, flushed: Promise<void> = Promise.resolve()): void => {
      if (done) return;
      done = true;
      process.stdin.off('data', onInput);
      process.stdin.pause();
      process.stdout.off('resize', onResize);
      process.off('SIGCONT', onContinue);
      // Printed before output processing is back on, so that the line ends in exactly \r\n.
      printStatusLine(message);
      restoreTerminal();
      void flushed.then(() => resolve(code));
    };

    const onFrame = (frame: Frame): void => {
      switch (frame.type) {
        case FrameType.Output:
          show(frame.payload);
          return;
        case FrameType.Exit: {
          const status = decodeExit(frame.payload);
          leave(exitCodeOf(status), describeExit(status));
          return;
        }
        case FrameType.Error:
          lastError = frame.payload.toString('utf8');
          return;
        default:
          return; // frames this version does not use are ignored, for forward compatibility
      }
    };

    let waitingForDrain = false;
    const show = (bytes: Buffer): void => {
      if (process.stdout.write(bytes) || waitingForDrain) return;
      // The terminal is slower than the program: stop reading so the master slows down.
      waitingForDrain = true;
      socket.pause();
      process.stdout.once('drain', () => {
        waitingForDrain = false;
        socket.resume();
      });
    };

    /** Frames of one read, in order; consecutive output is joined into one terminal write. */
    const onFrames = (frames: Frame[]): void => {
      // A keystroke's echo: one output frame, shown as it is.
      if (frames.length === 1 && frames[0]!.type === FrameType.Output && !done) return show(frames[0]!.payload);
      let output: Buffer[] = [];
      const flushOutput = (): void => {
        if (output.length === 0) return;
        show(output.length === 1 ? output[0]! : Buffer.concat(output));
        output = [];
      };
      try {
        for (const frame of frames) {
          if (done) return;
          if (frame.type === FrameType.Output) {
            output.push(frame.payload);
            continue;
          }
          flushOutput();
          onFrame(frame);
        }
        flushOutput();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        sessionSentGarbage(error);
      }
    };

    const sessionSentGarbage = (error: Error): void => {
      socket.destroy();
      leave(ExitCode.Failure, `[dt: the session sent garbage: ${error.message}]`);
    };

    const onSocketData = (chunk: Buffer): void => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        sessionSentGarbage(error);
        return;
      }
      onFrames(frames);
    };

    const onInput = (chunk: Buffer): void => {
      let rest = chunk;
      while (rest.length > 0) {
        const key = findKey(rest, keys);
        const bytes = key === null ? rest : rest.subarray(0, key.index);
        if (bytes.length > 0 && !options.readOnly) {
          for (const frame of encodeDataFrames(FrameType.Input, bytes)) socket.write(frame);
        }
        if (key === null) return;
        if (key.action === 'detach') {
          detach();
          return;
        }
        suspend();
        rest = rest.subarray(key.index + key.length);
      }
    };

    const detach = (): void => {
      // Exit only once the last keystrokes are on their way to the master.
      const flushed = new Promise<void>((flush) => {
        socket.once('finish', flush);
        socket.once('close', flush);
        setTimeout(flush, DETACH_FLUSH_TIMEOUT_MS).unref();
      });
      socket.end(encodeFrame(FrameType.Detach));
      leave(ExitCode.Ok, '[detached]', flushed);
    };

    const suspend = (): void => {
      socket.write(encodeFrame(FrameType.Detach));
      // Leave the shell a usable screen, with its "Stopped" line at the bottom, as dtach does.
      printStatusLine('');
      restoreTerminal();
      process.kill(process.pid, 'SIGTSTP');
    };

    const onContinue = (): void => {
      if (done) return;
      enterRawMode();
      sendAttach(options.redraw);
    };

    /**
     * The terminal went away while we wrote to it or read from it, maybe before the hangup
     * signal is handled (EIO): a hangup, and there is nobody to tell. Standard output that is
     * a pipe whose reader left (EPIPE) ends us as SIGPIPE would, the terminal restored.
     */
    const onTerminalError = (error: NodeJS.ErrnoException): void => {
      if (done) return;
      const signal = error.code === 'EIO' ? 'SIGHUP' : error.code === 'EPIPE' ? 'SIGPIPE' : undefined;
      if (signal === undefined) {
        leave(ExitCode.Failure, `[dt: the terminal failed: ${describeSystemError(error)}]`);
        return;
      }
      done = true;
      socket.destroy();
      restoreTerminal(); // a hung-up terminal refuses: its error comes back here, and is ignored
      resolve(SIGNAL_EXIT_BASE + signalNumber(signal));
    };

    const onResize = (): void => {
      if (!options.readOnly) socket.write(encodeResize(windowSize()));
    };

    socket.on('data', onSocketData);
    socket.on('close', () => {
      if (lastError !== undefined) leave(ExitCode.Failure, `[dt: ${lastError}]`);
      else leave(ExitCode.Failure, '[dt: lost the session: its master went away without a status]');
    });
    socket.on('error', () => { /* reported by 'close' */ });
    process.stdin.on('error', onTerminalError);
    process.stdout.on('error', onTerminalError);
    process.stdin.on('data', onInput);
    process.stdin.resume();
    process.stdout.on('resize', onResize);
    process.on('SIGCONT', onContinue);
    onFrames(early);
  });
}
