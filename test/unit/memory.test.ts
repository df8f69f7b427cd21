// The master's collections free the Buffers a burst of output left: judged by the process's
// own count of memory in Buffers, not by the code under test.

import v8 from 'node:v8';
import vm from 'node:vm';
import { expect, it } from 'vitest';
import { collectAfterOutput } from '../../src/master/memory.js';

const MiB = 1024 * 1024;

it('at once after 8 MiB of output, Buffers that outlived young-generation collections (frames queued for slow viewers) are freed', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (options?: { type: 'minor' }) => void;
  const onOutput = collectAfterOutput();
  let frames: Buffer[] | undefined = Array.from({ length: 100 }, () => Buffer.allocUnsafeSlow(128 * 1024));
  // Two young-generation collections move them to the old generation, as frames kept a while are.
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  expect(frames.length).toBe(100);
  frames = undefined;
  const before = process.memoryUsage().arrayBuffers;
  expect(before).toBeGreaterThan(12 * MiB);
  // Checked at once: a collection the test process makes later by itself would free them too.
  onOutput(8 * MiB);
  expect(process.memoryUsage().arrayBuffers, `memory in Buffers, ${(before / MiB).toFixed(1)} MiB before`).toBeLessThan(before - 12 * MiB);
});

it('when input is held back after 1 MiB came, the young generation its intake filled (reads, frames, queue copies) is collected', () => {
  const collection = collectAfterOutput();
  // From an empty young generation: what survives a collection (the test runner's own
  // objects, tens of KiB) must not be mistaken for garbage left uncollected.
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as (options?: { type: 'minor' }) => void)({ type: 'minor' });
  // Young garbage, as 64 KiB reads and the frames and queue copies made of them are: no
  // collection comes for it by itself. Whether a collection came is seen in V8's young
  // generation: the Buffers one found dead may be freed later, by V8's sweeper.
  let reads: Buffer[] | undefined = Array.from({ length: 128 }, () => Buffer.allocUnsafeSlow(64 * 1024));
  let frames: { payload: number[] }[] | undefined = Array.from({ length: 4000 }, (_, index) => ({ payload: [index, index + 1] }));
  expect(reads.length + frames.length).toBe(4128);
  reads = undefined;
  frames = undefined;
  const youngBefore = youngGenerationBytes();
  collection(MiB / 2);
  collection.inputHeld();
  expect(youngGenerationBytes(), 'objects in the young generation, less than 1 MiB after the last collection').toBeGreaterThanOrEqual(youngBefore);
  collection(MiB / 2);
  collection.inputHeld();
  expect(youngGenerationBytes(), 'objects in the young generation, 1 MiB after the last collection').toBeLessThan(youngBefore / 2);
});

function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_used_size;
}
