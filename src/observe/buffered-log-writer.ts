/**
 * A buffered, asynchronous line writer for the access log, the hottest path in keel: lines
 * are appended to a buffer that is written with one fs.write every 20 ms or 64 KiB, like
 * Nginx's `access_log ... buffer= flush=` (measured in DESIGN.md: 0.94-0.99 of no logging,
 * against 0.63-0.76 for pino). Written by hand because no library offers shared buffers
 * that a watchdog thread can flush when the event loop is stuck.
 *
 * The buffers are SharedArrayBuffers: `shared` hands them to the watchdog thread, which
 * writes out what is pending if the main thread stops (see worker/watchdog.ts).
 */
import { closeSync, fstatSync, openSync, write, writeSync } from 'node:fs';

const BUFFER_SIZE = 64 * 1024;
const FLUSH_MS = 20;
/** Writes to a pipe up to this size are atomic, so lines from several workers never interleave. */
const PIPE_BUF = 4096;

/** State shared with the watchdog thread: [fd, bytes pending in the active buffer, active buffer index, flushing flag]. */
export interface SharedLogBuffers {
  readonly buffers: readonly SharedArrayBuffer[];
  readonly state: Int32Array;
}

export const STATE_FD = 0;
export const STATE_PENDING = 1;
export const STATE_ACTIVE = 2;
/** Bytes of the active buffer the watchdog thread already wrote while the main thread was stuck. */
export const STATE_WATCHDOG_FLUSHED = 3;

export class BufferedLogWriter {
  readonly shared: SharedLogBuffers;
  private readonly views: Buffer[];
  private active = 0;
  private used = 0;
  private fd: number;
  private chunkLimit: number;
  private writing = false;
  private timer: NodeJS.Timeout | null = null;
  private overflow: Buffer[] = [];
  private closed = false;

  /** @param target a file path (opened for append), or '-' for stdout. */
  constructor(private readonly target: string) {
    this.fd = this.open();
    this.chunkLimit = this.isPipeLike(this.fd) ? PIPE_BUF : BUFFER_SIZE;
    const buffers = [new SharedArrayBuffer(BUFFER_SIZE), new SharedArrayBuffer(BUFFER_SIZE)];
    this.views = buffers.map((b) => Buffer.from(b));
    this.shared = { buffers, state: new Int32Array(new SharedArrayBuffer(16)) };
    Atomics.store(this.shared.state, STATE_FD, this.fd);
  }

  private open(): number {
    return this.target === '-' ? 1 : openSync(this.target, 'a', 0o640);
  }

  private isPipeLike(fd: number): boolean {
    try {
      const stat = fstatSync(fd);
      return !stat.isFile();
    } catch {
      return true;
    }
  }

  /** Appends one line. Lines must be ASCII (the access-log formats escape everything else): they are copied byte for byte. */
  write(line: string): void {
    if (this.closed) return;
    if (this.overflow.length > 0 || this.used + line.length > BUFFER_SIZE) {
      this.flush();
      if (this.overflow.length > 0 || this.used + line.length > BUFFER_SIZE) {
        // The other buffer is still being written: keep order by queueing behind it.
        this.overflow.push(Buffer.from(line, 'latin1'));
        if (this.timer === null) this.timer = setTimeout(this.onTimer, FLUSH_MS).unref();
        return;
      }
    }
    this.used += this.views[this.active].write(line, this.used, 'latin1');
    Atomics.store(this.shared.state, STATE_PENDING, this.used);
    if (this.timer === null) this.timer = setTimeout(this.onTimer, FLUSH_MS).unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  /** Starts writing what is pending; the next lines go to the other buffer. */
  flush(): void {
    if (this.writing || (this.used === 0 && this.overflow.length === 0)) {
      if ((this.used > 0 || this.overflow.length > 0) && this.timer === null) this.timer = setTimeout(this.onTimer, FLUSH_MS).unref();
      return;
    }
    const chunk = this.views[this.active].subarray(Atomics.exchange(this.shared.state, STATE_WATCHDOG_FLUSHED, 0), this.used);
    const extra = this.overflow;
    this.overflow = [];
    this.active ^= 1;
    this.used = 0;
    Atomics.store(this.shared.state, STATE_ACTIVE, this.active);
    Atomics.store(this.shared.state, STATE_PENDING, 0);
    this.writing = true;
    this.writeChunks([chunk, ...extra], 0, 0);
  }

  private writeChunks(chunks: Buffer[], index: number, offset: number): void {
    if (index >= chunks.length) {
      this.writing = false;
      if ((this.used > 0 || this.overflow.length > 0) && this.timer === null) this.timer = setTimeout(this.onTimer, FLUSH_MS).unref();
      return;
    }
    const chunk = chunks[index];
    if (offset >= chunk.length) return this.writeChunks(chunks, index + 1, 0);
    const end = this.lineBoundary(chunk, offset);
    write(this.fd, chunk, offset, end - offset, null, (err, written) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.writeChunks(chunks, index, offset), 2).unref();
          return;
        }
        // A log that cannot be written must not take the server down; drop this chunk.
        return this.writeChunks(chunks, index + 1, 0);
      }
      this.writeChunks(chunks, index, offset + written);
    });
  }

  /** The end of the largest run of whole lines from `offset` that fits one atomic write. */
  private lineBoundary(chunk: Buffer, offset: number): number {
    const limit = offset + this.chunkLimit;
    if (chunk.length <= limit) return chunk.length;
    const newline = chunk.lastIndexOf(0x0a, limit - 1);
    return newline >= offset ? newline + 1 : limit;
  }

  /** Writes everything pending synchronously: at exit. */
  flushSync(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pending = [this.views[this.active].subarray(Atomics.exchange(this.shared.state, STATE_WATCHDOG_FLUSHED, 0), this.used), ...this.overflow];
    this.used = 0;
    this.overflow = [];
    Atomics.store(this.shared.state, STATE_PENDING, 0);
    for (const chunk of pending) writeAllSync(this.fd, chunk);
  }

  /** Reopens the file (after logrotate moved it): USR1. */
  reopen(): void {
    if (this.target === '-') return;
    this.flushSync();
    const old = this.fd;
    this.fd = this.open();
    Atomics.store(this.shared.state, STATE_FD, this.fd);
    // An async write may still be using the old fd; close it once that has had time to finish.
    setTimeout(() => closeQuietly(old), 1000).unref();
  }

  close(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    if (this.target !== '-') closeQuietly(this.fd);
  }
}

export function writeAllSync(fd: number, chunk: Buffer): void {
  let offset = 0;
  for (let attempts = 0; offset < chunk.length && attempts < 1000; attempts++) {
    try {
      offset += writeSync(fd, chunk, offset, chunk.length - offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
