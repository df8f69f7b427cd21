import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES, FrameBlocks } from '../../src/master/frame-blocks.js';

describe('FrameBlocks', () => {
  it('hands out memory of the size asked, never any byte twice: frames written one after another all keep their bytes', () => {
    const blocks = new FrameBlocks();
    const frames: { frame: Buffer; fill: number }[] = [];
    // Sizes around a block's end: a frame that does not fit starts a new block, one larger than a block gets its own.
    const sizes = [5, 6, 65_541, 65_541, 65_541, 65_541, 1, BLOCK_BYTES, BLOCK_BYTES + 1, 4_000, 65_541, 65_541, 65_541, 7];
    sizes.forEach((size, index) => {
      const frame = blocks.take(size);
      expect(frame.length).toBe(size);
      frame.fill(index + 1);
      frames.push({ frame, fill: index + 1 });
    });
    for (const { frame, fill } of frames) expect(frame.every((byte) => byte === fill)).toBe(true);
  });

  it('cuts small frames from one block, and starts another only when the next frame does not fit', () => {
    const blocks = new FrameBlocks();
    const first = blocks.take(100);
    const second = blocks.take(200);
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset + 100);
    const rest = BLOCK_BYTES - 300;
    expect(blocks.take(rest).buffer).toBe(first.buffer);
    expect(blocks.take(1).buffer).not.toBe(first.buffer);
  });
});
