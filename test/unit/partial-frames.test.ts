import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/master/connection.js';
import { MAX_PARTIAL_FRAME_BYTES, PartialFrameRoom } from '../../src/master/partial-frames.js';

/** A connection whose socket only records whether it is read. */
function connection(): Connection & { reading: () => boolean } {
  let paused = false;
  const socket = { pause: () => { paused = true; }, resume: () => { paused = false; }, destroyed: false } as unknown as net.Socket;
  return Object.assign(new Connection(socket), { reading: () => !paused });
}

describe('PartialFrameRoom', () => {
  it('has room for 8 MiB of unfinished frames by default', () => {
    const room = new PartialFrameRoom();
    const a = connection();
    room.count(a, MAX_PARTIAL_FRAME_BYTES);
    expect(a.reading()).toBe(true);
    room.count(a, MAX_PARTIAL_FRAME_BYTES + 1);
    expect(a.reading()).toBe(false);
    expect(MAX_PARTIAL_FRAME_BYTES).toBe(8 * 1024 * 1024);
  });

  it('counts what a connection holds now, in place of what it held before', () => {
    const room = new PartialFrameRoom(100);
    const a = connection();
    room.count(a, 60);
    room.count(a, 80);
    expect(room.usedBytes).toBe(80);
    room.count(a, 0);
    expect(room.usedBytes).toBe(0);
    expect(a.reading()).toBe(true);
  });

  it('holds the connection whose frame goes beyond the room, and no other', () => {
    const room = new PartialFrameRoom(100);
    const a = connection();
    const b = connection();
    room.count(a, 70);
    room.count(b, 40);
    expect(a.reading()).toBe(true);
    expect(b.reading()).toBe(false);
    expect(b.isHeld('room')).toBe(true);
  });

  it('holds no connection that holds no frame, even while the room is overfull', () => {
    const room = new PartialFrameRoom(100);
    const a = connection();
    const b = connection();
    room.count(a, 150);
    room.count(b, 0);
    expect(a.reading()).toBe(false);
    expect(b.reading()).toBe(true);
  });

  it('lets every waiting connection go once the frames fit, and not before', () => {
    const room = new PartialFrameRoom(100);
    const [a, b, c] = [connection(), connection(), connection()];
    room.count(a, 90);
    room.count(b, 20);
    room.count(c, 20);
    expect([a, b, c].map((each) => each.reading())).toEqual([true, false, false]);
    room.count(a, 70); // 110: still beyond
    expect([b, c].map((each) => each.reading())).toEqual([false, false]);
    room.count(a, 60); // 100: fits exactly
    expect([a, b, c].map((each) => each.reading())).toEqual([true, true, true]);
    expect(b.isHeld('room')).toBe(false);
  });

  it('a connection that leaves makes room for the others, and is not read again', () => {
    const room = new PartialFrameRoom(100);
    const [a, b, c] = [connection(), connection(), connection()];
    room.count(a, 80);
    room.count(b, 30);
    room.count(c, 30);
    room.leave(c);
    expect(room.usedBytes).toBe(110);
    expect(c.reading()).toBe(false);
    room.leave(a);
    expect(room.usedBytes).toBe(30);
    expect(b.reading()).toBe(true);
    expect(c.reading()).toBe(false);
  });

  it('keeps another hold of the connection when letting it go for room', () => {
    const room = new PartialFrameRoom(100);
    const [a, b] = [connection(), connection()];
    b.hold('input');
    room.count(a, 90);
    room.count(b, 20);
    room.count(a, 0);
    expect(b.isHeld('room')).toBe(false);
    expect(b.reading()).toBe(false);
  });
});
