/**
 * Response buffering for proxy routes, for clients that read slower than the upstream writes.
 * Paused instead (pure backpressure), such a client holds the upstream worker that writes the
 * response until it has read nearly all of it: a Gunicorn sync worker serves nobody else meanwhile.
 * Nginx buffers responses for this reason (proxy_buffering, on by default).
 *
 * Unlike Nginx, keel delays nothing: while the client keeps up, every chunk goes straight to it
 * (an event stream stays live). Only the backlog of a client that falls behind is held: in the
 * response's own write buffer up to MEMORY_BYTES, then, once a spool starts, in an unlinked
 * temporary file (unlinked-file.ts), up to --proxy-response-buffer bytes. Past that the upstream is
 * paused until the client catches up, as before.
 *
 * Once started, a spool carries the rest of the response, so bytes can never overtake one another.
 */
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { openUnlinkedFile } from './unlinked-file.js';

/** The backlog a response's write buffer may hold before a spool takes over. */
export const MEMORY_BYTES = 256 * 1024;
/** How much of the file goes to the client per read. */
const READ_BYTES = 64 * 1024;

export interface SpoolEvents {
  /** The upstream may send again (it was paused because the spool was full). */
  resume(): void;
  /** Everything the upstream sent has been handed to the client, after finish(). */
  drained(): void;
  /** The file failed (disk full, say): the response cannot be completed. */
  failed(err: Error): void;
}

export class ResponseSpool {
  private file: FileHandle | null = null;
  /** Chunks taken but not yet in the file, in order. */
  private queue: Buffer[] = [];
  private queued = 0;
  /** Bytes in the file, and bytes of it handed to the client. */
  private written = 0;
  private sent = 0;
  private writing = false;
  private reading = false;
  private waitingForDrain = false;
  private paused = false;
  private finished = false;
  private closed = false;
  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    this.pump();
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly max: number,
    private readonly events: SpoolEvents,
  ) {
    // The spool outlives the upstream's part of the exchange: it watches the client itself.
    res.once('close', () => this.close());
  }

  /** Bytes held for the client (queued and in the file). */
  get backlog(): number {
    return this.queued + this.written - this.sent;
  }

  /** Takes the next chunk of the response; false asks the upstream to pause until resume(). */
  push(chunk: Buffer): boolean {
    if (this.closed) return true;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.writeQueued();
    if (this.backlog >= this.max) {
      this.paused = true;
      return false;
    }
    return true;
  }

  /** The upstream is done: drained() follows once the client has been handed everything. */
  finish(): void {
    this.finished = true;
    this.pump();
  }

  /** The client left or the response broke: the file goes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.res.removeListener('drain', this.onDrain);
    // A write or read in flight still holds the handle; the last of them closes it.
    if (!this.writing && !this.reading) this.closeFile();
  }

  private closeFile(): void {
    const file = this.file;
    this.file = null;
    file?.close().catch(() => {});
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.close();
    this.events.failed(err);
  }

  /** Appends the queue to the file, one write at a time, then lets the client side read on. */
  private writeQueued(): void {
    if (this.writing || this.closed || this.queue.length === 0) return;
    this.writing = true;
    const chunks = this.queue;
    const size = this.queued;
    this.queue = [];
    this.queued = 0;
    void (async () => {
      try {
        this.file ??= await openUnlinkedFile('response');
        // writev at an explicit position: one system call for the batch, never reordered.
        let offset = 0;
        while (offset < size) {
          const { bytesWritten } = await this.file.writev(offset === 0 ? chunks : [Buffer.concat(chunks).subarray(offset)], this.written + offset);
          offset += bytesWritten;
        }
        this.written += size;
      } catch (err) {
        this.writing = false;
        this.fail(err as Error);
        return;
      }
      this.writing = false;
      if (this.closed) {
        if (!this.reading) this.closeFile();
        return;
      }
      this.writeQueued();
      this.pump();
    })();
  }

  /** Hands the file's bytes to the client as fast as it takes them. */
  private pump(): void {
    if (this.reading || this.waitingForDrain || this.closed) return;
    if (this.sent === this.written) {
      if (this.finished && this.queued === 0 && !this.writing) {
        this.close();
        this.events.drained();
      }
      return;
    }
    const file = this.file!;
    const length = Math.min(READ_BYTES, this.written - this.sent);
    this.reading = true;
    file.read(Buffer.allocUnsafe(length), 0, length, this.sent).then(
      ({ bytesRead, buffer }) => {
        this.reading = false;
        if (this.closed) {
          if (!this.writing) this.closeFile();
          return;
        }
        if (bytesRead === 0) return this.fail(new Error('response spool file ended early'));
        this.sent += bytesRead;
        const more = this.res.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
        if (this.paused && this.backlog < this.max / 2) {
          this.paused = false;
          this.events.resume();
        }
        if (!more) {
          this.waitingForDrain = true;
          this.res.once('drain', this.onDrain);
          return;
        }
        this.pump();
      },
      (err: Error) => {
        this.reading = false;
        this.fail(err);
      },
    );
  }
}
