// What the terminal's output post-processing (OPOST) may change in what is written to it.
// Until stty has turned it off (raw-mode.ts), only bytes it passes as they are may reach the
// terminal: the user's own output flags are still in force (Node's raw mode keeps them, and
// adds ONLCR), whichever they are. Linux's line discipline changes \n (ONLCR, ONLRET), \r
// (OCRNL, ONOCR), \t (TAB3 expands it) and, with OLCUC, each byte its toupper() changes: a-z
// and most bytes above 0x7f (it takes them for Latin-1). The BSDs also drop ^D (ONOEOT). Every
// other byte passes unchanged whatever the flags, since they only count columns for it.

/** 1 for each byte some output flag changes. Every byte above 0x7f counts, whatever the system's table. */
const CHANGEABLE = new Uint8Array(256);
for (const byte of [0x04, 0x09, 0x0a, 0x0d]) CHANGEABLE[byte] = 1;
for (let byte = 0x61; byte <= 0x7a; byte++) CHANGEABLE[byte] = 1;
for (let byte = 0x80; byte <= 0xff; byte++) CHANGEABLE[byte] = 1;

/** The length of the longest start of `bytes` that output post-processing passes unchanged. */
export function unchangedStartLength(bytes: Uint8Array): number {
  for (let index = 0; index < bytes.length; index++) {
    if (CHANGEABLE[bytes[index]!] === 1) return index;
  }
  return bytes.length;
}
