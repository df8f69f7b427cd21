// Input flow from clients to the program, in bounded memory whatever the clients do.
//
// Input goes to the program's terminal at once while the program has at most
// INPUT_HIGH_WATER_BYTES it has not read. Beyond that, each client's further input is held in
// its connection, which keeps being read (a detach, a resize, the client going away are still
// seen) until it holds CLIENT_HELD_INPUT_BYTES, or all clients together hold
// TOTAL_HELD_INPUT_BYTES: then the connection is no longer read until the program catches up.
// Held input is handed to the program in the order clients started holding it, as the program
// makes room; the input of a client that left still arrives in its turn, and still counts.
// While the flow is paused (a resize redraw: some programs drop a key they read together with
// a size change), all input is held the same way, and follows once no pause is left.
// A client may ask to be told once all it sent is written to the program's terminal (dt -p,
// before it leaves): as soon as its held input has followed and the terminal has taken it.
// So input costs the master at most INPUT_HIGH_WATER_BYTES + CLIENT_HELD_INPUT_BYTES queued for
// the program and TOTAL_HELD_INPUT_BYTES held, plus what one read of each connection carries,
// and the garbage their intake made, which is collected when holding starts and when a client
// stops being read (memory.ts).

import type { Connection } from './connection.js';

/** Input the program has not read yet beyond which clients' input is held. */
export const INPUT_HIGH_WATER_BYTES = 1024 * 1024;
/** Input held for one client beyond which that client is no longer read. */
export const CLIENT_HELD_INPUT_BYTES = 1024 * 1024;
/** Input held for all clients together (those that left included) beyond which no client sending input is read. */
export const TOTAL_HELD_INPUT_BYTES = 4 * 1024 * 1024;

/** Why all input is held for a while: a resize redraw under way, or a viewer attaching (its resize may end one redraw and start another). */
export type InputPause = 'redraw' | 'attach';

export interface InputSink {
  /** Returns the position in the program's input after `data`. */
  write(data: Buffer): number;
  readonly pendingInputLength: number;
  /** Whether the input up to `position` is written. */
  isInputWritten(position: number): boolean;
  /** Calls `written` once the input up to `position` is written; never if some was lost. Returns how to stop waiting. */
  whenInputWritten(position: number, written: () => void): () => void;
}

export class InputFlow {
  /** Connections holding input, in the order they started holding it. */
  private readonly holders = new Set<Connection>();
  /** Connections no longer read because of the input they or all clients hold. */
  private readonly stopped = new Set<Connection>();
  private heldBytes = 0;
  private readonly pauses = new Set<InputPause>();

  /** onHolding: called when input starts to be held and when a client stops being read. */
  constructor(private readonly program: InputSink, private readonly onHolding: () => void = () => {}) {}

  /** Input held for all clients together. */
  get totalHeldBytes(): number {
    return this.heldBytes;
  }

  /** Input a client typed: to the program now, or held in its connection in its turn. */
  offer(connection: Connection, data: Buffer): void {
    connection.offeredInputBytes += data.length;
    if (this.pauses.size === 0 && connection.heldInput.length === 0 && this.program.pendingInputLength <= INPUT_HIGH_WATER_BYTES) {
      connection.inputEnd = this.program.write(data);
      return;
    }
    if (this.heldBytes === 0) this.onHolding();
    this.holders.add(connection);
    connection.heldInput.append(data);
    this.heldBytes += data.length;
    // The rest of the read that stopped a client still comes here: it is held, and counted once.
    if (this.stopped.has(connection)) return;
    if (connection.heldInput.length > CLIENT_HELD_INPUT_BYTES || this.heldBytes > TOTAL_HELD_INPUT_BYTES) {
      connection.hold('input');
      this.stopped.add(connection);
      this.onHolding();
    }
  }

  /** Holds all input, from every client, until resume(reason) and every other pause ended. */
  pause(reason: InputPause): void {
    this.pauses.add(reason);
  }

  /** Ends a pause: once none is left, held input follows as the program has room. */
  resume(reason: InputPause): void {
    if (this.pauses.delete(reason) && this.pauses.size === 0) this.release();
  }

  /** Whether every byte `connection` offered so far is written to the program's terminal. */
  isWritten(connection: Connection): boolean {
    return connection.heldInput.length === 0 && this.program.isInputWritten(connection.inputEnd);
  }

  /**
   * Calls `written` once every byte `connection` offered so far is written to the program's
   * terminal: its held input first, in its turn, then the terminal's queue up to its last
   * byte. Never if the program's terminal loses some of it (the program ended). One wait per
   * connection: a new one replaces it; leave() ends it.
   */
  whenWritten(connection: Connection, written: () => void): void {
    this.stopWaiting(connection);
    if (connection.heldInput.length > 0) connection.writtenOnRelease = written;
    else connection.stopWaitingForWrite = this.program.whenInputWritten(connection.inputEnd, written);
  }

  private stopWaiting(connection: Connection): void {
    connection.writtenOnRelease = undefined;
    connection.stopWaitingForWrite?.();
    connection.stopWaitingForWrite = undefined;
  }

  /** A client left: what it typed still reaches the program, in its turn; nobody waits for it. */
  leave(connection: Connection): void {
    this.stopWaiting(connection);
    this.stopped.delete(connection);
    this.release();
  }

  /** The program took its input: held input follows, oldest holder first, while the program has room. */
  release(): void {
    for (const connection of this.holders) {
      if (this.pauses.size > 0 || this.program.pendingInputLength > INPUT_HIGH_WATER_BYTES) break;
      connection.inputEnd = this.program.write(connection.heldInput.peek());
      this.heldBytes -= connection.heldInput.length;
      connection.heldInput.clear();
      this.holders.delete(connection);
      const written = connection.writtenOnRelease;
      if (written) this.whenWritten(connection, written);
    }
    if (this.heldBytes > TOTAL_HELD_INPUT_BYTES) return;
    for (const connection of this.stopped) {
      if (connection.heldInput.length > CLIENT_HELD_INPUT_BYTES) continue;
      this.stopped.delete(connection);
      connection.letGo('input');
    }
  }
}
