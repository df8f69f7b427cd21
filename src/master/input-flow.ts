// Input flow from clients to the program. While the program has more than
// INPUT_HIGH_WATER_BYTES it has not read, each client's further input is held in its
// connection, and the connection keeps being read (a detach, a resize, the client going away
// are still seen). Only a client holding that much again is no longer read until the program
// catches up.

import type { Connection } from './connection.js';

/** Input the program has not read yet beyond which clients' input is held. */
const INPUT_HIGH_WATER_BYTES = 1024 * 1024;

export interface InputSink {
  write(data: Buffer): void;
  readonly pendingInputLength: number;
}

export class InputFlow {
  constructor(private readonly program: InputSink) {}

  /** Input a client typed: to the program now, or held in its connection in its turn. */
  offer(connection: Connection, data: Buffer): void {
    if (connection.heldInput.length === 0 && this.program.pendingInputLength <= INPUT_HIGH_WATER_BYTES) {
      this.program.write(data);
      return;
    }
    connection.heldInput.append(data);
    if (connection.heldInput.length > INPUT_HIGH_WATER_BYTES) connection.socket.pause();
  }

  /** Hands a connection's held input to the program (which queues it) and reads the client again. */
  release(connection: Connection): void {
    if (connection.heldInput.length === 0) return;
    this.program.write(connection.heldInput.peek());
    connection.heldInput.clear();
    connection.socket.resume();
  }
}
