// A text table that fits a terminal's width: columns aligned, long cells shortened with an
// ellipsis, every row at most `width` columns on screen. Pure: no I/O.

export const ELLIPSIS = '…';
/** Spaces between columns. */
const GAP = 2;
/** A shortened column keeps at least this many columns (or its title's width, if less). */
const MIN_SHORTENED_WIDTH = 8;

export interface Column {
  title: string;
  /** may be shortened to fit; which end is kept */
  shorten?: 'keep-start' | 'keep-end';
}

/**
 * The table as lines ending in '\n'. Without a width, nothing is shortened. Control
 * characters in cells are shown as '?', so a cell can never move the cursor.
 */
export function formatTable(columns: Column[], rows: string[][], width?: number): string {
  const cells = rows.map((row) => row.map(printable));
  const natural = columns.map((column, index) => Math.max(textWidth(column.title), ...cells.map((row) => textWidth(row[index] ?? ''))));
  const widths = width === undefined ? natural : fitWidths(columns, natural, width);
  const line = (row: string[]): string => {
    const text = row.map((cell, index) => {
      const shortened = shorten(cell, widths[index]!, columns[index]!.shorten ?? 'keep-start');
      return index === row.length - 1 ? shortened : padEnd(shortened, widths[index]!);
    }).join(' '.repeat(GAP)).trimEnd();
    // A terminal too narrow even for the shortest columns: cut the line itself.
    return width === undefined ? text : shorten(text, width, 'keep-start');
  };
  return [columns.map((column) => column.title), ...cells].map(line).join('\n') + '\n';
}

/** Column widths that add up to at most `width`, taken from the widest shortenable column first. */
function fitWidths(columns: Column[], natural: number[], width: number): number[] {
  const widths = [...natural];
  const minimum = columns.map((column, index) =>
    column.shorten ? Math.min(natural[index]!, Math.max(MIN_SHORTENED_WIDTH, textWidth(column.title))) : natural[index]!);
  let excess = widths.reduce((sum, each) => sum + each, 0) + GAP * (widths.length - 1) - width;
  while (excess > 0) {
    const candidates = widths.map((each, index) => index).filter((index) => widths[index]! > minimum[index]!);
    if (candidates.length === 0) break;
    candidates.sort((a, b) => widths[b]! - widths[a]!);
    const widest = candidates[0]!;
    const next = candidates[1] === undefined ? 0 : widths[candidates[1]]!;
    const cut = Math.min(excess, widths[widest]! - Math.max(minimum[widest]!, next) || 1);
    widths[widest]! -= cut;
    excess -= cut;
  }
  return widths;
}

/** The text in at most `width` columns: whole, or cut with an ellipsis at the end or the start. */
export function shorten(text: string, width: number, keep: 'keep-start' | 'keep-end'): string {
  if (textWidth(text) <= width) return text;
  if (width <= 0) return '';
  const characters = [...text];
  if (keep === 'keep-end') characters.reverse();
  let kept = '';
  let used = 0;
  for (const character of characters) {
    const each = characterWidth(character);
    if (used + each > width - 1) break;
    used += each;
    kept = keep === 'keep-end' ? character + kept : kept + character;
  }
  return keep === 'keep-end' ? ELLIPSIS + kept : kept + ELLIPSIS;
}

function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - textWidth(text)));
}

/** C0, DEL and C1 controls would move the cursor or start escape sequences. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Columns a string takes on a terminal. */
export function textWidth(text: string): number {
  let width = 0;
  for (const character of text) width += characterWidth(character);
  return width;
}

/** East Asian wide and emoji characters take two columns, combining marks none (as wcwidth). */
function characterWidth(character: string): number {
  const code = character.codePointAt(0)!;
  if ((code >= 0x300 && code <= 0x36f) || code === 0x200b || (code >= 0xfe00 && code <= 0xfe0f)) return 0;
  const wide =
    (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf) || (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1faff) || (code >= 0x20000 && code <= 0x3fffd);
  return wide ? 2 : 1;
}
