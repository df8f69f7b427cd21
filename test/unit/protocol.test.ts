// The wire protocol is pure Buffer code: every frame helper must round-trip, and the
// decoder must give the same frames however the byte stream is cut.

import { describe, expect, it } from 'vitest';
import {
  FrameDecoder, FrameType, HEADER_BYTES, MAX_DATA_CHUNK_BYTES, MAX_FRAME_BYTES, HelloFeature, PROTOCOL_VERSION,
  ProtocolError, RedrawMethod,
  decodeAttach, decodeExit, decodeHello, decodeKill, decodeRedraw, decodeWindowSize,
  encodeAttach, encodeDataFrameInto, encodeDataFrames, encodeExit, encodeFrame, encodeHello, encodeKill, encodeRedraw,
  encodeResize, encodeText, type Frame,
} from '../../src/common/protocol.js';

/** Frames as plain data, so that a mismatch shows the type and the payload's hex. */
function describeFrames(frames: Frame[]): { type: number; hex: string }[] {
  return frames.map((frame) => ({ type: frame.type, hex: frame.payload.toString('hex') }));
}

/** Decodes one encoded frame and insists that it is the only thing in the buffer. */
function decodeOne(encoded: Buffer): Frame {
  const decoder = new FrameDecoder();
  const frames = decoder.push(encoded);
  expect(frames).toHaveLength(1);
  expect(decoder.bufferedBytes).toBe(0);
  return frames[0]!;
}

/** Deterministic bytes that are not all alike, so that lost, repeated or swapped pieces show. */
function patternedBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + (i >> 8) * 13) & 0xff;
  return bytes;
}

const ALL_REDRAW_METHODS = [RedrawMethod.Unspecified, RedrawMethod.None, RedrawMethod.CtrlL, RedrawMethod.Winch, RedrawMethod.Resize];

describe('frame header', () => {
  it('is [type][length u32 big-endian][payload], whatever the platform byte order', () => {
    expect(encodeFrame(FrameType.Input, Buffer.from('hi'))).toEqual(Buffer.from([3, 0, 0, 0, 2, 0x68, 0x69]));
    // A length whose four bytes all differ proves the byte order.
    const encoded = encodeFrame(FrameType.Output, Buffer.alloc(0x010203));
    expect([...encoded.subarray(0, HEADER_BYTES)]).toEqual([FrameType.Output, 0x00, 0x01, 0x02, 0x03]);
    expect(encoded.length).toBe(HEADER_BYTES + 0x010203);
  });

  it('encodes a frame with no payload as the 5-byte header alone', () => {
    expect(encodeFrame(FrameType.Detach)).toEqual(Buffer.from([FrameType.Detach, 0, 0, 0, 0]));
    const frame = decodeOne(encodeFrame(FrameType.Detach));
    expect(frame.type).toBe(FrameType.Detach);
    expect(frame.payload.length).toBe(0);
  });

  it('refuses to encode a payload larger than MAX_FRAME_BYTES but accepts exactly the limit', () => {
    expect(() => encodeFrame(FrameType.Output, Buffer.alloc(MAX_FRAME_BYTES + 1))).toThrow(ProtocolError);
    const atLimit = encodeFrame(FrameType.Output, patternedBytes(MAX_FRAME_BYTES));
    expect(decodeOne(atLimit).payload.equals(patternedBytes(MAX_FRAME_BYTES))).toBe(true);
  });
});

describe('payload helpers round-trip', () => {
  it('hello carries the magic, the version and the pid', () => {
    const encoded = encodeHello({ version: PROTOCOL_VERSION, pid: 0x12345678 });
    // magic "dt\0\1", version u16 BE, pid u32 BE
    expect(encoded.toString('hex')).toBe('010000000a' + '64740001' + '0001' + '12345678');
    const frame = decodeOne(encoded);
    expect(frame.type).toBe(FrameType.Hello);
    expect(decodeHello(frame.payload)).toEqual({ version: PROTOCOL_VERSION, pid: 0x12345678, features: 0 });
    expect(decodeHello(decodeOne(encodeHello({ version: 513, pid: 0 })).payload)).toEqual({ version: 513, pid: 0, features: 0 });
  });

  it('hello without a pid (magic + version only) reports pid 0', () => {
    expect(decodeHello(Buffer.from('6474000100070000', 'hex').subarray(0, 6))).toEqual({ version: 7, pid: 0, features: 0 });
  });

  it('a master\'s hello carries its features after the pid, where older peers read nothing', () => {
    const encoded = encodeHello({ version: PROTOCOL_VERSION, pid: 0x12345678, features: HelloFeature.InputWritten });
    // magic, version, pid as before, then the features u32 BE
    expect(encoded.toString('hex')).toBe('010000000e' + '64740001' + '0001' + '12345678' + '00000001');
    expect(decodeHello(decodeOne(encoded).payload)).toEqual({ version: PROTOCOL_VERSION, pid: 0x12345678, features: HelloFeature.InputWritten });
    // An older peer's hello, without them: none offered.
    expect(decodeHello(decodeOne(encodeHello({ version: PROTOCOL_VERSION, pid: 7 })).payload).features).toBe(0);
  });

  it.each([
    ['wrong magic', Buffer.from('6475000100010000002a', 'hex')],
    ['magic of another version', Buffer.from('6474000200010000002a', 'hex')],
    ['empty payload', Buffer.alloc(0)],
    ['magic without a version', Buffer.from('6474000100', 'hex')],
  ])('hello with %s is rejected', (_what, payload) => {
    expect(() => decodeHello(payload)).toThrow(ProtocolError);
  });

  const attachCases = ALL_REDRAW_METHODS.flatMap((redraw) =>
    [false, true].map((readOnly) => ({ cols: 80 + redraw, rows: 24 + redraw, redraw, readOnly })));
  it.each(attachCases)('attach %o', (attach) => {
    const frame = decodeOne(encodeAttach(attach));
    expect(frame.type).toBe(FrameType.Attach);
    expect(frame.payload.length).toBe(6);
    expect(frame.payload[5]).toBe(attach.readOnly ? 1 : 0);
    expect(decodeAttach(frame.payload)).toEqual(attach);
  });

  it('attach keeps the full u16 range of window sizes', () => {
    const attach = { cols: 65535, rows: 256, redraw: RedrawMethod.Winch, readOnly: false };
    expect(decodeAttach(decodeOne(encodeAttach(attach)).payload)).toEqual(attach);
  });

  it('attach reads only the read-only bit of the flags byte', () => {
    expect(decodeAttach(Buffer.from([0, 80, 0, 24, 0, 0xfe])).readOnly).toBe(false);
    expect(decodeAttach(Buffer.from([0, 80, 0, 24, 0, 0x01])).readOnly).toBe(true);
  });

  it('resize', () => {
    const encoded = encodeResize({ cols: 300, rows: 2 });
    expect(encoded).toEqual(Buffer.from([FrameType.Resize, 0, 0, 0, 4, 0x01, 0x2c, 0x00, 0x02]));
    expect(decodeWindowSize(decodeOne(encoded).payload)).toEqual({ cols: 300, rows: 2 });
  });

  it.each(ALL_REDRAW_METHODS)('redraw method %i', (method) => {
    const frame = decodeOne(encodeRedraw(method));
    expect(frame.type).toBe(FrameType.Redraw);
    expect(decodeRedraw(frame.payload)).toBe(method);
  });

  it.each([
    { code: 0, signal: 0 },
    { code: 3, signal: 0 },
    { code: 255, signal: 0 },
    { code: 0, signal: 9 },
    { code: 0, signal: 64 },
    { code: 0, signal: 11, coreDumped: true as const },
  ])('exit %o', (status) => {
    const frame = decodeOne(encodeExit(status));
    expect(frame.type).toBe(FrameType.Exit);
    expect(decodeExit(frame.payload)).toEqual(status);
  });

  it('exit: code and signal first, as every earlier dt reads them, then a byte of flags it ignores', () => {
    expect(decodeOne(encodeExit({ code: 0, signal: 11, coreDumped: true })).payload).toEqual(Buffer.from([0, 11, 1]));
    expect(decodeOne(encodeExit({ code: 3, signal: 0 })).payload).toEqual(Buffer.from([3, 0, 0]));
    // An earlier master's frame: no flags.
    expect(decodeExit(Buffer.from([0, 11]))).toEqual({ code: 0, signal: 11 });
    // A later master's flags this dt does not know, and more bytes after them: ignored.
    expect(decodeExit(Buffer.from([0, 6, 0xfe, 7]))).toEqual({ code: 0, signal: 6 });
    expect(decodeExit(Buffer.from([0, 6, 0xff]))).toEqual({ code: 0, signal: 6, coreDumped: true });
  });

  it.each([0, 1, 2, 15, 28, 64])('kill signal %i', (signal) => {
    const frame = decodeOne(encodeKill(signal));
    expect(frame.type).toBe(FrameType.Kill);
    expect(decodeKill(frame.payload)).toBe(signal);
  });

  it.each([FrameType.Error, FrameType.Info])('text frame of type %i is UTF-8', (type) => {
    const text = 'session gone — café ✓';
    const frame = decodeOne(encodeText(type, text));
    expect(frame.type).toBe(type);
    expect(frame.payload.toString('utf8')).toBe(text);
    expect(frame.payload.equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it.each([FrameType.Input, FrameType.Output])('data frame of type %i keeps every byte value', (type) => {
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const frames = encodeDataFrames(type, allBytes);
    expect(frames).toHaveLength(1);
    const frame = decodeOne(frames[0]!);
    expect(frame.type).toBe(type);
    expect(frame.payload.equals(allBytes)).toBe(true);
  });
});

describe('encodeDataFrameInto', () => {
  it.each([0, 1, 2, 4096, MAX_DATA_CHUNK_BYTES])('builds the same %i-byte frame as encodeFrame, in the buffer it is given', (length) => {
    const data = patternedBytes(length);
    const target = Buffer.alloc(HEADER_BYTES + MAX_DATA_CHUNK_BYTES, 0xee);
    const frame = encodeDataFrameInto(target, FrameType.Input, data);
    expect(frame.equals(encodeFrame(FrameType.Input, data))).toBe(true);
    expect(frame.buffer).toBe(target.buffer);
    expect(frame.byteOffset).toBe(target.byteOffset);
  });

  it('overwrites a longer frame built before in the same buffer: only the new one is returned', () => {
    const target = Buffer.alloc(HEADER_BYTES + 16);
    encodeDataFrameInto(target, FrameType.Input, Buffer.from('a long keystroke'));
    const frame = encodeDataFrameInto(target, FrameType.Output, Buffer.from('x'));
    expect(describeFrames([decodeOne(frame)])).toEqual([{ type: FrameType.Output, hex: '78' }]);
  });

  it('refuses more than one data chunk, and a buffer without room', () => {
    const big = Buffer.alloc(MAX_DATA_CHUNK_BYTES + 1);
    expect(() => encodeDataFrameInto(Buffer.alloc(HEADER_BYTES + big.length), FrameType.Input, big)).toThrow(RangeError);
    expect(() => encodeDataFrameInto(Buffer.alloc(HEADER_BYTES + 1), FrameType.Input, Buffer.from('ab'))).toThrow(RangeError);
  });
});

describe('payload decoders validate', () => {
  it.each([
    ['attach', () => decodeAttach(Buffer.alloc(5))],
    ['window size', () => decodeWindowSize(Buffer.alloc(3))],
    ['redraw', () => decodeRedraw(Buffer.alloc(0))],
    ['exit', () => decodeExit(Buffer.alloc(1))],
    ['kill', () => decodeKill(Buffer.alloc(0))],
  ])('a too-short %s payload', (what, decode) => {
    expect(decode).toThrow(ProtocolError);
    expect(decode).toThrow(`${what} frame too short`);
  });

  it.each([65, 200, 255])('a kill number %i that is not a signal', (signal) => {
    expect(() => decodeKill(Buffer.from([signal]))).toThrow(ProtocolError);
  });

  it.each([5, 6, 255])('an unknown redraw method %i in attach and redraw', (method) => {
    expect(() => decodeAttach(Buffer.from([0, 80, 0, 24, method, 0]))).toThrow(ProtocolError);
    expect(() => decodeRedraw(Buffer.from([method]))).toThrow(ProtocolError);
  });
});

describe('FrameDecoder', () => {
  /** One of each kind of frame, including empty payloads, back to back. */
  function sampleStream(): { bytes: Buffer; frames: { type: number; hex: string }[] } {
    const encoded = [
      encodeHello({ version: PROTOCOL_VERSION, pid: 4242 }),
      encodeAttach({ cols: 132, rows: 43, redraw: RedrawMethod.CtrlL, readOnly: true }),
      encodeFrame(FrameType.Input),
      ...encodeDataFrames(FrameType.Input, Buffer.from('ls -l\r')),
      encodeResize({ cols: 100, rows: 30 }),
      encodeRedraw(RedrawMethod.Winch),
      encodeFrame(FrameType.Detach),
      encodeKill(2),
      encodeFrame(FrameType.Info),
      encodeText(FrameType.Info, '{"pid":1}'),
      ...encodeDataFrames(FrameType.Output, patternedBytes(40)),
      encodeExit({ code: 7, signal: 0 }),
      encodeText(FrameType.Error, 'bye'),
    ];
    // What each encoded frame should decode to, worked out independently from the header.
    const frames = encoded.map((frame) => ({ type: frame[0]!, hex: frame.subarray(HEADER_BYTES).toString('hex') }));
    return { bytes: Buffer.concat(encoded), frames };
  }

  it('decodes several frames delivered in one chunk', () => {
    const { bytes, frames } = sampleStream();
    const decoder = new FrameDecoder();
    expect(describeFrames(decoder.push(bytes))).toEqual(frames);
    expect(decoder.bufferedBytes).toBe(0);
    expect(frames).toHaveLength(13);
  });

  it('gives identical frames when the stream is split at every byte offset', () => {
    const { bytes, frames } = sampleStream();
    for (let split = 0; split <= bytes.length; split++) {
      const decoder = new FrameDecoder();
      const decoded = [...decoder.push(bytes.subarray(0, split)), ...decoder.push(bytes.subarray(split))];
      expect(describeFrames(decoded), `split at ${split}`).toEqual(frames);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('gives identical frames when the stream is split in three at every pair of offsets', () => {
    const { bytes, frames } = sampleStream();
    for (let first = 0; first <= bytes.length; first++) {
      for (let second = first; second <= bytes.length; second++) {
        const decoder = new FrameDecoder();
        const decoded = [
          ...decoder.push(bytes.subarray(0, first)), ...decoder.push(bytes.subarray(first, second)), ...decoder.push(bytes.subarray(second)),
        ];
        expect(describeFrames(decoded), `split at ${first} and ${second}`).toEqual(frames);
        expect(decoder.bufferedBytes).toBe(0);
      }
    }
  });

  it('joins a frame cut between reads out of its own bytes only, not the rest of the read it ends in', () => {
    const [frame] = encodeDataFrames(FrameType.Input, patternedBytes(10_000));
    const next = encodeDataFrames(FrameType.Input, patternedBytes(60_000))[0]!;
    const decoder = new FrameDecoder();
    expect(decoder.push(frame!.subarray(0, 6_000))).toEqual([]);
    // The frame's end and most of the next one, in one read.
    const [payload] = decoder.push(Buffer.concat([frame!.subarray(6_000), next.subarray(0, 50_000)]));
    expect(payload!.payload.equals(patternedBytes(10_000))).toBe(true);
    expect(payload!.payload.buffer.byteLength, 'memory the frame was joined in').toBeLessThan(frame!.length + 4096);
    expect(decoder.bufferedBytes).toBe(50_000);
    expect(decoder.push(next.subarray(50_000)).map((decoded) => decoded.payload.equals(patternedBytes(60_000)))).toEqual([true]);
  });

  it('gives identical frames when the stream arrives one byte at a time', () => {
    const { bytes, frames } = sampleStream();
    const decoder = new FrameDecoder();
    const decoded: Frame[] = [];
    for (let i = 0; i < bytes.length; i++) {
      // Copies, so the decoder cannot rely on one big underlying buffer.
      decoded.push(...decoder.push(Buffer.from(bytes.subarray(i, i + 1))));
    }
    expect(describeFrames(decoded)).toEqual(frames);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('holds back a partial frame and counts its bytes', () => {
    const encoded = encodeText(FrameType.Error, 'partial');
    const decoder = new FrameDecoder();
    expect(decoder.push(encoded.subarray(0, 3))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(3);
    expect(decoder.push(encoded.subarray(3, encoded.length - 1))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(encoded.length - 1);
    const frames = decoder.push(encoded.subarray(encoded.length - 1));
    expect(frames.map((frame) => frame.payload.toString())).toEqual(['partial']);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('stops after maxFrames frames, leaving the rest (garbage too) to the next push, even of nothing', () => {
    const { bytes, frames } = sampleStream();
    const garbage = Buffer.from([0xee, 1, 2]);
    const decoder = new FrameDecoder();
    expect(describeFrames(decoder.push(Buffer.concat([bytes, garbage]), 1))).toEqual(frames.slice(0, 1));
    expect(decoder.bufferedBytes).toBe(bytes.length + garbage.length - HEADER_BYTES - Buffer.from(frames[0]!.hex, 'hex').length);
    expect(describeFrames(decoder.push(Buffer.alloc(0), 2))).toEqual(frames.slice(1, 3));
    expect(() => decoder.push(Buffer.alloc(0))).toThrow(/unknown frame type 238/);
  });

  it('accepts empty chunks without producing frames', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.alloc(0))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('throws on an oversize length as soon as the header is complete, before any payload', () => {
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(FrameType.Output, 0);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
    const decoder = new FrameDecoder();
    expect(decoder.push(header.subarray(0, HEADER_BYTES - 1))).toEqual([]);
    expect(() => decoder.push(header.subarray(HEADER_BYTES - 1))).toThrow(ProtocolError);
  });

  it('throws on an oversize length that follows a valid frame in the same chunk', () => {
    const oversize = Buffer.from([FrameType.Input, 0xff, 0xff, 0xff, 0xff]);
    const decoder = new FrameDecoder();
    expect(() => decoder.push(Buffer.concat([encodeKill(15), oversize]))).toThrow(/exceeds/);
  });

  it('accepts an announced length of exactly MAX_FRAME_BYTES and waits for it', () => {
    const header = Buffer.from([FrameType.Output, 0, 0, 0, 0]);
    header.writeUInt32BE(MAX_FRAME_BYTES, 1);
    const decoder = new FrameDecoder();
    expect(decoder.push(header)).toEqual([]);
    expect(decoder.bufferedBytes).toBe(HEADER_BYTES);
  });

  it.each([0, 13, 99, 255])('throws on unknown frame type %i', (type) => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(Buffer.from([type, 0, 0, 0, 0]))).toThrow(ProtocolError);
    expect(() => new FrameDecoder().push(Buffer.from([type, 0, 0, 0, 0]))).toThrow(`unknown frame type ${type}`);
  });

  it.each([0, 13, 255])('throws on unknown frame type %i from its first byte, without waiting for the header', (type) => {
    expect(() => new FrameDecoder().push(Buffer.from([type]))).toThrow(`unknown frame type ${type}`);
    const decoder = new FrameDecoder();
    expect(decoder.push(encodeFrame(FrameType.Output, Buffer.from('x')).subarray(0, 6))).toHaveLength(1);
    expect(() => decoder.push(Buffer.from([type, 1]))).toThrow(`unknown frame type ${type}`);
  });

  it('knows every FrameType', () => {
    for (const type of Object.values(FrameType)) {
      expect(new FrameDecoder().push(Buffer.from([type, 0, 0, 0, 0]))).toHaveLength(1);
    }
  });

  it('takes a chunk that looks like a whole frame as the rest of an unfinished one', () => {
    const lookalike = encodeFrame(FrameType.Input, Buffer.from('a'));
    const decoder = new FrameDecoder();
    expect(decoder.push(encodeFrame(FrameType.Input, Buffer.alloc(lookalike.length)).subarray(0, HEADER_BYTES))).toEqual([]);
    expect(describeFrames(decoder.push(lookalike))).toEqual([{ type: FrameType.Input, hex: lookalike.toString('hex') }]);
    // ...and, with nothing held, as the frame it is.
    expect(describeFrames(decoder.push(lookalike))).toEqual([{ type: FrameType.Input, hex: '61' }]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  describe('reads that land in one reused buffer (copyOutOf)', () => {
    /** The stream read through one buffer, cut at `cuts`; the buffer is scribbled over after each read. */
    function decodeThroughOneBuffer(bytes: Buffer, cuts: number[], maxFrames = Infinity): { type: number; hex: string }[] {
      const memory = Buffer.alloc(64 * 1024);
      const decoder = new FrameDecoder();
      const frames: { type: number; hex: string }[] = [];
      const bounds = [0, ...cuts, bytes.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const read = memory.subarray(0, bytes.copy(memory, 0, bounds[i], bounds[i + 1]));
        let batch = decoder.push(read, maxFrames);
        frames.push(...describeFrames(batch));
        // Some frames wait for the next read, when at most maxFrames are taken at a time.
        if (i + 2 < bounds.length) decoder.copyOutOf(read);
        else while (batch.length > 0) frames.push(...describeFrames((batch = decoder.push(Buffer.alloc(0), maxFrames))));
        memory.fill(0xee);
      }
      return frames;
    }

    it('keeps an unfinished frame whole, wherever the stream is cut, though the next read overwrites the last', () => {
      const { bytes, frames } = sampleStream();
      for (let first = 1; first < bytes.length; first++) {
        for (const second of [first + 1, first + 7, bytes.length]) {
          if (second > bytes.length) continue;
          expect(decodeThroughOneBuffer(bytes, second < bytes.length ? [first, second] : [first]), `cut at ${first}, ${second}`).toEqual(frames);
        }
      }
    });

    it('keeps a large unfinished frame (over half the buffer) and frames not yet taken', () => {
      const big = encodeFrame(FrameType.Input, patternedBytes(60_000));
      const small = encodeFrame(FrameType.Input, Buffer.from('after'));
      const bytes = Buffer.concat([small, big, small, small, small]);
      const expected = [small, big, small, small, small].map((frame) => ({ type: frame[0]!, hex: frame.subarray(HEADER_BYTES).toString('hex') }));
      expect(decodeThroughOneBuffer(bytes, [40_000])).toEqual(expected);
      expect(decodeThroughOneBuffer(bytes, [small.length + big.length + 3], 1)).toEqual(expected);
    });
  });
});

describe('encodeDataFrames', () => {
  function reassemble(frames: Buffer[]): { types: number[]; data: Buffer } {
    const decoder = new FrameDecoder();
    const decoded = frames.flatMap((frame) => decoder.push(frame));
    expect(decoder.bufferedBytes).toBe(0);
    return { types: decoded.map((frame) => frame.type), data: Buffer.concat(decoded.map((frame) => frame.payload)) };
  }

  it('produces no frames for no data', () => {
    expect(encodeDataFrames(FrameType.Output, Buffer.alloc(0))).toEqual([]);
  });

  it.each([
    [1, [1]],
    [MAX_DATA_CHUNK_BYTES - 1, [MAX_DATA_CHUNK_BYTES - 1]],
    [MAX_DATA_CHUNK_BYTES, [MAX_DATA_CHUNK_BYTES]],
    [MAX_DATA_CHUNK_BYTES + 1, [MAX_DATA_CHUNK_BYTES, 1]],
    [3 * MAX_DATA_CHUNK_BYTES, [MAX_DATA_CHUNK_BYTES, MAX_DATA_CHUNK_BYTES, MAX_DATA_CHUNK_BYTES]],
    [2 * MAX_DATA_CHUNK_BYTES + 100, [MAX_DATA_CHUNK_BYTES, MAX_DATA_CHUNK_BYTES, 100]],
  ])('cuts %i bytes into payloads of %o that reassemble to the original', (size, payloadSizes) => {
    const data = patternedBytes(size);
    const frames = encodeDataFrames(FrameType.Output, data);
    expect(frames.map((frame) => frame.readUInt32BE(1))).toEqual(payloadSizes);
    const { types, data: reassembled } = reassemble(frames);
    expect(types).toEqual(payloadSizes.map(() => FrameType.Output));
    expect(reassembled.equals(data)).toBe(true);
  });

  it.each([
    ['several small reads', [1, 4095, 4096, 0, 17]],
    ['reads that straddle frame boundaries', [MAX_DATA_CHUNK_BYTES - 3, 10, MAX_DATA_CHUNK_BYTES, 5]],
    ['one read larger than two frames', [7, 2 * MAX_DATA_CHUNK_BYTES + 9]],
    ['only empty reads', [0, 0]],
  ])('joins %s into the same frames as their concatenation', (_, sizes) => {
    const whole = patternedBytes(sizes.reduce((sum, size) => sum + size, 0));
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const size of sizes) {
      chunks.push(whole.subarray(offset, offset + size));
      offset += size;
    }
    const joined = encodeDataFrames(FrameType.Output, chunks);
    expect(joined).toEqual(encodeDataFrames(FrameType.Output, whole));
    expect(reassemble(joined).data.equals(whole)).toBe(true);
  });

  it('uses the requested type for input', () => {
    const frames = encodeDataFrames(FrameType.Input, patternedBytes(MAX_DATA_CHUNK_BYTES + 5));
    expect(frames.map((frame) => frame[0])).toEqual([FrameType.Input, FrameType.Input]);
  });
});
