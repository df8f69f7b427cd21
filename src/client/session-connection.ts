// The client side of a connection to a master: connect, exchange hellos, and turn connection
// failures into the messages users see. Used by attach, push, kill and list.

import fs from 'node:fs';
import type net from 'node:net';
import { DtError, describeSystemError, sessionError } from '../common/errors.js';
import { FrameDecoder, FrameType, PROTOCOL_VERSION, decodeHello, encodeHello, type Frame } from '../common/protocol.js';
import { connectSocket } from '../common/socket.js';

/** A master answers at once; silence means something else owns the socket. */
const HELLO_REPLY_TIMEOUT_MS = 5_000;

export interface SessionConnection {
  socket: net.Socket;
  decoder: FrameDecoder;
  masterPid: number;
  /** frames that arrived together with the master's hello */
  early: Frame[];
}

export async function openSession(socketPath: string): Promise<SessionConnection> {
  let socket: net.Socket;
  try {
    socket = await connectSocket(socketPath);
  } catch (error) {
    throw connectError(socketPath, error);
  }
  socket.write(encodeHello({ version: PROTOCOL_VERSION, pid: 0 }));
  const decoder = new FrameDecoder();
  return new Promise((resolve, reject) => {
    const fail = (reason: string, cause?: unknown): void => {
      cleanup();
      socket.destroy();
      reject(sessionError(socketPath, reason, cause));
    };
    const timer = setTimeout(() => fail('no reply from the session (is this a dt socket?)'), HELLO_REPLY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        return fail('not a dt session (unexpected reply)', error);
      }
      const [first, ...early] = frames;
      if (first === undefined) return;
      if (first.type === FrameType.Error) return fail(first.payload.toString('utf8'));
      if (first.type !== FrameType.Hello) return fail('not a dt session (unexpected reply)');
      let hello;
      try {
        hello = decodeHello(first.payload);
      } catch (error) {
        return fail('not a dt session (unexpected reply)', error);
      }
      if (hello.version !== PROTOCOL_VERSION) {
        return fail(
          `the session's master (pid ${hello.pid}) speaks protocol version ${hello.version}, ` +
          `this dt speaks version ${PROTOCOL_VERSION}; attach with the dt that started the session`,
        );
      }
      cleanup();
      resolve({ socket, decoder, masterPid: hello.pid, early });
    };
    const onClose = (): void => fail('the session closed the connection');
    const onError = (error: Error): void => fail(describeSystemError(error), error);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

function connectError(socketPath: string, error: unknown): DtError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') {
    // connect(2) on a file that is not a socket is refused too; say which it is.
    if (!isSocketFile(socketPath)) return sessionError(socketPath, 'Not a socket', error);
    return sessionError(socketPath, 'the session is gone (nobody is listening on this socket)', error);
  }
  if (code === 'ENOTSOCK') return sessionError(socketPath, 'Not a socket', error);
  return sessionError(socketPath, describeSystemError(error), error);
}

function isSocketFile(socketPath: string): boolean {
  try {
    return fs.statSync(socketPath).isSocket();
  } catch {
    return false;
  }
}
