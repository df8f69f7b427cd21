import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../src/master/byte-queue.js';

function bytes(start: number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, index) => (start + index) & 0xff));
}

describe('ByteQueue', () => {
  it('is empty at first', () => {
    const queue = new ByteQueue();
    expect(queue.length).toBe(0);
    expect(queue.peek()).toEqual(Buffer.alloc(0));
  });

  it('keeps order across appends, partial consumes and growth', () => {
    const queue = new ByteQueue();
    const expected: number[] = [];
    let next = 0;
    // Pieces of every size around the buffer's growth points, consumed a little at a time.
    for (const size of [1, 1, 4094, 1, 5000, 3, 70_000, 0, 2]) {
      const piece = bytes(next, size);
      next += size;
      queue.append(piece);
      expected.push(...piece);
      const taken = Math.floor(queue.length / 3);
      expect([...queue.peek().subarray(0, taken)]).toEqual(expected.splice(0, taken));
      queue.consume(taken);
      expect(queue.length).toBe(expected.length);
    }
    expect([...queue.peek()]).toEqual(expected);
  });

  it('reuses room at the front instead of growing', () => {
    const queue = new ByteQueue();
    queue.append(bytes(0, 4000));
    queue.consume(3990);
    queue.append(bytes(4000, 4000));
    expect([...queue.peek()]).toEqual([...bytes(3990, 4010)]);
  });

  it('holds a million one-byte appends as a million bytes, in order', () => {
    const queue = new ByteQueue();
    const one = Buffer.alloc(1);
    for (let index = 0; index < 1_000_000; index++) {
      one[0] = index & 0xff;
      queue.append(one);
    }
    expect(queue.length).toBe(1_000_000);
    const all = queue.peek();
    expect(all[0]).toBe(0);
    expect(all[999_999]).toBe(999_999 & 0xff);
    queue.consume(1_000_000);
    expect(queue.length).toBe(0);
  });

  it('consuming more than is queued empties it', () => {
    const queue = new ByteQueue();
    queue.append(bytes(0, 10));
    queue.consume(20);
    expect(queue.length).toBe(0);
    queue.append(bytes(7, 2));
    expect([...queue.peek()]).toEqual([7, 8]);
  });
});
