// The room all connections share for their unfinished frames. A frame may be up to
// MAX_FRAME_BYTES, and a connection holds its unfinished one until the rest comes: hundreds of
// connections that each stop in the middle of a large frame must not hold gigabytes. Beyond
// the room, a connection with an unfinished frame is not read until room is made, by frames
// completed or connections closed (an unfinished frame left alone is closed as idle).

import type { Connection } from './connection.js';

/** Bytes of unfinished frames held for all connections together; beyond it, a connection with one waits for room. */
export const MAX_PARTIAL_FRAME_BYTES = 8 * 1024 * 1024;

export class PartialFrameRoom {
  /** Bytes of unfinished frames counted for all connections. */
  private used = 0;
  private readonly waiting = new Set<Connection>();

  constructor(private readonly limitBytes = MAX_PARTIAL_FRAME_BYTES) {}

  get usedBytes(): number {
    return this.used;
  }

  /**
   * The connection holds an unfinished frame of this many bytes now (0 for none): counted in
   * place of what it held before. With one, beyond the room, it is held ('room'); once the
   * frames counted fit again, every connection held for room is let go.
   */
  count(connection: Connection, bytes: number): void {
    this.used += bytes - connection.countedPartialBytes;
    connection.countedPartialBytes = bytes;
    if (bytes > 0 && this.used > this.limitBytes) {
      connection.hold('room');
      this.waiting.add(connection);
    } else if (this.used <= this.limitBytes) {
      for (const waiting of this.waiting) waiting.letGo('room');
      this.waiting.clear();
    }
  }

  /** The connection is gone: it waits for nothing, and what it held makes room for the others. */
  leave(connection: Connection): void {
    this.waiting.delete(connection);
    this.count(connection, 0);
  }
}
