import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/master/connection.js';
import {
  CLIENT_HELD_INPUT_BYTES, INPUT_HIGH_WATER_BYTES, InputFlow, TOTAL_HELD_INPUT_BYTES,
} from '../../src/master/input-flow.js';

const KiB = 1024;

/** A program's terminal that takes nothing until told to (or loses what it has not taken). */
class Program {
  written: Buffer[] = [];
  pendingInputLength = 0;
  private received = 0;
  private lost = false;
  private waiters = new Set<{ position: number; written: () => void }>();
  write(data: Buffer): number {
    this.written.push(Buffer.from(data));
    this.pendingInputLength += data.length;
    this.received += data.length;
    return this.received;
  }
  isInputWritten(position: number): boolean {
    return !this.lost && position <= this.received - this.pendingInputLength;
  }
  whenInputWritten(position: number, written: () => void): () => void {
    if (this.isInputWritten(position)) {
      written();
      return () => {};
    }
    const waiter = { position, written };
    this.waiters.add(waiter);
    return () => { this.waiters.delete(waiter); };
  }
  readAll(): void {
    this.pendingInputLength = 0;
    for (const waiter of this.waiters) waiter.written();
    this.waiters.clear();
  }
  lose(): void {
    this.lost = true;
    this.pendingInputLength = 0;
    this.waiters.clear();
  }
  get waiting(): number {
    return this.waiters.size;
  }
  text(): string {
    return Buffer.concat(this.written).toString('latin1');
  }
}

/** A connection whose socket only records whether it is read. */
function connection(): Connection & { reading: () => boolean } {
  let paused = false;
  const socket = { pause: () => { paused = true; }, resume: () => { paused = false; }, destroyed: false } as unknown as net.Socket;
  return Object.assign(new Connection(socket), { reading: () => !paused });
}

function chunk(letter: string, bytes: number): Buffer {
  return Buffer.alloc(bytes, letter);
}

describe('InputFlow', () => {
  it('writes at once while the program has room, then holds input in the connection', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const client = connection();
    flow.offer(client, chunk('a', INPUT_HIGH_WATER_BYTES + 1));
    flow.offer(client, chunk('b', 10));
    expect(program.pendingInputLength).toBe(INPUT_HIGH_WATER_BYTES + 1);
    expect(client.heldInput.length).toBe(10);
    expect(client.reading()).toBe(true);
  });

  it('stops reading a client that holds more than its share, and reads it again once the program took it', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const client = connection();
    flow.offer(client, chunk('a', INPUT_HIGH_WATER_BYTES + 1));
    flow.offer(client, chunk('b', CLIENT_HELD_INPUT_BYTES + 1));
    expect(client.reading()).toBe(false);
    program.readAll();
    flow.release();
    expect(client.reading()).toBe(true);
    expect(client.heldInput.length).toBe(0);
    expect(flow.totalHeldBytes).toBe(0);
  });

  it('bounds what all clients hold together, those that left included, and releases it in the order it was held', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const first = connection();
    flow.offer(first, chunk('0', INPUT_HIGH_WATER_BYTES + 1));
    const clients = Array.from({ length: 8 }, () => connection());
    // Each client sends just under its own share, then leaves, as a SIGKILLed `dt -p` would.
    clients.forEach((client, index) => {
      flow.offer(client, chunk(String.fromCharCode(97 + index), CLIENT_HELD_INPUT_BYTES - KiB));
      flow.leave(client);
    });
    expect(flow.totalHeldBytes).toBe(8 * (CLIENT_HELD_INPUT_BYTES - KiB));
    // Beyond the total, even a client holding little is no longer read.
    const late = connection();
    flow.offer(late, chunk('z', 1));
    expect(flow.totalHeldBytes).toBeGreaterThan(TOTAL_HELD_INPUT_BYTES);
    expect(late.reading()).toBe(false);

    // The program reads: held input goes over while it has room, oldest holder first.
    let rounds = 0;
    while (flow.totalHeldBytes > 0 && rounds++ < 100) {
      program.readAll();
      flow.release();
      expect(program.pendingInputLength).toBeLessThanOrEqual(INPUT_HIGH_WATER_BYTES + CLIENT_HELD_INPUT_BYTES);
    }
    expect(late.reading()).toBe(true);
    const order = program.text().replace(/(.)\1*/g, '$1');
    expect(order).toBe('0abcdefghz');
  });

  it('tells when input starts to be held and when a client stops being read, once each, not for every frame after', () => {
    const program = new Program();
    let holdings = 0;
    const flow = new InputFlow(program, () => { holdings += 1; });
    const client = connection();
    flow.offer(client, chunk('a', INPUT_HIGH_WATER_BYTES + 1));
    expect(holdings).toBe(0);
    flow.offer(client, chunk('b', 10));
    expect(holdings).toBe(1);
    flow.offer(client, chunk('c', CLIENT_HELD_INPUT_BYTES));
    expect(client.reading()).toBe(false);
    expect(holdings).toBe(2);
    // The rest of the read that stopped it, in small frames: held, and told of no more.
    for (let i = 0; i < 1000; i++) flow.offer(client, chunk('d', 5));
    expect(holdings).toBe(2);
    expect(client.heldInput.length).toBe(10 + CLIENT_HELD_INPUT_BYTES + 5000);
  });

  it('holds all input while paused, from every client, and hands it over in the order held once the pause ends', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const [first, second] = [connection(), connection()];
    flow.offer(first, Buffer.from('a'));
    flow.pause('redraw');
    flow.offer(second, Buffer.from('b'));
    flow.offer(first, Buffer.from('c'));
    flow.offer(second, Buffer.from('d'));
    flow.release(); // the program drained: still paused
    expect(program.text()).toBe('a');
    expect(flow.totalHeldBytes).toBe(3);
    flow.resume('redraw');
    expect(program.text()).toBe('abdc');
    expect(flow.totalHeldBytes).toBe(0);
    flow.offer(first, Buffer.from('e'));
    expect(program.text()).toBe('abdce');
  });

  it('goes on holding until every pause has ended; ending one twice ends nothing else', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const client = connection();
    flow.pause('attach');
    flow.pause('redraw');
    flow.offer(client, Buffer.from('x'));
    flow.resume('attach');
    flow.resume('attach');
    expect(program.text()).toBe('');
    flow.resume('redraw');
    expect(program.text()).toBe('x');
  });

  it('keeps input held for a program that reads nothing held after the pause, behind what came first', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const [busy, other] = [connection(), connection()];
    flow.offer(busy, chunk('a', INPUT_HIGH_WATER_BYTES + 1));
    flow.offer(busy, Buffer.from('b'));
    flow.pause('redraw');
    flow.offer(other, Buffer.from('c'));
    flow.resume('redraw');
    expect(flow.totalHeldBytes).toBe(2);
    program.readAll();
    flow.release();
    expect(program.text().slice(-2)).toBe('bc');
    expect(flow.totalHeldBytes).toBe(0);
  });

  it('delivers, once the pause ends, what a client typed before it left', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const [leaving, staying] = [connection(), connection()];
    flow.pause('redraw');
    flow.offer(leaving, Buffer.from('pushed'));
    flow.leave(leaving);
    flow.offer(staying, Buffer.from(' typed'));
    expect(program.text()).toBe('');
    flow.resume('redraw');
    expect(program.text()).toBe('pushed typed');
  });

  it('applies the held-input limits while paused, and reads a stopped client again once its input went over', () => {
    const program = new Program();
    const flow = new InputFlow(program);
    const client = connection();
    flow.pause('redraw');
    flow.offer(client, chunk('a', CLIENT_HELD_INPUT_BYTES + 1));
    expect(client.reading()).toBe(false);
    program.readAll();
    flow.release(); // room for it, but still paused: stays held, and counted
    expect(flow.totalHeldBytes).toBe(CLIENT_HELD_INPUT_BYTES + 1);
    expect(client.reading()).toBe(false);
    flow.resume('redraw');
    expect(client.reading()).toBe(true);
    expect(program.pendingInputLength).toBe(CLIENT_HELD_INPUT_BYTES + 1);
  });

  describe('whenWritten', () => {
    it('tells at once when everything a client sent is already in the terminal', () => {
      const program = new Program();
      const flow = new InputFlow(program);
      const client = connection();
      flow.offer(client, Buffer.from('save\n'));
      program.readAll();
      let told = 0;
      flow.whenWritten(client, () => { told += 1; });
      expect(told).toBe(1);
    });

    it('tells only once a client\'s input held for a pause has followed, and the terminal took it', () => {
      const program = new Program();
      const flow = new InputFlow(program);
      const [pusher, other] = [connection(), connection()];
      flow.pause('redraw');
      flow.offer(pusher, Buffer.from('save\n'));
      let told = false;
      flow.whenWritten(pusher, () => { told = true; });
      expect(told).toBe(false);
      program.readAll(); // nothing of it is in the terminal yet: still held
      expect(told).toBe(false);
      flow.resume('redraw');
      // Handed over, and the terminal took it at once.
      expect(program.text()).toBe('save\n');
      expect(told).toBe(false); // the fake terminal takes it when read
      flow.offer(other, Buffer.from('later'));
      program.readAll();
      expect(told).toBe(true);
    });

    it('waits for the terminal to take a client\'s input queued behind a program that reads nothing, not for what others sent after it', () => {
      const program = new Program();
      const flow = new InputFlow(program);
      const [busy, pusher] = [connection(), connection()];
      flow.offer(busy, chunk('a', INPUT_HIGH_WATER_BYTES + 1));
      flow.offer(pusher, Buffer.from('b')); // held: the program has not read what came first
      let told = false;
      flow.whenWritten(pusher, () => { told = true; });
      flow.offer(busy, Buffer.from('c'));
      program.readAll();
      flow.release();
      expect(program.text().slice(-2)).toBe('bc');
      expect(told).toBe(false);
      program.readAll();
      expect(told).toBe(true);
    });

    it('never tells when the terminal loses the input, and stops waiting for a client that left', () => {
      const program = new Program();
      const flow = new InputFlow(program);
      const [lost, leaving] = [connection(), connection()];
      flow.offer(lost, chunk('a', INPUT_HIGH_WATER_BYTES + 1));
      let told = 0;
      flow.whenWritten(lost, () => { told += 1; });
      program.lose();
      flow.release();
      expect(told).toBe(0);

      flow.offer(leaving, chunk('b', INPUT_HIGH_WATER_BYTES + 1));
      flow.offer(leaving, Buffer.from('held'));
      flow.whenWritten(leaving, () => { told += 1; });
      flow.leave(leaving);
      program.readAll();
      flow.release(); // its held input still goes over
      program.readAll();
      expect(program.text().endsWith('held')).toBe(true);
      expect(told).toBe(0);
      expect(program.waiting).toBe(0);
    });
  });
});
