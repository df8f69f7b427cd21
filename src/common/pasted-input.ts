// What the user pastes, told from what they type: a terminal in bracketed paste mode (which a
// program turns on, and an attach restores) sends a paste between ESC [ 200 ~ and ESC [ 201 ~.
// The client: a detach or suspend key inside a paste is text, as tmux takes it: acting on it
// would cut the paste in two, losing its rest and leaving the program waiting for the paste's
// end. The master: a viewer that leaves in the middle of a paste (its terminal hung up, it was
// killed) never sends that end, which the master then sends for it. Pure: no I/O, so every
// split of a read can be tested.

const PASTE_START = Buffer.from('\x1b[200~', 'latin1');
/** What ends a bracketed paste. */
export const PASTE_END = Buffer.from('\x1b[201~', 'latin1');
const ESC = 0x1b;
/** Reads up to this long (typing) are looked at byte by byte for an ESC rather than searched. */
const SHORT_CHUNK_BYTES = 32;

export interface InputPart {
  /** true: pasted (its bytes are text, markers included); false: typed, where keys act */
  pasted: boolean;
  /** bytes of the read this part takes, from its start */
  length: number;
}

/**
 * Splits the terminal's reads into typed and pasted parts, across reads: a paste, and either
 * marker, may be cut anywhere by the reads that carry them.
 */
export class PastedInput {
  private pasting = false;
  /** How many bytes of the marker awaited (the start outside a paste, the end inside) ended the last read. */
  private matched = 0;

  /** Whether a paste was begun and has not ended. */
  get inPaste(): boolean {
    return this.pasting;
  }

  /** Follows a whole read, parts and all: whether a paste is under way after it is inPaste. */
  follow(chunk: Buffer): void {
    for (let rest = chunk; rest.length > 0;) rest = rest.subarray(this.nextPart(rest).length);
  }

  /** The first part of `chunk` (not empty): call again with what follows it. */
  nextPart(chunk: Buffer): InputPart {
    if (!this.pasting && this.matched === 0 && !mayHoldEscape(chunk)) return { pasted: false, length: chunk.length };
    const marker = this.pasting ? PASTE_END : PASTE_START;
    if (this.matched > 0) {
      const awaited = marker.subarray(this.matched);
      const seen = Math.min(awaited.length, chunk.length);
      if (chunk.subarray(0, seen).equals(awaited.subarray(0, seen))) {
        if (seen < awaited.length) {
          // Still not whole: the marker goes on in the next read.
          this.matched += seen;
          return { pasted: this.pasting, length: chunk.length };
        }
        // The marker's end: pasted text, whether it begins or ends the paste.
        this.matched = 0;
        this.pasting = !this.pasting;
        return { pasted: true, length: seen };
      }
      this.matched = 0;
    }
    const at = chunk.indexOf(marker);
    if (at > 0 && !this.pasting) return { pasted: false, length: at };
    if (at >= 0) {
      this.pasting = !this.pasting;
      // A start is its own part (what follows is looked at again); an end closes what came before it.
      return { pasted: true, length: this.pasting ? marker.length : at + marker.length };
    }
    this.matched = markerPrefixAtEnd(chunk, marker);
    return { pasted: this.pasting, length: chunk.length };
  }
}

function mayHoldEscape(chunk: Buffer): boolean {
  if (chunk.length > SHORT_CHUNK_BYTES) return chunk.includes(ESC);
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === ESC) return true;
  return false;
}

/** How many of the marker's first bytes the chunk ends with (fewer than all of them). */
function markerPrefixAtEnd(chunk: Buffer, marker: Buffer): number {
  for (let length = Math.min(marker.length - 1, chunk.length); length > 0; length--) {
    if (chunk.subarray(chunk.length - length).equals(marker.subarray(0, length))) return length;
  }
  return 0;
}
