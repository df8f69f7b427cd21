// Bytes waiting to be written, in one growing buffer: appending many small pieces (a slow
// producer piped into `dt -p`, one byte per frame) costs their size, not an object each, and
// taking bytes off the front costs nothing.

const INITIAL_CAPACITY = 4096;

export class ByteQueue {
  private buffer = Buffer.alloc(0);
  private head = 0;
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  append(data: Buffer): void {
    if (this.tail + data.length > this.buffer.length) this.makeRoom(data.length);
    data.copy(this.buffer, this.tail);
    this.tail += data.length;
  }

  /** The queued bytes, oldest first; valid until the next append. */
  peek(): Buffer {
    return this.buffer.subarray(this.head, this.tail);
  }

  /** Takes `count` bytes off the front. */
  consume(count: number): void {
    this.head = Math.min(this.head + count, this.tail);
    if (this.head === this.tail) this.clear();
  }

  clear(): void {
    this.head = 0;
    this.tail = 0;
    // Give a large buffer back once it is empty; a small one is kept for the next burst.
    if (this.buffer.length > INITIAL_CAPACITY) this.buffer = Buffer.alloc(0);
  }

  private makeRoom(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.buffer.length && this.head > 0) {
      this.buffer.copy(this.buffer, 0, this.head, this.tail);
    } else {
      const grown = Buffer.allocUnsafe(Math.max(INITIAL_CAPACITY, needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, this.head, this.tail);
      this.buffer = grown;
    }
    this.tail = this.length;
    this.head = 0;
  }
}
