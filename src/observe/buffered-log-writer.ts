/**
 * A buffered, asynchronous line writer for the access log, the hottest path in keel: lines are
 * copied into a byte buffer as they come and written with one fs.write every 20 ms or 64 KiB, like
 * Nginx's `access_log ... buffer= flush=` (DESIGN.md measured batching at 0.94-0.99 of no logging,
 * against 0.63-0.76 for pino). Written by hand because that batching is the whole trick.
 *
 * Each line is copied into bytes at once rather than kept as a string until the flush (as this
 * writer did before): a string held for up to 20 ms outlives the young-generation collections of
 * a busy worker and gets copied, then promoted, by the GC. Measured in a worker
 * (bench/cpu-per-request.sh, interleaved): 31.7-31.9 µs per request with strings, 30.9-31.0 µs
 * with the copy, 29.1-29.5 µs with the log off. In isolation the copy measures no better, because
 * a loop that only logs allocates nothing else and never collects (docs/benchmarks.md).
 *
 * Two buffers take turns: lines go into one while the other is being written.
 *
 * Lines must be ASCII (the access-log formats escape everything else), so they are written as
 * latin1, byte for byte.
 */
import { closeSync, fstatSync, openSync, write, writeSync } from 'node:fs';

const BATCH_BYTES = 64 * 1024;
const FLUSH_MS = 20;
/** Writes to a pipe up to this size are atomic, so lines from several workers never interleave. */
const PIPE_BUF = 4096;

export class BufferedLogWriter {
  /** Lines not yet handed to fs.write, as bytes: copied at once so no string outlives its request. */
  private buf: Buffer = Buffer.allocUnsafeSlow(BATCH_BYTES * 2);
  private used = 0;
  /** The other buffer: the batch being written while `writing`, free otherwise. */
  private spare: Buffer = Buffer.allocUnsafeSlow(BATCH_BYTES * 2);
  private fd: number;
  private readonly chunkLimit: number;
  private writing = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /** @param target a file path (opened for append), or '-' for stdout. */
  constructor(private readonly target: string) {
    this.fd = this.open();
    this.chunkLimit = this.isPipeLike(this.fd) ? PIPE_BUF : Infinity;
  }

  private open(): number {
    return this.target === '-' ? 1 : openSync(this.target, 'a', 0o640);
  }

  private isPipeLike(fd: number): boolean {
    try {
      return !fstatSync(fd).isFile();
    } catch {
      return true;
    }
  }

  /** Appends one ASCII line (with its newline). */
  write(line: string): void {
    if (this.closed) return;
    if (this.used + line.length > this.buf.length) {
      // Only while a slow write holds the other buffer and lines keep coming: nothing is dropped.
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.used + line.length));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.used += this.buf.write(line, this.used, 'latin1');
    if (this.used >= BATCH_BYTES) this.flush();
    else if (this.timer === null) this.timer = setTimeout(this.onTimer, FLUSH_MS).unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  /** Starts writing what is pending; lines written meanwhile wait for the next batch. */
  flush(): void {
    if (this.used === 0) return;
    if (this.writing) {
      this.timer ??= setTimeout(this.onTimer, FLUSH_MS).unref();
      return;
    }
    const batch = this.buf;
    const length = this.used;
    this.buf = this.spare;
    this.spare = batch;
    this.used = 0;
    this.writing = true;
    this.writeFrom(batch, length, 0);
  }

  /** Writes batch[offset, length), in chunks that end on a line boundary where writes must be atomic. */
  private writeFrom(batch: Buffer, length: number, offset: number): void {
    if (offset >= length) {
      this.writing = false;
      if (this.used > 0) this.timer ??= setTimeout(this.onTimer, FLUSH_MS).unref();
      return;
    }
    const end = this.lineBoundary(batch, length, offset);
    write(this.fd, batch, offset, end - offset, null, (err, written) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.writeFrom(batch, length, offset), 2).unref();
          return;
        }
        // A log that cannot be written must not take the server down; drop this batch.
        return this.writeFrom(batch, length, length);
      }
      this.writeFrom(batch, length, offset + written);
    });
  }

  /** The end of the largest run of whole lines from `offset` that fits one atomic write. */
  private lineBoundary(batch: Buffer, length: number, offset: number): number {
    const limit = offset + this.chunkLimit;
    if (length <= limit) return length;
    const newline = batch.lastIndexOf(10, limit - 1);
    return newline >= offset ? newline + 1 : limit;
  }

  /** Writes everything pending synchronously: at exit. */
  flushSync(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const length = this.used;
    this.used = 0;
    if (length > 0) writeAllSync(this.fd, this.buf.subarray(0, length));
  }

  /** Reopens the file (after logrotate moved it): USR1. */
  reopen(): void {
    if (this.target === '-') return;
    this.flushSync();
    const old = this.fd;
    this.fd = this.open();
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
