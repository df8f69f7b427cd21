// The session log's policy, on a simulated disk that can be slow, full, or lose the file:
// every byte is in the file in order, or counted in a notice at the place it is missing;
// rotation splits the stream at exactly the limit; append never waits for the disk.

import { setImmediate as realSetImmediate } from 'node:timers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogFileSystem, OpenedLogFile } from '../../src/master/output-log.js';
import {
  LOG_CHECK_INTERVAL_MS, LOG_CLOSE_TIMEOUT_MS, LOG_MAX_BACKLOG_BYTES, LOG_RETRY_MS, OutputLog,
} from '../../src/master/output-log.js';

const FILE = '/logs/out';
const MIB = 1024 * 1024;

interface Inode {
  ino: number;
  chunks: Buffer[];
  size: number;
  links: number;
}

function errno(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

/** A file system in memory; every inode ever created is kept, in order, for the tests to read. */
class FakeDisk implements LogFileSystem {
  readonly names = new Map<string, Inode>();
  readonly inodes: Inode[] = [];
  private readonly fds = new Map<number, Inode>();
  private nextFd = 10;
  /** bytes that can still be written; a write beyond writes what fits, the next one fails */
  free = Infinity;
  directoryGone = false;
  /** while set, writes wait for it */
  held: Promise<void> | undefined;
  writes = 0;

  async open(file: string): Promise<OpenedLogFile> {
    if (this.directoryGone) throw new Error(`cannot open ${file}: No such file or directory`);
    let node = this.names.get(file);
    if (!node) {
      node = { ino: this.inodes.length + 1, chunks: [], size: 0, links: 1 };
      this.inodes.push(node);
      this.names.set(file, node);
    }
    const fd = this.nextFd++;
    this.fds.set(fd, node);
    return { fd, size: node.size, dev: 1, ino: node.ino };
  }

  async write(fd: number, buffers: Buffer[]): Promise<number> {
    await this.held;
    this.writes++;
    const node = this.fds.get(fd);
    if (!node) throw errno('EBADF');
    if (this.free === 0) throw errno('ENOSPC');
    let room = this.free;
    let written = 0;
    for (const buffer of buffers) {
      const part = buffer.subarray(0, room);
      node.chunks.push(Buffer.from(part));
      written += part.length;
      room -= part.length;
    }
    node.size += written;
    this.free -= written;
    return written;
  }

  async rename(from: string, to: string): Promise<void> {
    const node = this.names.get(from);
    if (this.directoryGone || !node) throw errno('ENOENT');
    const replaced = this.names.get(to);
    if (replaced) replaced.links--;
    this.names.set(to, node);
    this.names.delete(from);
  }

  /** set: close fails as on NFS, where a write the server could not take is reported again at close */
  closeError: string | undefined;

  async close(fd: number): Promise<void> {
    this.fds.delete(fd);
    if (this.closeError !== undefined) throw errno(this.closeError);
  }

  async identify(file: string): Promise<{ dev: number; ino: number } | undefined> {
    const node = this.directoryGone ? undefined : this.names.get(file);
    return node && { dev: 1, ino: node.ino };
  }

  async openFile(fd: number): Promise<{ links: number; size: number }> {
    const { links, size } = this.fds.get(fd)!;
    return { links, size };
  }

  /** logrotate's copytruncate: a copy of FILE made under another name, then FILE emptied in place */
  copyTruncate(file: string, copy: string): void {
    const node = this.names.get(file)!;
    const copied: Inode = { ino: this.inodes.length + 1, chunks: [Buffer.concat(node.chunks)], size: node.size, links: 1 };
    this.inodes.push(copied);
    const replaced = this.names.get(copy);
    if (replaced) replaced.links--;
    this.names.set(copy, copied);
    node.chunks = [];
    node.size = 0;
  }

  /** rm FILE */
  remove(file: string): void {
    this.names.get(file)!.links--;
    this.names.delete(file);
  }

  /** rm -r of the directory */
  removeDirectory(): void {
    for (const [name, node] of this.names) {
      node.links--;
      this.names.delete(name);
    }
    this.directoryGone = true;
  }

  content(file: string): Buffer {
    const node = this.names.get(file);
    return node ? Buffer.concat(node.chunks) : Buffer.alloc(0);
  }

  /** Everything ever written, file after file. */
  everything(): Buffer {
    return Buffer.concat(this.inodes.flatMap((node) => node.chunks));
  }

  openCount(): number {
    return this.fds.size;
  }
}

/** Bytes whose every value differs from its neighbours', so any loss or reordering shows. */
function stream(length: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 7 + seed + (index >> 8)) & 0xff;
  return bytes;
}

/** `data` cut into pieces of the given sizes, repeating the sizes. */
function pieces(data: Buffer, sizes: number[]): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = sizes[index % sizes.length]!;
    parts.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return parts;
}

/** Waits for a real turn of the event loop, whatever timers are faked. */
function turnOfTheEventLoop(): Promise<void> {
  return new Promise((resolve) => { realSetImmediate(resolve); });
}

function notice(bytes: number, reason: string): Buffer {
  return Buffer.from(`\r\n[dt: ${bytes} bytes were not logged: ${reason}]\r\n`);
}

let disk: FakeDisk;
const logs: OutputLog[] = [];

async function newLog(limitBytes = 16 * MIB): Promise<OutputLog> {
  const log = new OutputLog({ file: FILE, limitBytes }, await disk.open(FILE), disk);
  logs.push(log);
  return log;
}

/** Lets the gather timer fire and every write in the chain finish. */
async function settle(ms = 50): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

beforeEach(() => {
  vi.useFakeTimers();
  disk = new FakeDisk();
});
afterEach(async () => {
  disk.held = undefined;
  for (const log of logs.splice(0)) await Promise.race([log.close(), vi.advanceTimersByTimeAsync(LOG_CLOSE_TIMEOUT_MS)]);
  vi.useRealTimers();
});

describe('writing', () => {
  it.each([[[1]], [[4095, 1, 4096]], [[3, 5, 65536, 7]], [[100_000]]])('every byte, in order, whatever the pieces (%j)', async (sizes) => {
    const log = await newLog();
    const data = stream(300_000);
    for (const part of pieces(data, sizes)) log.append(part);
    await settle();
    expect(disk.content(FILE).equals(data)).toBe(true);
    expect(log.status).toEqual({ file: FILE, writing: true, notLoggedBytes: 0 });
  });

  it.each([[4095], [1]])('gathers pieces of %i bytes into few writes', async (size) => {
    const log = await newLog();
    const data = stream(1 * MIB);
    for (const part of pieces(data, [size])) log.append(part);
    await settle();
    expect(disk.content(FILE).equals(data)).toBe(true);
    expect(disk.writes).toBeLessThan(20);
  });

  it('appends to what FILE already holds', async () => {
    await disk.write((await disk.open(FILE)).fd, [Buffer.from('before\n')]);
    const log = await newLog();
    log.append(Buffer.from('after\n'));
    await settle();
    expect(disk.content(FILE).toString()).toBe('before\nafter\n');
  });

  it('close writes what is waiting, then closes FILE', async () => {
    const log = await newLog();
    const data = stream(200_000);
    log.append(data);
    await log.close();
    expect(disk.content(FILE).equals(data)).toBe(true);
    expect(disk.openCount()).toBe(0);
  });

  it('close gives up after its time limit when the disk hangs', async () => {
    const log = await newLog();
    disk.held = new Promise(() => {});
    log.append(Buffer.from('x'));
    let closed = false;
    void log.close().then(() => { closed = true; });
    await settle(LOG_CLOSE_TIMEOUT_MS - 10);
    expect(closed).toBe(false);
    await settle(20);
    expect(closed).toBe(true);
  });
});

describe('rotation', () => {
  it.each([[1024, [1]], [1024, [1000, 48]], [1024, [4096]], [3000, [1023, 1025, 7]], [65536, [4095]]])(
    'at %i bytes FILE becomes FILE.1, split exactly at the limit (pieces %j)', async (limit, sizes) => {
      const log = await newLog(limit);
      const data = stream(limit * 5 + 123);
      for (const part of pieces(data, sizes)) log.append(part);
      await settle();
      // Nothing lost or reordered over all generations; each full one is exactly the limit.
      expect(disk.everything().equals(data)).toBe(true);
      expect(disk.inodes.slice(0, -1).map((node) => node.size)).toEqual(Array(5).fill(limit));
      expect(disk.content(FILE).length).toBe(123);
      expect(disk.content(`${FILE}.1`).equals(data.subarray(limit * 4, limit * 5))).toBe(true);
      expect(disk.names.size).toBe(2);
    });

  it('a FILE already over the limit is rotated before the first write', async () => {
    await disk.write((await disk.open(FILE)).fd, [stream(5000)]);
    const log = await newLog(1024);
    log.append(Buffer.from('new'));
    await settle();
    expect(disk.content(`${FILE}.1`).length).toBe(5000);
    expect(disk.content(FILE).toString()).toBe('new');
  });

  it('FILE emptied by another rotator (copytruncate): the limit counts from there, and its FILE.1 is left alone', async () => {
    const log = await newLog(1024);
    const data = stream(2000);
    log.append(data.subarray(0, 900));
    await settle();
    disk.copyTruncate(FILE, `${FILE}.1`);
    log.append(data.subarray(900, 1400));
    await settle();
    expect(disk.content(`${FILE}.1`).equals(data.subarray(0, 900))).toBe(true);
    expect(disk.content(FILE).equals(data.subarray(900, 1400))).toBe(true);
    // The file's own limit still holds, counted from the truncation.
    log.append(data.subarray(1400));
    await settle();
    expect(disk.content(`${FILE}.1`).equals(data.subarray(900, 900 + 1024))).toBe(true);
    expect(disk.content(FILE).equals(data.subarray(900 + 1024))).toBe(true);
  });

  it('FILE moved away by another rotator, which made a new FILE, just before the limit: that FILE is written, not renamed over its FILE.1', async () => {
    const log = await newLog(1024);
    const data = stream(1400);
    log.append(data.subarray(0, 900));
    await settle();
    // logrotate's `create`: FILE renamed to FILE.1, a new empty FILE made; the log has not looked yet.
    await disk.rename(FILE, `${FILE}.1`);
    await disk.close((await disk.open(FILE)).fd);
    log.append(data.subarray(900));
    await settle();
    expect(disk.everything().equals(data)).toBe(true);
    expect(disk.content(`${FILE}.1`).equals(data.subarray(0, 1024))).toBe(true);
    expect(disk.content(FILE).equals(data.subarray(1024))).toBe(true);
    expect(log.status).toEqual({ file: FILE, writing: true, notLoggedBytes: 0 });
  });
});

describe('when the disk cannot keep up', () => {
  it('append returns at once; beyond the backlog bytes are dropped, counted, and noted where they are missing', async () => {
    const log = await newLog();
    let release!: () => void;
    disk.held = new Promise((resolve) => { release = resolve; });
    const data = stream(LOG_MAX_BACKLOG_BYTES + 2 * MIB);
    const parts = pieces(data, [4096]);
    for (const part of parts) log.append(part); // would hang here if append waited for the disk
    await settle();
    expect(log.status).toMatchObject({ writing: false, reason: 'the disk fell 4 MiB behind the program' });
    // The write in flight took the first gathered bytes; the backlog holds 4 MiB more.
    release();
    disk.held = undefined;
    await settle();
    log.append(Buffer.from('after'));
    await settle();
    const file = disk.content(FILE);
    const dropped = log.status.notLoggedBytes;
    expect(dropped).toBeGreaterThanOrEqual(2 * MIB - 64 * 1024);
    const kept = data.length - dropped;
    expect(file.equals(Buffer.concat([data.subarray(0, kept), notice(dropped, 'the disk fell 4 MiB behind the program'), Buffer.from('after')]))).toBe(true);
    expect(log.status).toEqual({ file: FILE, writing: true, notLoggedBytes: dropped });
  });
});

describe('when writing fails', () => {
  it('a full disk: the output waits up to the backlog, the rest is counted; once there is space the file says what is missing', async () => {
    const log = await newLog();
    disk.free = 1000;
    const before = stream(1500, 1);
    log.append(before);
    await settle(); // 1000 bytes fit; the rest fails
    expect(log.status).toEqual({ file: FILE, writing: false, notLoggedBytes: 0, reason: 'No space left on device' });
    const during = stream(LOG_MAX_BACKLOG_BYTES + 1 * MIB, 2);
    for (const part of pieces(during, [4096])) log.append(part);
    await settle(5 * LOG_RETRY_MS); // retries keep failing
    expect(log.status.writing).toBe(false);
    disk.free = Infinity;
    await settle(LOG_RETRY_MS);
    const dropped = log.status.notLoggedBytes;
    expect(dropped).toBeGreaterThanOrEqual(1 * MIB);
    log.append(Buffer.from('after'));
    await settle();
    expect(disk.content(FILE).equals(Buffer.concat([
      before, during.subarray(0, during.length - dropped), notice(dropped, 'No space left on device'), Buffer.from('after'),
    ]))).toBe(true);
    expect(log.status).toEqual({ file: FILE, writing: true, notLoggedBytes: dropped });
  });

  it('close on a disk that fails the last write and then the close too: it resolves, and nothing is thrown', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      const log = await newLog();
      disk.free = 0;
      disk.closeError = 'EIO';
      log.append(stream(100));
      await log.close();
      await turnOfTheEventLoop(); // where Node reports a rejection nobody handled
      expect(unhandled).toEqual([]);
      expect(log.status.notLoggedBytes).toBe(100);
      expect(disk.openCount()).toBe(0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      disk.free = Infinity;
      disk.closeError = undefined;
    }
  });

  it('a short write is continued, not repeated', async () => {
    const log = await newLog();
    disk.free = 10;
    log.append(stream(30));
    await settle();
    disk.free = Infinity;
    await settle(LOG_RETRY_MS);
    expect(disk.content(FILE).equals(stream(30))).toBe(true);
    expect(log.status).toEqual({ file: FILE, writing: true, notLoggedBytes: 0 });
  });

  it('FILE removed: a new FILE begins, saying how much went to the removed one since the last check', async () => {
    const log = await newLog();
    log.append(Buffer.from('one'));
    await settle(LOG_CHECK_INTERVAL_MS); // checked: FILE is the file written
    log.append(Buffer.from('two'));
    await settle();
    disk.remove(FILE);
    log.append(Buffer.from('three'));
    await settle(LOG_CHECK_INTERVAL_MS);
    log.append(Buffer.from('four'));
    await settle();
    expect(disk.content(FILE).equals(Buffer.concat([notice(8, 'the log file was removed'), Buffer.from('four')]))).toBe(true);
  });

  it('FILE moved away (a log rotator): its bytes are there, and a new FILE continues without a notice', async () => {
    const log = await newLog();
    log.append(Buffer.from('one'));
    await settle();
    disk.names.set('/logs/out.old', disk.names.get(FILE)!);
    disk.names.delete(FILE);
    await settle(LOG_CHECK_INTERVAL_MS);
    log.append(Buffer.from('two'));
    await settle();
    expect(disk.content('/logs/out.old').toString()).toBe('one');
    expect(disk.content(FILE).toString()).toBe('two');
    expect(log.status.notLoggedBytes).toBe(0);
  });

  it('directory removed: the session goes on; once it is back, FILE is made again with the gap noted', async () => {
    const log = await newLog();
    log.append(Buffer.from('one'));
    await settle(LOG_CHECK_INTERVAL_MS);
    disk.removeDirectory();
    log.append(Buffer.from('two'));
    await settle(LOG_CHECK_INTERVAL_MS);
    expect(log.status).toMatchObject({ writing: false, reason: `cannot open ${FILE}: No such file or directory` });
    const during = stream(LOG_MAX_BACKLOG_BYTES + 100);
    log.append(during);
    log.append(Buffer.from('waits'));
    await settle(3 * LOG_RETRY_MS);
    disk.directoryGone = false;
    await settle(LOG_RETRY_MS);
    // "two" went to the removed file, `during` was dropped: one gap, both reasons.
    expect(disk.content(FILE).toString()).toBe(
      `${notice(3 + during.length, `the log file was removed; cannot open ${FILE}: No such file or directory`)}waits`);
    expect(log.status).toEqual({ file: FILE, writing: true, notLoggedBytes: 3 + during.length });
  });
});
