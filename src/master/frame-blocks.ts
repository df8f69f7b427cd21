// Memory for the output frames the relay keeps for its viewers (what a socket did not take
// at once), cut one after another from blocks of BLOCK_BYTES and never reused: a frame is
// held by the viewers' backlogs and sockets for as long as they need it, and its block is
// freed by the garbage collector once no frame cut from it is held. Nothing is ever written
// over bytes a socket may still hold.
//
// Allocated one by one, frames (5 bytes to 64 KiB) came from the C library's heap, which
// gives memory back to the system only from its top: a burst left that heap 6 MiB larger
// for good. A block is larger than the allocator's mmap threshold (the master is started
// with it fixed, launch.ts), so it is mapped apart and unmapped as it is freed; and a frame
// costs a slice of a block, not an allocation.

import { HEADER_BYTES, MAX_DATA_CHUNK_BYTES } from '../common/protocol.js';

/**
 * Two full frames: over the allocator's mmap threshold (128 KiB), and small enough that the
 * frames a cut-off viewer's socket still holds (up to 192 KiB) keep at most three blocks.
 */
export const BLOCK_BYTES = 2 * (HEADER_BYTES + MAX_DATA_CHUNK_BYTES);

export class FrameBlocks {
  private block: Buffer | undefined;
  private used = 0;

  /** `bytes` of fresh memory for one frame, never handed out before. */
  readonly take = (bytes: number): Buffer => {
    if (this.block === undefined || this.used + bytes > this.block.length) {
      this.block = Buffer.allocUnsafeSlow(Math.max(BLOCK_BYTES, bytes));
      this.used = 0;
    }
    const frame = this.block.subarray(this.used, this.used + bytes);
    this.used += bytes;
    return frame;
  };
}
