// The wire protocol between a dt client and its master: frames of
// [type: u8][payload length: u32 big-endian][payload]. Pure code over Buffers, no I/O,
// so every split point can be tested. Of what client and master share (common/), this is the
// contract between them: a master outlives upgrades, so the two may be different dts.

import { SIGRTMAX } from './signals.js';

/** Bumped whenever a frame's meaning changes. Masters outlive upgrades, so both sides check. */
export const PROTOCOL_VERSION = 1;

/** Identifies a dt peer in the Hello frame, whose layout never changes across versions (fields are only added at its end). */
const HELLO_MAGIC = Buffer.from('dt\u0000\u0001', 'latin1');

export const HEADER_BYTES = 5;
/** Largest payload a peer may announce; checked on the header, before any payload is buffered. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Output and input are cut into frames of at most this size. */
export const MAX_DATA_CHUNK_BYTES = 64 * 1024;
/**
 * The master closes a connection that has said nothing for this long, unless it views or
 * writes; a client that waits (dt -w; dt -p before its input) asks for the session's
 * description more often. The test suite shortens it with DT_TEST_IDLE_CONNECTION_TIMEOUT_MS,
 * which both sides read.
 */
export const IDLE_CONNECTION_TIMEOUT_MS = Number(process.env['DT_TEST_IDLE_CONNECTION_TIMEOUT_MS']) || 60_000;

export const FrameType = {
  /** both ways, first frame: magic + protocol version + pid (the master's; 0 from a client) + HelloFeature bits */
  Hello: 1,
  /** client → master: become a viewer; window size, redraw method, flags */
  Attach: 2,
  /** client → master: keystrokes for the program */
  Input: 3,
  /** master → client: bytes the program wrote */
  Output: 4,
  /** client → master: the client's window size changed */
  Resize: 5,
  /** client → master: redraw the program's screen now */
  Redraw: 6,
  /** client → master: stop being a viewer (detach or suspend); the connection may attach again */
  Detach: 7,
  /** master → client: the program ended; exit code, signal, and ExitFlag bits (earlier masters send none) */
  Exit: 8,
  /** master → client: a reason the master is closing this connection */
  Error: 9,
  /** client → master: send a signal to the program's foreground process group */
  Kill: 10,
  /** client → master: ask for the session's description; master → client: JSON reply */
  Info: 11,
  /**
   * client → master: tell me once every byte of input I sent before this is written to the
   * program's terminal; master → client: it is, N bytes of yours (the count, u64 BE). Only
   * between peers whose hellos offer HelloFeature.InputWritten (older ones refuse the frame).
   */
  InputWritten: 12,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/** Unspecified: the session's default. New methods take the next number (old masters refuse them). */
export const RedrawMethod = { Unspecified: 0, None: 1, CtrlL: 2, Winch: 3, Resize: 4 } as const;
export type RedrawMethod = (typeof RedrawMethod)[keyof typeof RedrawMethod];
const LAST_REDRAW_METHOD = RedrawMethod.Resize;

export const REDRAW_METHOD_NAMES: Record<string, RedrawMethod> = {
  none: RedrawMethod.None,
  ctrl_l: RedrawMethod.CtrlL,
  winch: RedrawMethod.Winch,
  resize: RedrawMethod.Resize,
};

export interface Frame {
  type: FrameType;
  payload: Buffer;
}

export class ProtocolError extends Error {}

export function encodeFrame(type: FrameType, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_FRAME_BYTES) {
    throw new ProtocolError(`frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32BE(payload.length, 1);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Data frames (input, output) carrying `data`, or the concatenation of several chunks, split
 * so that no frame exceeds MAX_DATA_CHUNK_BYTES. Each byte is copied once, into its frame.
 */
export function encodeDataFrames(
  type: typeof FrameType.Input | typeof FrameType.Output,
  data: Buffer | readonly Buffer[],
): Buffer[] {
  const chunks = Buffer.isBuffer(data) ? [data] : data;
  let remaining = 0;
  for (const chunk of chunks) remaining += chunk.length;
  const frames: Buffer[] = [];
  let chunkIndex = 0;
  let chunkOffset = 0;
  while (remaining > 0) {
    const length = Math.min(remaining, MAX_DATA_CHUNK_BYTES);
    const frame = encodeDataFrameInPlace(Buffer.allocUnsafe(HEADER_BYTES + length), type, length);
    let filled = HEADER_BYTES;
    while (filled < frame.length) {
      const chunk = chunks[chunkIndex]!;
      const copied = chunk.copy(frame, filled, chunkOffset);
      filled += copied;
      chunkOffset += copied;
      if (chunkOffset === chunk.length) {
        chunkIndex += 1;
        chunkOffset = 0;
      }
    }
    frames.push(frame);
    remaining -= length;
  }
  return frames;
}

/**
 * One data frame carrying `data` (at most MAX_DATA_CHUNK_BYTES), written into `target`, which
 * must have room for it: a sender that reuses one buffer allocates nothing per frame. Returns
 * the frame, a view of `target`.
 */
export function encodeDataFrameInto(target: Buffer, type: typeof FrameType.Input | typeof FrameType.Output, data: Buffer): Buffer {
  if (data.length > MAX_DATA_CHUNK_BYTES) throw new RangeError(`a data frame carries at most ${MAX_DATA_CHUNK_BYTES} bytes, not ${data.length}`);
  if (target.length < HEADER_BYTES + data.length) throw new RangeError(`no room for a frame of ${data.length} bytes in ${target.length}`);
  data.copy(target, HEADER_BYTES);
  return encodeDataFrameInPlace(target, type, data.length);
}

/**
 * The data frame whose `length` bytes of data the caller has already put in `area`, after
 * HEADER_BYTES left free for its header: only the header is written. Returns the frame, a
 * view of `area`. A sender that gathers data where it will be sent copies it once.
 */
export function encodeDataFrameInPlace(area: Buffer, type: typeof FrameType.Input | typeof FrameType.Output, length: number): Buffer {
  if (length > MAX_DATA_CHUNK_BYTES) throw new RangeError(`a data frame carries at most ${MAX_DATA_CHUNK_BYTES} bytes, not ${length}`);
  if (area.length < HEADER_BYTES + length) throw new RangeError(`no room for a frame of ${length} bytes in ${area.length}`);
  area[0] = type;
  area.writeUInt32BE(length, 1);
  return area.subarray(0, HEADER_BYTES + length);
}

/**
 * Reassembles frames from a byte stream cut at arbitrary points. Throws ProtocolError on an
 * unknown type or an oversize length; the caller then drops the connection.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** The whole frames received so far, at most `maxFrames`: the rest, garbage or not, is looked at by the next push. */
  push(chunk: Buffer, maxFrames = Infinity): Frame[] {
    // A read that is one whole frame with nothing before it (a keystroke): taken as it lies.
    if (this.pendingBytes === 0 && maxFrames > 0 && isOneWholeFrame(chunk)) {
      return [{ type: chunk[0] as FrameType, payload: chunk.subarray(HEADER_BYTES) }];
    }
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.pendingBytes > 0 && frames.length < maxFrames) {
      // The type is checked from its first byte: a peer that sends garbage and then waits
      // must not leave us waiting for the rest of a header that will never make sense.
      const type = this.pending[0]![0]!;
      if (!KNOWN_TYPES.has(type)) throw new ProtocolError(`unknown frame type ${type}`);
      if (this.pendingBytes < HEADER_BYTES) break;
      const length = this.peek(HEADER_BYTES).readUInt32BE(1);
      if (length > MAX_FRAME_BYTES) {
        throw new ProtocolError(`frame of ${length} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
      }
      if (this.pendingBytes < HEADER_BYTES + length) break;
      const whole = this.take(HEADER_BYTES + length);
      frames.push({ type: type as FrameType, payload: whole.subarray(HEADER_BYTES) });
    }
    // An unfinished frame keeps its own bytes, not the whole read they came in (a few bytes
    // at the end of a 64 KiB read would otherwise pin all of it, uncounted).
    const first = this.pending[0];
    if (first !== undefined && first.length * 2 < first.buffer.byteLength) this.pending[0] = Buffer.from(first);
    return frames;
  }

  /**
   * Copies what is still held of `read` (an unfinished frame, frames not yet taken): for a
   * reader whose reads land in one reused buffer, before the next read overwrites it.
   */
  copyOutOf(read: Buffer): void {
    for (let i = 0; i < this.pending.length; i++) {
      const piece = this.pending[i]!;
      if (piece.buffer === read.buffer) this.pending[i] = Buffer.from(piece);
    }
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Hands the bytes of an unfinished frame over to another decoder, and forgets them. */
  takeBuffered(): Buffer {
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return bytes;
  }

  private peek(count: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= count) return first.subarray(0, count);
    // Only the bytes asked for are joined: the rest of the read they end in stays where it is.
    let pieces = 0;
    let before = 0; // bytes in the pieces before the last one joined
    while (before + this.pending[pieces]!.length < count) before += this.pending[pieces++]!.length;
    const last = this.pending[pieces]!;
    const joined = Buffer.concat(this.pending.slice(0, pieces + 1), count);
    const rest = last.subarray(count - before);
    if (rest.length > 0) this.pending.splice(0, pieces + 1, joined, rest);
    else this.pending.splice(0, pieces + 1, joined);
    return joined;
  }

  private take(count: number): Buffer {
    const whole = this.peek(count);
    const first = this.pending[0]!;
    if (first.length === count) this.pending.shift();
    else this.pending[0] = first.subarray(count);
    this.pendingBytes -= count;
    return whole;
  }
}

/** True when `bytes` is exactly one frame of a known type and an allowed length. */
function isOneWholeFrame(bytes: Buffer): boolean {
  if (bytes.length < HEADER_BYTES || !KNOWN_TYPES.has(bytes[0]!)) return false;
  const length = bytes.readUInt32BE(1);
  return length === bytes.length - HEADER_BYTES && length <= MAX_FRAME_BYTES;
}

/**
 * Decodes frames in the very buffer they were read into, for a reader that reuses one buffer
 * for every read: output is handed on as views of the read, not copied or joined, and only
 * other frames (short and rare) are copied out. For output only the order of the bytes
 * matters, not where frames end, so an output frame cut between two reads comes out in two
 * pieces, and output frames that follow one another in a read come out as one piece: their
 * payloads are moved together over the headers between them. decode() so modifies the read,
 * and the views it returns are valid as long as the read's bytes are. Throws ProtocolError as
 * FrameDecoder does; the caller then drops the connection.
 */
export class InPlaceFrameDecoder {
  /** The header of the next frame, which may come in pieces. */
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  /** Payload bytes of the current frame still to come; its type; a non-output frame's payload. */
  private payloadLeft = 0;
  private type: FrameType = FrameType.Output;
  private assembling: Buffer | undefined;

  decode(read: Buffer): Frame[] {
    // A read that is one whole output frame, from a frame's start (a keystroke's echo): its payload where it lies.
    if (this.headerBytes === 0 && this.payloadLeft === 0 && read[0] === FrameType.Output && isOneWholeFrame(read)) {
      return [{ type: FrameType.Output, payload: read.subarray(HEADER_BYTES) }];
    }
    const frames: Frame[] = [];
    const output = new OutputRun(read, frames);
    let at = 0;
    while (at < read.length) {
      if (this.payloadLeft === 0) {
        at = this.readHeader(read, at, frames, output);
        continue;
      }
      const count = Math.min(this.payloadLeft, read.length - at);
      this.payloadLeft -= count;
      if (this.type === FrameType.Output) {
        output.append(at, count);
      } else {
        const assembling = this.assembling!;
        read.copy(assembling, assembling.length - this.payloadLeft - count, at, at + count);
        if (this.payloadLeft === 0) this.finishFrame(frames, output);
      }
      at += count;
    }
    output.end();
    return frames;
  }

  /** Takes header bytes from `at`; returns where the payload begins. */
  private readHeader(read: Buffer, at: number, frames: Frame[], output: OutputRun): number {
    // Checked on the first byte: garbage must not leave us waiting for a header's rest.
    if (this.headerBytes === 0 && !KNOWN_TYPES.has(read[at]!)) throw new ProtocolError(`unknown frame type ${read[at]}`);
    const count = Math.min(HEADER_BYTES - this.headerBytes, read.length - at);
    read.copy(this.header, this.headerBytes, at, at + count);
    this.headerBytes += count;
    if (this.headerBytes < HEADER_BYTES) return at + count;
    this.headerBytes = 0;
    this.type = this.header[0]! as FrameType;
    this.payloadLeft = this.header.readUInt32BE(1);
    if (this.payloadLeft > MAX_FRAME_BYTES) {
      throw new ProtocolError(`frame of ${this.payloadLeft} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
    }
    if (this.type !== FrameType.Output) {
      this.assembling = Buffer.allocUnsafe(this.payloadLeft);
      if (this.payloadLeft === 0) this.finishFrame(frames, output);
    }
    return at + count;
  }

  private finishFrame(frames: Frame[], output: OutputRun): void {
    output.end();
    frames.push({ type: this.type, payload: this.assembling! });
    this.assembling = undefined;
  }
}

/** Output bytes of one read, gathered in place into one contiguous view. */
class OutputRun {
  private start = 0;
  private end_ = 0;

  constructor(private readonly read: Buffer, private readonly frames: Frame[]) {}

  /** Adds read[at, at + count), which comes after what the run has (a header may lie between). */
  append(at: number, count: number): void {
    if (this.end_ === this.start) {
      this.start = at;
    } else if (this.end_ !== at) {
      // Move the shorter side over the gap: the run forward, or the new bytes back.
      const gap = at - this.end_;
      if (this.end_ - this.start <= count) {
        this.read.copyWithin(this.start + gap, this.start, this.end_);
        this.start += gap;
      } else {
        this.read.copyWithin(this.end_, at, at + count);
        this.end_ += count;
        return;
      }
    }
    this.end_ = at + count;
  }

  /** Hands the run on as one output frame; a later run starts after it. */
  end(): void {
    if (this.end_ === this.start) return;
    this.frames.push({ type: FrameType.Output, payload: this.read.subarray(this.start, this.end_) });
    this.start = this.end_;
  }
}

// Payload helpers. Each decode validates the length it needs and throws ProtocolError.

function requireLength(payload: Buffer, length: number, what: string): void {
  if (payload.length < length) throw new ProtocolError(`${what} frame too short (${payload.length} bytes)`);
}

/**
 * What a peer does beyond its protocol version, as bits of its hello: added without changing
 * the version, which would shut out the clients of every session already running. A hello
 * without them (an older peer's) offers none, and a peer sends a frame a feature brings only to
 * a peer whose hello offers that feature.
 */
export const HelloFeature = {
  /**
   * InputWritten frames. A master answers a client's request once the input sent before it is
   * in the program's terminal, and, when the program ends, tells a client that offers the
   * feature how much of its input was, if all of it was. A client that offers it takes them.
   */
  InputWritten: 1,
} as const;

export interface Hello {
  version: number;
  /** master's pid; 0 from clients */
  pid: number;
  /** HelloFeature bits; 0 from a peer that has none */
  features?: number;
}

export function encodeHello(hello: Hello): Buffer {
  const features = hello.features ?? 0;
  // Older peers read the version and the pid and ignore what follows.
  const payload = Buffer.alloc(HELLO_MAGIC.length + (features === 0 ? 6 : 10));
  HELLO_MAGIC.copy(payload, 0);
  payload.writeUInt16BE(hello.version, HELLO_MAGIC.length);
  payload.writeUInt32BE(hello.pid, HELLO_MAGIC.length + 2);
  if (features !== 0) payload.writeUInt32BE(features, HELLO_MAGIC.length + 6);
  return encodeFrame(FrameType.Hello, payload);
}

export function decodeHello(payload: Buffer): Required<Hello> {
  if (payload.length < HELLO_MAGIC.length + 2 || !payload.subarray(0, HELLO_MAGIC.length).equals(HELLO_MAGIC)) {
    throw new ProtocolError('not a dt peer (bad hello)');
  }
  const version = payload.readUInt16BE(HELLO_MAGIC.length);
  const pid = payload.length >= HELLO_MAGIC.length + 6 ? payload.readUInt32BE(HELLO_MAGIC.length + 2) : 0;
  const features = payload.length >= HELLO_MAGIC.length + 10 ? payload.readUInt32BE(HELLO_MAGIC.length + 6) : 0;
  return { version, pid, features };
}

export interface WindowSize {
  cols: number;
  rows: number;
}

export interface Attach extends WindowSize {
  redraw: RedrawMethod;
  readOnly: boolean;
}

const ATTACH_FLAG_READ_ONLY = 1;

export function encodeAttach(attach: Attach): Buffer {
  const payload = Buffer.alloc(6);
  payload.writeUInt16BE(attach.cols, 0);
  payload.writeUInt16BE(attach.rows, 2);
  payload.writeUInt8(attach.redraw, 4);
  payload.writeUInt8(attach.readOnly ? ATTACH_FLAG_READ_ONLY : 0, 5);
  return encodeFrame(FrameType.Attach, payload);
}

export function decodeAttach(payload: Buffer): Attach {
  requireLength(payload, 6, 'attach');
  const redraw = payload.readUInt8(4);
  if (redraw > LAST_REDRAW_METHOD) throw new ProtocolError(`unknown redraw method ${redraw}`);
  return {
    ...decodeWindowSize(payload),
    redraw: redraw as RedrawMethod,
    readOnly: (payload.readUInt8(5) & ATTACH_FLAG_READ_ONLY) !== 0,
  };
}

export function encodeResize(size: WindowSize): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(size.cols, 0);
  payload.writeUInt16BE(size.rows, 2);
  return encodeFrame(FrameType.Resize, payload);
}

export function decodeWindowSize(payload: Buffer): WindowSize {
  requireLength(payload, 4, 'window size');
  return { cols: payload.readUInt16BE(0), rows: payload.readUInt16BE(2) };
}

export function encodeRedraw(method: RedrawMethod): Buffer {
  return encodeFrame(FrameType.Redraw, Buffer.from([method]));
}

export function decodeRedraw(payload: Buffer): RedrawMethod {
  requireLength(payload, 1, 'redraw');
  const method = payload.readUInt8(0);
  if (method > LAST_REDRAW_METHOD) throw new ProtocolError(`unknown redraw method ${method}`);
  return method as RedrawMethod;
}

export interface ExitStatus {
  /** exit code when the program exited, else 0 */
  code: number;
  /** signal number when the program was killed by a signal, else 0 */
  signal: number;
  /** killed by a signal, the program dumped core; absent otherwise */
  coreDumped?: true;
}

/**
 * The exit frame's third byte. Every dt reads the code and the signal and ignores what
 * follows them, so the byte needs no new protocol version or hello feature: an earlier client
 * says only `killed by SIGSEGV`, and an earlier master sends no flags. Bits not known here are
 * ignored, for a later master's sake.
 */
export const ExitFlag = { CoreDumped: 0x01 } as const;

export function encodeExit(status: ExitStatus): Buffer {
  const flags = status.coreDumped ? ExitFlag.CoreDumped : 0;
  return encodeFrame(FrameType.Exit, Buffer.from([status.code & 0xff, status.signal & 0xff, flags]));
}

export function decodeExit(payload: Buffer): ExitStatus {
  requireLength(payload, 2, 'exit');
  const flags = payload.length > 2 ? payload.readUInt8(2) : 0;
  const status: ExitStatus = { code: payload.readUInt8(0), signal: payload.readUInt8(1) };
  return flags & ExitFlag.CoreDumped ? { ...status, coreDumped: true } : status;
}

export function encodeKill(signal: number): Buffer {
  return encodeFrame(FrameType.Kill, Buffer.from([signal & 0xff]));
}

/** A signal number, up to SIGRTMAX (0 only checks, as in kill(2)). */
export function decodeKill(payload: Buffer): number {
  requireLength(payload, 1, 'kill');
  const signal = payload.readUInt8(0);
  if (signal > SIGRTMAX) throw new ProtocolError(`kill frame: ${signal} is not a signal`);
  return signal;
}

/** The master's InputWritten frame: this many bytes of the client's input are in the program's terminal. */
export function encodeInputWritten(bytes: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeBigUInt64BE(BigInt(bytes));
  return encodeFrame(FrameType.InputWritten, payload);
}

export function decodeInputWritten(payload: Buffer): number {
  requireLength(payload, 8, 'input written');
  return Number(payload.readBigUInt64BE(0));
}

export function encodeText(type: typeof FrameType.Error | typeof FrameType.Info, text: string): Buffer {
  return encodeFrame(type, Buffer.from(text, 'utf8'));
}
