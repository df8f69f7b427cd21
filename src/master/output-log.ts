// The session's log (-L FILE): every byte the program writes, appended to FILE whether or not
// anyone is attached, exactly as written. It is never replayed to viewers.
//
// Policy: the log never holds up the program or a viewer. Writes are asynchronous (libuv's
// thread pool), one at a time so they stay in order, and what waits for the disk is bounded
// by LOG_MAX_BACKLOG_BYTES: output beyond that is dropped and counted, until half of it is
// written. A write or open that fails (disk full, directory removed, I/O error) is tried
// again every LOG_RETRY_MS while the output waits (up to the same bound). Where bytes were
// dropped, the file says so, at that place, once it can be written again:
// `[dt: N bytes were not logged: reason]`. At the size limit FILE becomes FILE.1 and a new
// FILE begins, so `cat FILE.1 FILE` is the stream; another rotator (logrotate) may empty FILE
// in place or move it away, and its FILE.1 is then left alone. FILE is opened without following
// symbolic links and must be a regular file owned by the user, at start and at every
// reopening.

import fs from 'node:fs';
import { DtError, describeSystemError } from '../common/errors.js';
import { fsPath } from '../common/bytes.js';
import {
  LOG_FILE_MODE, LOG_OPEN_FLAGS, checkOpenedLogFile, describeLogOpenError, discardLogFile, openLogFile, type OpenedLogFile,
} from '../common/log-file.js';
import type { OutputLogSpec, OutputLogStatus } from '../common/master-spec.js';

const MIB = 1024 * 1024;
/** Output waiting for the disk beyond which further output is dropped (and counted). */
export const LOG_MAX_BACKLOG_BYTES = 4 * MIB;
/** Output is written once this much has gathered... */
const LOG_GATHER_BYTES = 256 * 1024;
/** ...or once it has waited this long: one write per pty read would cost the relay. */
const LOG_GATHER_DELAY_MS = 5;
/** After a failed write, rename or open, how long until the log tries again. */
export const LOG_RETRY_MS = 1_000;
/** How often the log checks that FILE is still the file it writes to (removed, moved away). */
export const LOG_CHECK_INTERVAL_MS = 1_000;
/**
 * Output is copied into stores of this size rather than kept in the Buffers the pty gave: those
 * then die young, as they do without a log, instead of surviving into V8's old generation
 * (which cost the master more in garbage collection than the copy does), and a program that
 * writes a byte at a time costs neither a queue entry nor an iovec per byte.
 */
const LOG_STORE_BYTES = 256 * 1024;
/** Written stores kept for reuse, so that a steady stream allocates none. */
const LOG_SPARE_STORES = 2;
/** At most this many buffers in one writev (IOV_MAX is 1024 on Linux). */
const LOG_MAX_BUFFERS_PER_WRITE = 256;
/**
 * How long the end of a session waits for the log's last writes. Tests that hold the log's
 * close to look at the session meanwhile lengthen it with DT_TEST_LOG_CLOSE_TIMEOUT_MS, so that a
 * loaded machine does not end the wait under them; nothing else should.
 */
export const LOG_CLOSE_TIMEOUT_MS = Number(process.env['DT_TEST_LOG_CLOSE_TIMEOUT_MS']) || 2_000;

export type { OpenedLogFile } from '../common/log-file.js';

/** The file operations the log uses: Node's, or a simulated disk in the unit tests. */
export interface LogFileSystem {
  /** Opens (creating) FILE for appending, safely; rejects with the reason as the message. */
  open(file: string): Promise<OpenedLogFile>;
  write(fd: number, buffers: Buffer[]): Promise<number>;
  rename(from: string, to: string): Promise<void>;
  close(fd: number): Promise<void>;
  /** Device and inode of what is at `file` now (not followed), or undefined when nothing is. */
  identify(file: string): Promise<{ dev: number; ino: number } | undefined>;
  /**
   * The open file now: how many names it has left (0 once it was removed), and how many bytes
   * it holds (fewer than were written once another rotator emptied it).
   */
  openFile(fd: number): Promise<{ links: number; size: number }>;
}

/** Output dropped at this place in the stream; written as a notice when the file can be written. */
class Gap {
  bytes = 0;
  readonly reasons: string[] = [];

  add(bytes: number, reason: string): void {
    this.bytes += bytes;
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
  }

  notice(): Buffer {
    return Buffer.from(`\r\n[dt: ${this.bytes} bytes were not logged: ${this.reasons.join('; ')}]\r\n`);
  }
}

/**
 * data: the program's bytes, in `store` (with room after them for more); gap: a place where
 * some were dropped; notice: the rest of a notice half written.
 */
type Entry = { data: Buffer; store: Buffer } | { gap: Gap } | { notice: Buffer };

export class OutputLog {
  private readonly queue: Entry[] = [];
  /** program bytes in the queue */
  private queuedBytes = 0;
  private file: OpenedLogFile | undefined;
  private running = false;
  private readonly spareStores: Buffer[] = [];
  private gatherTimer: NodeJS.Timeout | undefined;
  /** what waits has waited LOG_GATHER_DELAY_MS: write it even if it is little */
  private gathered = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Undefined while the looks at FILE wait for the program's next output (startChecking). */
  private checkTimer: NodeJS.Timeout | undefined;
  private checkDue = false;
  /** why the last write, rename or open failed; cleared by the next one that succeeds */
  private failure: string | undefined;
  /** program bytes written since FILE was last seen to be the file written to */
  private writtenSinceCheck = 0;
  private notLoggedBytes = 0;
  private closing = false;
  private onClosed: (() => void) | undefined;

  constructor(
    private readonly spec: OutputLogSpec,
    opened: OpenedLogFile,
    private readonly files: LogFileSystem,
  ) {
    this.file = opened;
    this.checkTimer = this.startChecking();
  }

  /**
   * Looks at FILE every LOG_CHECK_INTERVAL_MS while output is written, or while FILE is gone.
   * Once a look finds nothing written since the last, the looks stop until the program's next
   * output, and one is taken before it is written: nothing can have gone to a file moved away
   * meanwhile. An idle master so stays idle: looking every second woke it, and left it the
   * garbage of a file-system call each time, which no collection came for (its private memory
   * grew 5 MiB in 4 minutes).
   */
  private startChecking(): NodeJS.Timeout {
    const timer = setInterval(() => {
      if (this.writtenSinceCheck === 0 && this.file !== undefined) {
        clearInterval(timer);
        this.checkTimer = undefined;
        return;
      }
      this.checkDue = true;
      this.run();
    }, LOG_CHECK_INTERVAL_MS);
    timer.unref();
    return timer;
  }

  /** Output from the program. Returns at once, whatever the disk does. */
  append(data: Buffer): void {
    if (this.closing || data.length === 0) return;
    if (this.queuedBytes + data.length > LOG_MAX_BACKLOG_BYTES || this.stillDropping()) {
      this.dropAtEnd(data.length, this.failure ?? `the disk fell ${LOG_MAX_BACKLOG_BYTES / MIB} MiB behind the program`);
      return;
    }
    if (this.checkTimer === undefined) {
      this.checkDue = true;
      this.checkTimer = this.startChecking();
    }
    this.enqueue(data);
    this.queuedBytes += data.length;
    if (this.running || this.retryTimer) return; // the running writer or the retry takes it
    if (this.queuedBytes >= LOG_GATHER_BYTES) this.run();
    else this.gatherTimer ??= setTimeout(this.onGathered, LOG_GATHER_DELAY_MS);
  }

  /**
   * Once output is dropped, it is until half the backlog is written: one gap with one notice,
   * not a notice between every few pieces that happen to fit.
   */
  private stillDropping(): boolean {
    const last = this.queue[this.queue.length - 1];
    return last !== undefined && 'gap' in last && this.queuedBytes > LOG_MAX_BACKLOG_BYTES / 2;
  }

  /**
   * Copies data after the last entry's bytes while its store has room, then into new stores.
   * (A write in progress holds a view of bytes before that room: it is never touched.)
   */
  private enqueue(data: Buffer): void {
    let copied = 0;
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && 'store' in last) {
      const end = last.data.byteOffset + last.data.length - last.store.byteOffset;
      copied = data.copy(last.store, end);
      last.data = last.store.subarray(end - last.data.length, end + copied);
    }
    while (copied < data.length) {
      const store = this.spareStores.pop() ?? Buffer.allocUnsafeSlow(LOG_STORE_BYTES);
      const count = data.copy(store, 0, copied);
      this.queue.push({ data: store.subarray(0, count), store });
      copied += count;
    }
  }

  get status(): OutputLogStatus {
    const last = this.queue[this.queue.length - 1];
    const dropping = last !== undefined && 'gap' in last;
    const reason = this.failure ?? (dropping ? last.gap.reasons[last.gap.reasons.length - 1] : undefined);
    return {
      file: this.spec.file,
      writing: reason === undefined,
      notLoggedBytes: this.notLoggedBytes,
      ...(reason === undefined ? {} : { reason }),
    };
  }

  /** Writes what is waiting (no more retries), closes FILE; resolves within timeoutMs whatever the disk does. */
  close(timeoutMs = LOG_CLOSE_TIMEOUT_MS): Promise<void> {
    this.closing = true;
    clearInterval(this.checkTimer);
    clearTimeout(this.gatherTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.onClosed?.(), timeoutMs);
      this.onClosed = () => {
        this.onClosed = undefined;
        clearTimeout(timer);
        resolve();
      };
      this.run();
    });
  }

  /** The session could not start after all: FILE is closed, and removed if the session made it and wrote nothing. */
  abandon(): void {
    this.closing = true;
    clearInterval(this.checkTimer);
    clearTimeout(this.gatherTimer);
    if (this.file !== undefined) discardLogFile(this.spec.file, this.file.fd, this.spec.created === true);
    this.file = undefined;
  }

  private readonly onGathered = (): void => {
    this.gatherTimer = undefined;
    this.gathered = true;
    this.run();
  };

  private readonly run = (): void => {
    if (this.running || this.retryTimer) return;
    this.running = true;
    void this.drive();
  };

  /**
   * One operation at a time, in order, until nothing is left to do or one fails. Output is
   * written once LOG_GATHER_BYTES of it or LOG_GATHER_DELAY_MS have gathered, also between
   * writes: a write per pty read would cost the master a third more CPU per byte.
   */
  private async drive(): Promise<void> {
    try {
      for (;;) {
        if (this.file === undefined) {
          if (this.closing && this.queue.length === 0) break;
          this.file = await this.files.open(this.spec.file);
        }
        if (this.checkDue) {
          this.checkDue = false;
          await this.checkFileIsStillOurs();
        } else if (this.queue.length > 0 && (this.gathered || this.closing || this.queuedBytes >= LOG_GATHER_BYTES)) {
          await this.writeSome();
        } else {
          if (this.queue.length > 0) this.gatherTimer ??= setTimeout(this.onGathered, LOG_GATHER_DELAY_MS);
          break;
        }
      }
      if (this.closing) await this.closeFile();
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
    }
    if (this.closing) this.onClosed?.();
  }

  private fail(error: unknown): void {
    this.failure = describeSystemError(error);
    if (!this.closing) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.gathered = true; // what waits has waited long enough
        this.run();
      }, LOG_RETRY_MS);
      this.retryTimer.unref();
      return;
    }
    // The session is over: what could not be written is lost. A close that fails as well (NFS
    // reports the failed write again) has released the descriptor all the same: nothing more is lost.
    this.notLoggedBytes += this.queuedBytes;
    this.closeFile().catch(() => {});
  }

  /** Writes from the front of the queue, up to the size limit; rotates at the limit. */
  private async writeSome(): Promise<void> {
    const file = this.file!;
    if (file.size >= this.spec.limitBytes) {
      // Another rotator may have emptied FILE in place (logrotate's copytruncate): the limit
      // counts what FILE holds, or the next rotation would come early and replace its copy.
      file.size = (await this.files.openFile(file.fd)).size;
      if (file.size >= this.spec.limitBytes) return this.rotate();
    }
    const { buffers, all } = this.frontBuffers(this.spec.limitBytes - file.size);
    // What arrives during the write gathers anew; what the write leaves (at the size limit) does not wait again.
    this.gathered = !all;
    const written = await this.files.write(file.fd, buffers);
    file.size += written;
    this.failure = undefined;
    this.consume(written);
  }

  /** The queue's first bytes, at most `room` of them, with each gap written as its notice; `all`: that is the whole queue. */
  private frontBuffers(room: number): { buffers: Buffer[]; all: boolean } {
    const buffers: Buffer[] = [];
    let cut = false;
    for (let index = 0; index < this.queue.length && room > 0 && buffers.length < LOG_MAX_BUFFERS_PER_WRITE; index++) {
      const entry = this.queue[index]!;
      let bytes = 'data' in entry ? entry.data : 'gap' in entry ? entry.gap.notice() : entry.notice;
      if (bytes.length > room) {
        bytes = bytes.subarray(0, room);
        cut = true;
      }
      buffers.push(bytes);
      room -= bytes.length;
    }
    return { buffers, all: !cut && buffers.length === this.queue.length };
  }

  /** Takes `written` bytes off the front of the queue: they are in the file. */
  private consume(written: number): void {
    while (written > 0) {
      const entry = this.queue[0]!;
      if ('data' in entry) {
        const taken = Math.min(written, entry.data.length);
        this.queuedBytes -= taken;
        this.writtenSinceCheck += taken;
        written -= taken;
        if (taken < entry.data.length) {
          entry.data = entry.data.subarray(taken);
          continue;
        }
        this.queue.shift();
        // Written, and no longer in the queue: nothing refers to the store any more.
        if (this.spareStores.length < LOG_SPARE_STORES) this.spareStores.push(entry.store);
        continue;
      }
      const notice = 'gap' in entry ? entry.gap.notice() : entry.notice;
      const taken = Math.min(written, notice.length);
      written -= taken;
      if (taken === notice.length) this.queue.shift();
      else this.queue[0] = { notice: notice.subarray(taken) };
    }
  }

  /**
   * FILE is full: it becomes FILE.1 (replacing an older one) and a new FILE begins. Unless
   * another rotator moved FILE away since the last check (and may have made a new FILE, and
   * FILE.1 is then its copy): the new FILE is written, and nothing is renamed.
   */
  private async rotate(): Promise<void> {
    if (!(await this.checkFileIsStillOurs())) return;
    await this.closeFile();
    await this.files.rename(this.spec.file, `${this.spec.file}.1`);
    this.file = await this.files.open(this.spec.file);
    this.writtenSinceCheck = 0;
  }

  /**
   * Someone moved FILE away (a log rotator: its bytes are there) or removed it, or its
   * directory (what was written since the last check is lost): a new FILE is opened. Returns
   * whether FILE is still the file written to.
   */
  private async checkFileIsStillOurs(): Promise<boolean> {
    const file = this.file!;
    const current = await this.files.identify(this.spec.file);
    if (current?.dev === file.dev && current.ino === file.ino) {
      this.writtenSinceCheck = 0;
      return true;
    }
    const removed = (await this.files.openFile(file.fd)).links === 0;
    if (removed && this.writtenSinceCheck > 0) this.dropAtFront(this.writtenSinceCheck, 'the log file was removed');
    this.writtenSinceCheck = 0;
    await this.closeFile();
    return false;
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    if (file === undefined) return;
    this.file = undefined;
    await this.files.close(file.fd);
  }

  private dropAtEnd(bytes: number, reason: string): void {
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && 'gap' in last) last.gap.add(bytes, reason);
    else this.queue.push({ gap: newGap(bytes, reason) });
    this.notLoggedBytes += bytes;
  }

  private dropAtFront(bytes: number, reason: string): void {
    const first = this.queue[0];
    if (first !== undefined && 'gap' in first) first.gap.add(bytes, reason);
    else this.queue.unshift({ gap: newGap(bytes, reason) });
    this.notLoggedBytes += bytes;
    this.run();
  }
}

function newGap(bytes: number, reason: string): Gap {
  const gap = new Gap();
  gap.add(bytes, reason);
  return gap;
}

/** `dt -N`: the master opens FILE itself, before anything else exists. Throws a DtError (`FILE: reason`). */
export function openOutputLog(spec: OutputLogSpec): OutputLog {
  const { created, ...opened } = openLogFile(spec.file);
  return new OutputLog({ ...spec, created }, opened, nodeLogFiles);
}

/** The log file the creating command opened and handed over at `fd`. */
export function adoptOutputLog(spec: OutputLogSpec, fd: number): OutputLog {
  return new OutputLog(spec, { ...checkOpenedLogFile(fs.fstatSync(fd), spec.file), fd }, nodeLogFiles);
}

/** Node's file system, each call asynchronous (the thread pool). */
const nodeLogFiles: LogFileSystem = {
  async open(file) {
    const fd = await new Promise<number>((resolve, reject) => fs.open(fsPath(file), LOG_OPEN_FLAGS, LOG_FILE_MODE, (error, opened) => {
      if (error) reject(new Error(`cannot open ${file}: ${describeLogOpenError(error)}`));
      else resolve(opened);
    }));
    try {
      const stats = await new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (error, result) => (error ? reject(error) : resolve(result))));
      return { ...checkOpenedLogFile(stats, file), fd };
    } catch (error) {
      fs.close(fd, () => { /* it was refused; nothing was written to it */ });
      throw new Error(`cannot open ${error instanceof DtError ? error.message : `${file}: ${describeSystemError(error)}`}`);
    }
  },
  write: (fd, buffers) => new Promise((resolve, reject) => fs.writev(fd, buffers, (error, written) => (error ? reject(error) : resolve(written)))),
  rename: (from, to) => new Promise((resolve, reject) => fs.rename(fsPath(from), fsPath(to), (error) => {
    if (error) reject(new Error(`cannot rename ${from} to ${to}: ${describeSystemError(error)}`));
    else resolve();
  })),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (error) => (error ? reject(error) : resolve()))),
  identify: (file) => new Promise((resolve, reject) => fs.lstat(fsPath(file), (error, stats) => {
    if (!error) return resolve({ dev: stats.dev, ino: stats.ino });
    // ENOENT, ENOTDIR: nothing there (FILE or its directory removed).
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return resolve(undefined);
    reject(error);
  })),
  openFile: (fd) => new Promise((resolve, reject) => fs.fstat(fd, (error, stats) => (error ? reject(error) : resolve({ links: stats.nlink, size: stats.size })))),
};
