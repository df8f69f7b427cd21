// When the master's memory goes back. The output it relays lives in Buffers outside V8's
// heap, freed only by a full garbage collection, and V8 starts one for such memory only after
// about 64 MiB of it has piled up. Frames queued for slow viewers survive the quick young-
// generation collections, so a burst through 16 terminals left the master at 118 MiB for
// good. A full collection after every COLLECT_EVERY_BYTES of output keeps it near 65 MiB, at
// no throughput cost measurable in the benchmark (the heap is small: about 1 ms each).
//
// Once a burst is over, nothing else would collect: V8's memory reducer starts only when its
// heap has grown by 10 MB, and the master's grows by 2 or 3. Up to COLLECT_EVERY_BYTES of dead
// frames then stayed allocated for good, and the young generation at the size the burst grew
// it to (2 MiB, against 0.25 when idle). So once output has stopped for QUIET_BEFORE_COLLECT_MS,
// the master collects twice: the first frees the frames, and V8, seeing that it has allocated
// next to nothing for over 5 s, shrinks the young generation a step each time.
//
// The output relayed to viewers that keep up dies young, but the relay allocates so few
// objects that no young-generation collection comes by itself: every frame piled up until the
// next full collection, and those (about 5 ms each) cost a steady stream 8% of the master's
// CPU. So the collection after each COLLECT_EVERY_BYTES is first a young-generation one, which
// frees that output for a fraction of the cost; a full one follows only when more than
// FULL_COLLECTION_ABOVE_BYTES of Buffers are still there (frames queued for slow viewers, or
// kept long enough to age).
//
// Input the program does not read is held back (input-flow.ts), and while the master holds it
// back it reads next to nothing else: no collection came for the garbage the intake had made.
// Each byte held had come in a 64 KiB read, been joined into its frame across two reads, and
// been copied each time its queue grew: about 4 bytes of garbage for each. A `dt -p` into a
// program that reads nothing grew the master by 12 to 15 MiB for the 2.6 MiB it took. So when
// input starts to be held, and when a client stops being read, the young generation is
// collected (0.2 to 0.5 ms), if INPUT_HELD_COLLECT_AFTER_BYTES came since the last one: the
// same push now grows it by 6 to 7 MiB, and one into a program that keeps up costs a
// collection per MiB or so.
//
// Connections leave garbage too, and no output comes to collect it: a socket, its Connection
// and their buffers, about 5 KiB each once closed. Under a churn of them (a script running
// `dt -p` or `dt -l` in a loop, viewers attaching and leaving, a flood of connections that
// close at once) those open across a young-generation collection, which comes every few
// hundred of them, are moved to the old generation and die there: 1,000 `dt -p` in a row
// left an idle master 6.5 MiB larger for good, 5,000 of them 12 MiB. So each connection that
// leaves counts as CONNECTION_GARBAGE_BYTES of output, and a master quiet after a churn of
// them collects as after a burst.

import v8 from 'node:v8';
import vm from 'node:vm';

const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;
/** Memory in Buffers beyond which a young-generation collection is followed by a full one. */
const FULL_COLLECTION_ABOVE_BYTES = 2 * 1024 * 1024;
/** Output after which a master that has gone quiet collects; less (typing) is not worth it. */
const IDLE_COLLECT_AFTER_BYTES = 1024 * 1024;
/** V8 measures its allocation rate over the last 5 s: the burst must be out of that window. */
const QUIET_BEFORE_COLLECT_MS = 6_000;
/** How often a master that has output to give back checks whether output has stopped. */
const QUIET_CHECK_MS = 1_000;
/** Collections once quiet: one frees the dead frames, each shrinks the young generation a step. */
const IDLE_COLLECTIONS = 2;
/** What a connection that left counts as: about what it leaves to collect (200 of them make a MiB). */
const CONNECTION_GARBAGE_BYTES = 5 * 1024;

/**
 * Bytes read or written since the last young-generation collection beyond which input held
 * back is a reason for one: a program that reads, but slower than a push comes, has the
 * master stop reading its client once per MiB or so, and those stalls need no more than one.
 */
const INPUT_HELD_COLLECT_AFTER_BYTES = 1024 * 1024;

type Collector = (options?: { type: 'minor' }) => void;

let gc = (globalThis as { gc?: Collector }).gc;

function collect(type: 'minor' | 'major'): void {
  // A detached master is started with --expose-gc. A `dt -N` master was started by its
  // supervisor without it: it gets the collector the first time it needs one (a context
  // of 2 MiB, which only a master that relays bursts of output or holds input back pays).
  gc ??= exposeGc();
  // Only gc() without options is a full collection in Node 20's V8: with { type: 'major' }
  // it leaves the old generation's Buffers where they are (a burst's frames stayed, 36 MiB).
  if (type === 'minor') gc?.({ type });
  else gc?.();
}

export interface GarbageCollection {
  /** Called with the size of each read, piece of output and reply. */
  (bytes: number): void;
  /** Called when input starts to be held back and when a client stops being read. */
  inputHeld(): void;
  /** Called when a connection leaves, with the bytes of the unfinished frame it held. */
  connectionLeft(heldBytes: number): void;
}

/** Returns what to call with the size of each piece of output (and read), when input is held, and when a connection leaves. */
export function collectAfterOutput(): GarbageCollection {
  let sinceCollection = 0;
  let sinceYoungCollection = 0;
  const quiet = new QuietWatch(() => {
    for (let i = 0; i < IDLE_COLLECTIONS; i++) collect('major');
  });
  const collection = (bytes: number): void => {
    quiet.output(bytes);
    sinceCollection += bytes;
    sinceYoungCollection += bytes;
    if (sinceCollection < COLLECT_EVERY_BYTES) return;
    sinceCollection = 0;
    sinceYoungCollection = 0;
    // Young output first; everything only if Buffers remain.
    collect('minor');
    if (process.memoryUsage().arrayBuffers > FULL_COLLECTION_ABOVE_BYTES) collect('major');
  };
  const inputHeld = (): void => {
    // What the intake of the held input left (its reads, frames, queue copies) is all young.
    if (sinceYoungCollection < INPUT_HELD_COLLECT_AFTER_BYTES) return;
    sinceYoungCollection = 0;
    collect('minor');
  };
  // Its objects, and what it held (an unfinished frame, say), live until a full collection.
  const connectionLeft = (heldBytes: number): void => collection(CONNECTION_GARBAGE_BYTES + heldBytes);
  return Object.assign(collection, { inputHeld, connectionLeft });
}

/**
 * Calls onQuiet once output, after at least IDLE_COLLECT_AFTER_BYTES of it, has stopped for
 * QUIET_BEFORE_COLLECT_MS. One timer, only while such output is recent: an idle master
 * wakes for nothing, and a piece of output costs an addition.
 */
class QuietWatch {
  private bytes = 0;
  private outputSeen = false;
  private quietMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onQuiet: () => void) {}

  output(bytes: number): void {
    this.bytes += bytes;
    this.outputSeen = true;
    if (this.timer === undefined && this.bytes >= IDLE_COLLECT_AFTER_BYTES) {
      this.timer = setTimeout(this.check, QUIET_CHECK_MS);
      this.timer.unref(); // never what keeps a master alive
    }
  }

  private readonly check = (): void => {
    this.quietMs = this.outputSeen ? 0 : this.quietMs + QUIET_CHECK_MS;
    this.outputSeen = false;
    if (this.quietMs < QUIET_BEFORE_COLLECT_MS) {
      this.timer!.refresh();
      return;
    }
    this.timer = undefined;
    this.bytes = 0;
    this.quietMs = 0;
    this.onQuiet();
  };
}

function exposeGc(): Collector | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as Collector;
  } catch {
    return undefined; // a Node without it: V8's own schedule applies
  }
}
