// When the master's memory goes back. The output it relays lives in Buffers outside V8's
// heap, freed only by a full garbage collection, and V8 starts one for such memory only after
// about 64 MiB of it has piled up. Frames queued for slow viewers survive the quick young-
// generation collections, so a burst through 16 terminals left the master at 118 MiB for
// good. A full collection after every COLLECT_EVERY_BYTES of output keeps it near 65 MiB, at
// no throughput cost measurable in the benchmark (the heap is small: about 1 ms each).

import v8 from 'node:v8';
import vm from 'node:vm';

const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/** Returns what to call with the size of each piece of output. */
export function collectAfterOutput(): (bytes: number) => void {
  let gc = (globalThis as { gc?: () => void }).gc;
  let sinceCollection = 0;
  return (bytes) => {
    sinceCollection += bytes;
    if (sinceCollection < COLLECT_EVERY_BYTES) return;
    sinceCollection = 0;
    // A detached master is started with --expose-gc. A `dt -N` master was started by its
    // supervisor without it: it gets the collector the first time it needs one (a context
    // of 2 MiB, which only a master that relays bursts of output pays).
    gc ??= exposeGc();
    gc?.();
  };
}

function exposeGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined; // a Node without it: V8's own schedule applies
  }
}
