// The in-place decoder works in the one buffer a client reuses for every socket read: output
// must come out as views of that buffer, complete and in order relative to the other frames,
// however the stream is cut, and nothing may depend on a read's bytes after the next read.

import { describe, expect, it } from 'vitest';
import {
  FrameType, HEADER_BYTES, InPlaceFrameDecoder, MAX_FRAME_BYTES, PROTOCOL_VERSION, ProtocolError,
  encodeDataFrames, encodeExit, encodeFrame, encodeHello, encodeText, type Frame,
} from '../../src/common/protocol.js';

/** What a stream means to a client: runs of output bytes, and the other frames, in order. */
type Meaning = ({ output: string } | { type: number; hex: string })[];

function meaningOf(frames: readonly Frame[]): Meaning {
  const meaning: Meaning = [];
  for (const frame of frames) {
    const last = meaning.at(-1);
    if (frame.type !== FrameType.Output) meaning.push({ type: frame.type, hex: frame.payload.toString('hex') });
    else if (frame.payload.length === 0) continue;
    else if (last !== undefined && 'output' in last) last.output += frame.payload.toString('hex');
    else meaning.push({ output: frame.payload.toString('hex') });
  }
  return meaning;
}

function patternedBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed * 31 + (i >> 8) * 13) & 0xff;
  return bytes;
}

/** Output frames back to back, others between them, empty ones, and a non-output frame at each end. */
function sampleFrames(): Buffer[] {
  return [
    encodeHello({ version: PROTOCOL_VERSION, pid: 4242 }),
    ...encodeDataFrames(FrameType.Output, patternedBytes(9, 1)),
    ...encodeDataFrames(FrameType.Output, patternedBytes(4, 2)),
    encodeFrame(FrameType.Output),
    ...encodeDataFrames(FrameType.Output, patternedBytes(1, 3)),
    encodeText(FrameType.Error, 'why'),
    encodeFrame(FrameType.Info),
    ...encodeDataFrames(FrameType.Output, patternedBytes(12, 4)),
    encodeExit({ code: 3, signal: 0 }),
  ];
}

/**
 * Feeds `pieces` as a reader with one reused buffer does: each piece is copied to the start of
 * the buffer (scribbled over first), decoded there, and what came out is read at once.
 */
function decodeInOneBuffer(pieces: readonly Buffer[]): { meaning: Meaning; perRead: Frame[][] } {
  const readBuffer = Buffer.alloc(1024);
  const decoder = new InPlaceFrameDecoder();
  const all: Frame[] = [];
  const perRead: Frame[][] = [];
  for (const piece of pieces) {
    readBuffer.fill(0xee);
    piece.copy(readBuffer);
    const frames = decoder.decode(readBuffer.subarray(0, piece.length));
    for (const frame of frames) {
      if (frame.type === FrameType.Output) expect(frame.payload.buffer).toBe(readBuffer.buffer); // a view, not a copy
    }
    perRead.push(frames);
    all.push(...frames.map((frame) => ({ type: frame.type, payload: Buffer.from(frame.payload) })));
  }
  return { meaning: meaningOf(all), perRead };
}

describe('InPlaceFrameDecoder', () => {
  const frames = sampleFrames();
  const stream = Buffer.concat(frames);
  const expected = meaningOf(frames.map((frame) => ({ type: frame[0]! as FrameType, payload: frame.subarray(HEADER_BYTES) })));

  it('decodes a whole stream in one read, output frames that follow each other as one view', () => {
    const { meaning, perRead } = decodeInOneBuffer([stream]);
    expect(meaning).toEqual(expected);
    expect(perRead[0]!.map((frame) => frame.type)).toEqual([
      FrameType.Hello, FrameType.Output, FrameType.Error, FrameType.Info, FrameType.Output, FrameType.Exit,
    ]);
  });

  it('gives the same meaning when the stream is cut at every pair of byte offsets', () => {
    for (let first = 0; first <= stream.length; first++) {
      for (let second = first; second <= stream.length; second++) {
        const pieces = [stream.subarray(0, first), stream.subarray(first, second), stream.subarray(second)];
        expect(decodeInOneBuffer(pieces).meaning, `cut at ${first} and ${second}`).toEqual(expected);
      }
    }
  });

  it('gives the same meaning one byte at a time', () => {
    const pieces = [...stream].map((byte) => Buffer.from([byte]));
    expect(decodeInOneBuffer(pieces).meaning).toEqual(expected);
  });

  it('never hands on two output pieces from one read without another frame between them', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { perRead } = decodeInOneBuffer([stream.subarray(0, cut), stream.subarray(cut)]);
      for (const read of perRead) {
        read.forEach((frame, index) => {
          if (index > 0) expect(frame.type === FrameType.Output && read[index - 1]!.type === FrameType.Output, `cut at ${cut}`).toBe(false);
        });
      }
    }
  });

  it('joins long output frames by moving the shorter side, whichever it is', () => {
    for (const [before, after] of [[300, 20], [20, 300], [100, 100]] as const) {
      const bytes = Buffer.concat([...encodeDataFrames(FrameType.Output, patternedBytes(before, 5)), ...encodeDataFrames(FrameType.Output, patternedBytes(after, 6))]);
      const { meaning, perRead } = decodeInOneBuffer([bytes]);
      expect(meaning).toEqual([{ output: Buffer.concat([patternedBytes(before, 5), patternedBytes(after, 6)]).toString('hex') }]);
      expect(perRead[0]).toHaveLength(1);
    }
  });

  it.each([0, 13, 255])('throws on unknown frame type %i from its first byte', (type) => {
    expect(() => new InPlaceFrameDecoder().decode(Buffer.from([type]))).toThrow(ProtocolError);
    const decoder = new InPlaceFrameDecoder();
    decoder.decode(encodeFrame(FrameType.Output, Buffer.from('x')));
    expect(() => decoder.decode(Buffer.from([type, 1]))).toThrow(`unknown frame type ${type}`);
  });

  it('hands a read that is one whole output frame on as a view of it, and one that only looks like one as what it continues', () => {
    const decoder = new InPlaceFrameDecoder();
    const echo = encodeFrame(FrameType.Output, Buffer.from('A'));
    const [frame] = decoder.decode(echo);
    expect(frame!.payload.buffer).toBe(echo.buffer);
    expect(frame!.payload.byteOffset).toBe(echo.byteOffset + HEADER_BYTES);
    expect(meaningOf([frame!])).toEqual([{ output: '41' }]);
    // An error frame cut after its header: the next read, shaped like an output frame, is its payload.
    const error = encodeText(FrameType.Error, 'xxxxxx');
    expect(decoder.decode(error.subarray(0, HEADER_BYTES))).toEqual([]);
    expect(meaningOf(decoder.decode(Buffer.from(echo.subarray(0, 6))))).toEqual([{ type: FrameType.Error, hex: echo.subarray(0, 6).toString('hex') }]);
    // A header cut in two: the read that completes it is not a frame of its own either.
    expect(decoder.decode(echo.subarray(0, 2))).toEqual([]);
    const rest = Buffer.concat([echo.subarray(2), encodeFrame(FrameType.Output, Buffer.from('B'))]);
    expect(meaningOf(decoder.decode(rest))).toEqual([{ output: '4142' }]);
  });

  it('throws on an oversize length once the header is complete, before any payload', () => {
    const header = Buffer.from([FrameType.Output, 0, 0, 0, 0]);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
    const decoder = new InPlaceFrameDecoder();
    expect(decoder.decode(Buffer.from(header.subarray(0, 4)))).toEqual([]);
    expect(() => decoder.decode(Buffer.from(header.subarray(4)))).toThrow(/exceeds/);
  });
});
