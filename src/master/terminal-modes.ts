// The terminal modes the program has asked for, followed in its output, so that a terminal
// attaching later can be put in them before the program redraws. Pure code over Buffers, no
// I/O: every split of every sequence can be tested.
//
// This follows modes, not the screen: no text, colours or cursor position are kept (the
// character sets are followed: a program that designated line drawing once and shifts into it
// with SO would draw letters on a terminal that attaches later). The
// parser is the usual VT500 one (ESC, CSI, OSC and string states; CAN and SUB abort, ESC
// restarts), reduced to what changes a tracked mode. 8-bit C1 controls are not recognised:
// in UTF-8 output those bytes are parts of characters. Memory is bounded whatever the
// program writes: parameters, titles and stacks have limits, and whatever exceeds one is
// skipped to its end. The bytes of a sequence still being read are kept (up to a limit), for
// a terminal that attaches between the two reads a sequence was cut across.

const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
/** SO and SI: shift to the G1 character set, and back to G0 */
const SHIFT_OUT = 0x0e;
const SHIFT_IN = 0x0f;

/** Numeric parameters kept for one CSI sequence; a sequence with more is skipped whole. */
const MAX_CSI_PARAMETERS = 16;
/** A parameter value above this is clamped (no tracked mode or flag is anywhere near it). */
const MAX_PARAMETER_VALUE = 99_999;
/** Longest window title kept, in bytes; a longer one is skipped (the previous title stays). */
export const MAX_TITLE_BYTES = 2048;
/** Titles saved by CSI 22 t, as xterm keeps them. */
const MAX_TITLE_STACK_DEPTH = 10;
/** Entries of a kitty keyboard flag stack; a push onto a full stack drops the oldest, as in kitty. */
const MAX_KEYBOARD_STACK_DEPTH = 16;
/** Bytes kept of the sequence being read (a title and its framing fit); a longer one is not replayed. */
const MAX_UNFINISHED_SEQUENCE_BYTES = MAX_TITLE_BYTES + 64;

const State = {
  Ground: 0,
  Escape: 1,
  EscapeIntermediate: 2,
  Csi: 3,
  CsiIgnore: 4,
  OscCommand: 5,
  OscTitle: 6,
  OscIgnore: 7,
  /** DCS, SOS, PM, APC: skipped to their end */
  String: 8,
} as const;
type State = (typeof State)[keyof typeof State];

/** Mouse reporting modes (only one is active at a time) and mouse encodings (likewise). */
const MOUSE_TRACKING_MODES = new Set([9, 1000, 1002, 1003]);
const MOUSE_ENCODING_MODES = new Set([1005, 1006, 1015, 1016]);
const ALTERNATE_SCREEN_MODES = new Set([47, 1047, 1049]);
/** Intermediates of the ESC sequences that designate G0 (94 characters) and G1 (94 or 96). */
const DESIGNATE_G0 = 0x28; // (
const DESIGNATE_G1 = 0x29; // )
const DESIGNATE_G1_96 = 0x2d; // -
/** A designation of ASCII (ESC ( B, ESC ) B), as a terminal starts with (see encodeDesignation). */
const ASCII_G0 = encodeDesignation(DESIGNATE_G0, 0, 0x42);
const ASCII_G1 = encodeDesignation(DESIGNATE_G1, 0, 0x42);

/** What the tracker knows; the defaults are a freshly reset terminal's. */
export interface TerminalModes {
  /** DECCKM (?1) */
  applicationCursorKeys: boolean;
  /** DECKPAM / DECKPNM (ESC = / ESC >) */
  applicationKeypad: boolean;
  /** DECAWM (?7) */
  autowrap: boolean;
  /** DECTCEM (?25) */
  cursorVisible: boolean;
  /** ?47, ?1047, ?1049 */
  alternateScreen: boolean;
  /** 0, or the active one of ?9 ?1000 ?1002 ?1003 */
  mouseTracking: number;
  /** 0, or the active one of ?1005 ?1006 ?1015 ?1016 */
  mouseEncoding: number;
  /** ?1004 */
  focusEvents: boolean;
  /** ?2004 */
  bracketedPaste: boolean;
  /** kitty keyboard flags in force on the normal and the alternate screen (each has its stack) */
  keyboardFlags: { normal: number; alternate: number };
  /** xterm modifyOtherKeys level (CSI > 4 ; n m) */
  modifyOtherKeys: number;
  /** DECSCUSR (CSI Ps SP q), 0 = the terminal's default */
  cursorStyle: number;
  /** the window title (OSC 0 or 2), as bytes; empty when never set */
  title: Buffer;
  /** The sequences (after ESC) that designated G0 and G1: '(B' (ASCII) unless changed, '(0' or ')0' line drawing */
  characterSets: { g0: string; g1: string };
  /** SO (shift out) in force: G1 prints, until SI */
  shiftedOut: boolean;
}

/** One screen's kitty keyboard flags: a stack, and the flags in force when it is empty. */
class KeyboardFlagStack {
  private entries: number[] = [];
  private base = 0;

  get current(): number {
    return this.entries.at(-1) ?? this.base;
  }

  push(flags: number): void {
    if (this.entries.length === MAX_KEYBOARD_STACK_DEPTH) this.entries.shift();
    this.entries.push(flags);
  }

  pop(count: number): void {
    this.entries.splice(Math.max(0, this.entries.length - count));
  }

  /** CSI = flags ; mode u: 1 sets, 2 adds, 3 removes the given flags */
  update(flags: number, mode: number): void {
    const current = this.current;
    const next = mode === 2 ? current | flags : mode === 3 ? current & ~flags : mode === 1 ? flags : current;
    if (this.entries.length > 0) this.entries[this.entries.length - 1] = next;
    else this.base = next;
  }

  reset(): void {
    this.entries = [];
    this.base = 0;
  }
}

export class TerminalModeTracker {
  private state: State = State.Ground;

  // Tracked modes (see TerminalModes).
  private applicationCursorKeys = false;
  private applicationKeypad = false;
  private autowrap = true;
  private cursorVisible = true;
  private alternateScreen = false;
  private mouseTracking = 0;
  private mouseEncoding = 0;
  private focusEvents = false;
  private bracketedPaste = false;
  private readonly normalKeyboard = new KeyboardFlagStack();
  private readonly alternateKeyboard = new KeyboardFlagStack();
  private modifyOtherKeys = 0;
  private cursorStyle = 0;
  private title: Buffer = Buffer.alloc(0);
  private titleStack: Buffer[] = [];
  /** G0 and G1, as encodeDesignation numbers; and which of them GL is */
  private g0 = ASCII_G0;
  private g1 = ASCII_G1;
  private shiftedOut = false;
  /** Set by a reset of the character sets, for feed to know where in its data it came */
  private characterSetsReset = false;

  // The ESC sequence being read: its intermediates (ESC ( B has one; ESC ( % 5 two).
  private escapeIntermediate = 0;
  private escapeSecondIntermediate = 0;
  private escapeUnusual = false;

  // The CSI sequence being read: private marker (<, =, >, ?), parameters, intermediate.
  private marker = 0;
  private readonly parameters = new Int32Array(MAX_CSI_PARAMETERS);
  private parameterCount = 0;
  /** the parameter being read; -1 while it has no digit (an omitted parameter) */
  private parameter = -1;
  private intermediate = 0;
  /** a byte the sequences we track never contain (':', a second marker or intermediate) */
  private unusual = false;

  /** The bytes of the sequence being read, from its ESC (see restoreSequence). */
  private readonly unfinished = Buffer.alloc(MAX_UNFINISHED_SEQUENCE_BYTES);
  private unfinishedLength = 0;
  private unfinishedTooLong = false;

  // The OSC sequence being read: its number, then (for a title) its text.
  private oscCommand = 0;
  private readonly titleBuffer = Buffer.alloc(MAX_TITLE_BYTES);
  private titleLength = 0;

  /** Reads the program's output; any split across calls is understood. */
  feed(data: Buffer): void {
    this.followShift(data, this.readSequences(data));
  }

  /** Follows the escape sequences of `data`; returns the index after its last reset of the character sets, or 0. */
  private readSequences(data: Buffer): number {
    let afterReset = 0;
    let index = 0;
    const end = data.length;
    while (index < end) {
      if (this.state === State.Ground) {
        const escape = findEscape(data, index);
        if (escape < 0) return afterReset;
        index = escape + 1;
        // Most sequences move the cursor or set colours: skip those without the state machine.
        const skipped = data[index] === 0x5b ? skipUntrackedCsi(data, index + 1) : -1;
        if (skipped >= 0) {
          index = skipped;
        } else {
          this.state = State.Escape;
          this.unfinishedLength = 0;
          this.keepUnfinished(ESC);
        }
        continue;
      }
      this.step(data[index]!);
      index += 1;
      if (this.characterSetsReset) {
        this.characterSetsReset = false;
        afterReset = index;
      }
    }
    return afterReset;
  }

  /**
   * SO and SI act wherever they are, in text or inside an escape sequence: the last one in
   * `data` is the one in force, unless a reset (from `afterReset` on) came after it. Found
   * natively, as the text itself is never looked at here; one inside a string sequence (a
   * title) would count too, though a terminal ignores it there: programs write none.
   */
  private followShift(data: Buffer, afterReset: number): void {
    const shiftOut = data.lastIndexOf(SHIFT_OUT);
    const shiftIn = data.lastIndexOf(SHIFT_IN);
    if (Math.max(shiftOut, shiftIn) >= afterReset) this.shiftedOut = shiftOut > shiftIn;
  }

  /** The modes as followed so far. */
  snapshot(): TerminalModes {
    return {
      applicationCursorKeys: this.applicationCursorKeys,
      applicationKeypad: this.applicationKeypad,
      autowrap: this.autowrap,
      cursorVisible: this.cursorVisible,
      alternateScreen: this.alternateScreen,
      mouseTracking: this.mouseTracking,
      mouseEncoding: this.mouseEncoding,
      focusEvents: this.focusEvents,
      bracketedPaste: this.bracketedPaste,
      keyboardFlags: { normal: this.normalKeyboard.current, alternate: this.alternateKeyboard.current },
      modifyOtherKeys: this.modifyOtherKeys,
      cursorStyle: this.cursorStyle,
      title: Buffer.from(this.title),
      characterSets: { g0: decodeDesignation(this.g0), g1: decodeDesignation(this.g1) },
      shiftedOut: this.shiftedOut,
    };
  }

  /**
   * The bytes a freshly reset terminal needs before the program's next output: those that put
   * it in the followed modes, then the beginning of a sequence the output read so far ends in
   * the middle of (so that its rest, arriving next, is not shown as text). Empty when the
   * program changed no mode and no sequence is unfinished. The alternate screen comes first
   * (after the normal screen's keyboard flags, which belong to that screen), because entering
   * it clears the screen the rest applies to.
   */
  restoreSequence(): Buffer {
    const modes = Buffer.from(restoreSequenceFor(this.snapshot()), 'latin1');
    if (this.state === State.Ground || this.unfinishedTooLong) return modes;
    return Buffer.concat([modes, this.unfinished.subarray(0, this.unfinishedLength)]);
  }

  private step(byte: number): void {
    this.readByte(byte);
    if (this.state === State.Ground) {
      this.unfinishedLength = 0;
    } else if (byte === ESC) {
      this.unfinishedLength = 0; // ESC ends whatever came before it and starts a new sequence
      this.keepUnfinished(byte);
    } else {
      this.keepUnfinished(byte);
    }
  }

  private keepUnfinished(byte: number): void {
    if (this.unfinishedLength === 0) this.unfinishedTooLong = false;
    if (this.unfinishedLength === MAX_UNFINISHED_SEQUENCE_BYTES) this.unfinishedTooLong = true;
    else this.unfinished[this.unfinishedLength++] = byte;
  }

  private readByte(byte: number): void {
    switch (this.state) {
      case State.Escape: return this.onEscape(byte);
      case State.EscapeIntermediate: return this.onEscapeIntermediate(byte);
      case State.Csi: return this.onCsi(byte);
      case State.CsiIgnore: return this.onCsiIgnore(byte);
      case State.OscCommand: return this.onOscCommand(byte);
      case State.OscTitle: return this.onOscTitle(byte);
      case State.OscIgnore: return this.onOscIgnore(byte);
      case State.String: return this.onString(byte);
      default: return;
    }
  }

  /** ESC restarts a sequence and CAN/SUB abort one in every state; true when `byte` was one of them. */
  private interrupts(byte: number): boolean {
    if (byte === ESC) {
      this.state = State.Escape;
      return true;
    }
    if (byte === CAN || byte === SUB) {
      this.state = State.Ground;
      return true;
    }
    return false;
  }

  private onEscape(byte: number): void {
    if (this.interrupts(byte) || byte < 0x20) return; // other controls act and leave the escape pending
    switch (byte) {
      case 0x5b: // [
        this.startCsi();
        return;
      case 0x5d: // ]
        this.oscCommand = 0;
        this.titleLength = 0;
        this.state = State.OscCommand;
        return;
      case 0x50: case 0x58: case 0x5e: case 0x5f: // P X ^ _: DCS, SOS, PM, APC
        this.state = State.String;
        return;
      case 0x63: // c: RIS
        this.resetAll();
        break;
      case 0x3d: // =: DECKPAM
        this.applicationKeypad = true;
        break;
      case 0x3e: // >: DECKPNM
        this.applicationKeypad = false;
        break;
      default:
        if (byte >= 0x20 && byte <= 0x2f) {
          this.escapeIntermediate = byte;
          this.escapeSecondIntermediate = 0;
          this.escapeUnusual = false;
          this.state = State.EscapeIntermediate; // ESC ( B, ESC # 8, ...
          return;
        }
    }
    this.state = State.Ground;
  }

  private onEscapeIntermediate(byte: number): void {
    if (this.interrupts(byte)) return;
    if (byte >= 0x20 && byte <= 0x2f) {
      if (this.escapeSecondIntermediate !== 0) this.escapeUnusual = true;
      this.escapeSecondIntermediate = byte;
    } else if (byte >= 0x30 && byte <= 0x7e) {
      this.state = State.Ground;
      if (!this.escapeUnusual) this.designate(this.escapeIntermediate, this.escapeSecondIntermediate, byte);
    }
  }

  /** ESC ( F designates G0, ESC ) F and ESC - F G1 (G2 and G3 are not followed: SO and SI never select them). */
  private designate(intermediate: number, second: number, final: number): void {
    if (intermediate === DESIGNATE_G0) this.g0 = encodeDesignation(intermediate, second, final);
    else if (intermediate === DESIGNATE_G1 || intermediate === DESIGNATE_G1_96) this.g1 = encodeDesignation(intermediate, second, final);
  }

  private startCsi(): void {
    this.marker = 0;
    this.parameterCount = 0;
    this.parameter = -1;
    this.intermediate = 0;
    this.unusual = false;
    this.state = State.Csi;
  }

  private onCsi(byte: number): void {
    if (byte >= 0x30 && byte <= 0x39) {
      if (this.intermediate !== 0) this.unusual = true;
      const value = (this.parameter < 0 ? 0 : this.parameter) * 10 + byte - 0x30;
      this.parameter = Math.min(value, MAX_PARAMETER_VALUE);
    } else if (byte === 0x3b) { // ;
      if (this.parameterCount === MAX_CSI_PARAMETERS - 1) {
        this.state = State.CsiIgnore;
        return;
      }
      this.parameters[this.parameterCount++] = this.parameter;
      this.parameter = -1;
    } else if (byte >= 0x3c && byte <= 0x3f) { // < = > ?
      if (this.marker === 0 && this.parameter < 0 && this.parameterCount === 0) this.marker = byte;
      else this.unusual = true;
    } else if (byte === 0x3a) { // : sub-parameters (colours): nothing tracked uses them
      this.unusual = true;
    } else if (byte >= 0x20 && byte <= 0x2f) {
      if (this.intermediate !== 0) this.unusual = true;
      this.intermediate = byte;
    } else if (byte >= 0x40 && byte <= 0x7e) {
      this.parameters[this.parameterCount++] = this.parameter;
      this.state = State.Ground;
      if (!this.unusual) this.dispatchCsi(byte);
    } else if (byte >= 0x80) {
      this.state = State.CsiIgnore;
    } else {
      this.interrupts(byte); // other controls (and DEL) act without ending the sequence
    }
  }

  private onCsiIgnore(byte: number): void {
    if (this.interrupts(byte)) return;
    if (byte >= 0x40 && byte <= 0x7e) this.state = State.Ground;
  }

  /** Parameter `index` of the CSI sequence just read, or `fallback` when omitted. */
  private parameterAt(index: number, fallback: number): number {
    const value = index < this.parameterCount ? this.parameters[index]! : -1;
    return value < 0 ? fallback : value;
  }

  private dispatchCsi(final: number): void {
    const { marker, intermediate } = this;
    if (intermediate === 0) {
      if (marker === 0x3f && (final === 0x68 || final === 0x6c)) { // ? h, ? l
        for (let index = 0; index < this.parameterCount; index++) this.setPrivateMode(this.parameterAt(index, 0), final === 0x68);
      } else if (final === 0x75) { // u: kitty keyboard flags
        this.onKeyboardFlags(marker);
      } else if (marker === 0x3e && final === 0x6d) { // > m: xterm key modifier options
        const resource = this.parameterAt(0, -1);
        if (resource === -1 && this.parameterCount === 1) this.modifyOtherKeys = 0; // every option reset
        else if (resource === 4) this.modifyOtherKeys = this.parameterAt(1, 0);
      } else if (marker === 0x3e && final === 0x6e) { // > n: key modifier option disabled
        if (this.parameterAt(0, -1) === 4) this.modifyOtherKeys = 0;
      } else if (marker === 0 && final === 0x74) { // t: window operations, of which the title stack
        this.onTitleStack(this.parameterAt(0, 0), this.parameterAt(1, 0));
      }
    } else if (marker === 0 && intermediate === 0x20 && final === 0x71) { // SP q: DECSCUSR
      const style = this.parameterAt(0, 0);
      if (style <= 6) this.cursorStyle = style;
    } else if (marker === 0 && intermediate === 0x21 && final === 0x70) { // ! p: DECSTR
      this.softReset();
    }
  }

  private setPrivateMode(mode: number, on: boolean): void {
    if (mode === 1) this.applicationCursorKeys = on;
    else if (mode === 7) this.autowrap = on;
    else if (mode === 25) this.cursorVisible = on;
    else if (mode === 1004) this.focusEvents = on;
    else if (mode === 2004) this.bracketedPaste = on;
    // As xterm does: turning any of them off turns mouse reporting (or the encoding) off.
    else if (MOUSE_TRACKING_MODES.has(mode)) this.mouseTracking = on ? mode : 0;
    else if (MOUSE_ENCODING_MODES.has(mode)) this.mouseEncoding = on ? mode : 0;
    else if (ALTERNATE_SCREEN_MODES.has(mode)) this.alternateScreen = on;
  }

  private onKeyboardFlags(marker: number): void {
    const stack = this.alternateScreen ? this.alternateKeyboard : this.normalKeyboard;
    if (marker === 0x3e) stack.push(this.parameterAt(0, 0)); // > flags u
    else if (marker === 0x3c) stack.pop(Math.max(1, this.parameterAt(0, 1))); // < count u
    else if (marker === 0x3d) stack.update(this.parameterAt(0, 0), this.parameterAt(1, 1)); // = flags ; mode u
  }

  /** CSI 22 ; Ps t saves the title, CSI 23 ; Ps t restores it (Ps 0 or 2: the window title). */
  private onTitleStack(operation: number, which: number): void {
    if (which !== 0 && which !== 2) return;
    if (operation === 22) {
      if (this.titleStack.length === MAX_TITLE_STACK_DEPTH) this.titleStack.shift();
      this.titleStack.push(this.title);
    } else if (operation === 23) {
      const saved = this.titleStack.pop();
      if (saved !== undefined) this.title = saved;
    }
  }

  private onOscCommand(byte: number): void {
    if (byte >= 0x30 && byte <= 0x39) {
      this.oscCommand = Math.min(this.oscCommand * 10 + byte - 0x30, MAX_PARAMETER_VALUE);
    } else if (byte === 0x3b) { // ;
      this.state = this.oscCommand === 0 || this.oscCommand === 2 ? State.OscTitle : State.OscIgnore;
    } else {
      this.state = State.OscIgnore;
      this.onOscIgnore(byte);
    }
  }

  private onOscTitle(byte: number): void {
    if (byte === BEL || byte === ESC) {
      // ESC ends the string whatever follows; ESC \ is the usual terminator.
      this.title = Buffer.from(this.titleBuffer.subarray(0, this.titleLength));
      this.state = byte === ESC ? State.Escape : State.Ground;
    } else if (byte === CAN || byte === SUB) {
      this.state = State.Ground;
    } else if (byte >= 0x20) {
      if (this.titleLength === MAX_TITLE_BYTES) this.state = State.OscIgnore;
      else this.titleBuffer[this.titleLength++] = byte;
    }
  }

  private onOscIgnore(byte: number): void {
    if (byte === BEL) this.state = State.Ground;
    else this.interrupts(byte);
  }

  private onString(byte: number): void {
    this.interrupts(byte); // ESC \ ends it (the backslash then ends the escape)
  }

  /** DECSTR, as xterm.js applies it: keys, autowrap, cursor, paste modes and character sets; not the screen or mouse. */
  private softReset(): void {
    this.g0 = ASCII_G0;
    this.g1 = ASCII_G1;
    this.shiftedOut = false;
    this.characterSetsReset = true;
    this.applicationCursorKeys = false;
    this.applicationKeypad = false;
    this.autowrap = true;
    this.cursorVisible = true;
    this.focusEvents = false;
    this.bracketedPaste = false;
    this.cursorStyle = 0;
  }

  /** RIS: every mode back to its default. The title stays, as in xterm. */
  private resetAll(): void {
    this.softReset();
    this.alternateScreen = false;
    this.mouseTracking = 0;
    this.mouseEncoding = 0;
    this.normalKeyboard.reset();
    this.alternateKeyboard.reset();
    this.modifyOtherKeys = 0;
  }
}

/** An ESC sequence designating a character set, as one number: intermediates and final byte. */
function encodeDesignation(intermediate: number, second: number, final: number): number {
  return intermediate | (second << 8) | (final << 16);
}

/** The bytes after ESC of an encodeDesignation number, as text: '(B', ')0', '(%5'. */
function decodeDesignation(designation: number): string {
  const second = (designation >> 8) & 0xff;
  return String.fromCharCode(designation & 0xff, ...(second === 0 ? [] : [second]), designation >> 16);
}

/** Bytes looked at one by one before handing the search for ESC to Buffer.indexOf. */
const SHORT_SCAN_BYTES = 32;

/**
 * The index of the next ESC from `start`, or -1. Screen updates have an escape every few bytes,
 * where a call into indexOf costs more than looking; long text is left to its native search.
 */
function findEscape(data: Buffer, start: number): number {
  const shortEnd = Math.min(data.length, start + SHORT_SCAN_BYTES);
  for (let index = start; index < shortEnd; index++) if (data[index] === ESC) return index;
  return shortEnd === data.length ? -1 : data.indexOf(ESC, shortEnd);
}

/** CSI final bytes of the sequences followed: h l u t q p n, and m with the > marker. */
const TRACKED_CSI_FINALS = new Set([0x68, 0x6c, 0x75, 0x74, 0x71, 0x70, 0x6e]);

/**
 * For a CSI sequence whose parameters start at `start`: when it lies whole in `data`, holds
 * nothing but parameter and intermediate bytes, and is not one the tracker follows, the index
 * after it; otherwise -1 (the state machine then reads it).
 */
function skipUntrackedCsi(data: Buffer, start: number): number {
  for (let index = start; index < data.length; index++) {
    const byte = data[index]!;
    if (byte >= 0x20 && byte <= 0x3f) continue;
    if (byte < 0x40 || byte > 0x7e) return -1;
    if (TRACKED_CSI_FINALS.has(byte) || (byte === 0x6d && data[start] === 0x3e)) return -1;
    return index + 1;
  }
  return -1;
}

/** The sequences that take a freshly reset terminal to `modes` (latin1 text: one char per byte). */
export function restoreSequenceFor(modes: TerminalModes): string {
  const { keyboardFlags } = modes;
  let out = '';
  if (modes.alternateScreen) {
    if (keyboardFlags.normal !== 0) out += `\x1b[>${keyboardFlags.normal}u`;
    out += '\x1b[?1049h';
  }
  const privateModes: string[] = [];
  if (modes.applicationCursorKeys) privateModes.push('1');
  if (modes.mouseTracking !== 0) privateModes.push(String(modes.mouseTracking));
  if (modes.mouseEncoding !== 0) privateModes.push(String(modes.mouseEncoding));
  if (modes.focusEvents) privateModes.push('1004');
  if (modes.bracketedPaste) privateModes.push('2004');
  if (privateModes.length > 0) out += `\x1b[?${privateModes.join(';')}h`;
  if (!modes.autowrap) out += '\x1b[?7l';
  if (!modes.cursorVisible) out += '\x1b[?25l';
  if (modes.applicationKeypad) out += '\x1b=';
  const flags = modes.alternateScreen ? keyboardFlags.alternate : keyboardFlags.normal;
  if (flags !== 0) out += `\x1b[>${flags}u`;
  if (modes.modifyOtherKeys !== 0) out += `\x1b[>4;${modes.modifyOtherKeys}m`;
  if (modes.cursorStyle !== 0) out += `\x1b[${modes.cursorStyle} q`;
  if (modes.title.length > 0) out += `\x1b]2;${modes.title.toString('latin1')}\x07`;
  const { g0, g1 } = modes.characterSets;
  if (g0 !== '(B') out += `\x1b${g0}`;
  // A terminal left by another program may have line drawing in G1: said whenever it is used.
  if (g1 !== ')B' || modes.shiftedOut) out += `\x1b${g1}`;
  if (modes.shiftedOut) out += '\x0e';
  return out;
}
