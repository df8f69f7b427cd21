// When the master's memory goes back. The output it relays lives in Buffers outside V8's
// heap, freed only by a full garbage collection, and V8 starts one for such memory only after
// about 64 MiB of it has piled up. Frames queued for slow viewers survive the quick young-
// generation collections, so a burst through 16 terminals left the master at 118 MiB for
// good. A full collection after every COLLECT_EVERY_BYTES of output keeps it near 65 MiB, at
// no throughput cost measurable in the benchmark (the heap is small: about 1 ms each).

const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/** Returns what to call with the size of each piece of output; a no-op without --expose-gc. */
export function collectAfterOutput(): (bytes: number) => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return () => {};
  let sinceCollection = 0;
  return (bytes) => {
    sinceCollection += bytes;
    if (sinceCollection < COLLECT_EVERY_BYTES) return;
    sinceCollection = 0;
    gc();
  };
}
