/**
 * Request buffering for proxy routes (Nginx's proxy_request_buffering, on by default there too):
 * the body is read whole before the upstream sees the request. Streamed instead, a client that
 * sends its body slowly holds an upstream worker for as long as it likes, and a worker that serves
 * one request at a time (Gunicorn's sync worker, the default) serves nobody else meanwhile. Gunicorn's
 * own deployment guide asks for a buffering proxy in front for exactly this reason.
 *
 * Up to MEMORY_BYTES stay in memory; a larger body goes to an unlinked temporary file
 * (unlinked-file.ts). --max-body bounds the whole.
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { openUnlinkedFile } from './unlinked-file.js';

/** Bodies up to this size are kept in memory (Nginx keeps 8-16 KiB; keel's requests are rarely larger than this). */
export const MEMORY_BYTES = 64 * 1024;

/** A request body read to its end, ready to be sent (and sent again, for a retry). */
export interface BufferedBody {
  readonly size: number;
  /** What undici sends: the bytes themselves, or a fresh stream over the file for each attempt. */
  source(): Buffer | Readable;
  /** Gives back the file, if any; idempotent. */
  release(): void;
}

class MemoryBody implements BufferedBody {
  constructor(private readonly data: Buffer) {}
  get size(): number {
    return this.data.length;
  }
  source(): Buffer {
    return this.data;
  }
  release(): void {}
}

class FileBody implements BufferedBody {
  private handle: FileHandle | null;
  constructor(
    handle: FileHandle,
    readonly size: number,
  ) {
    this.handle = handle;
  }
  source(): Readable {
    // Positional reads from 0 (start), so each attempt reads the whole body; the descriptor stays open for the next.
    return createReadStream('', { fd: this.handle!.fd, start: 0, end: this.size - 1, autoClose: false, highWaterMark: MEMORY_BYTES });
  }
  release(): void {
    const handle = this.handle;
    this.handle = null;
    handle?.close().catch(() => {});
  }
}

/**
 * Reads the request body to its end. Resolves null when the body did not arrive whole (the client
 * left, or keel refused it meanwhile): there is nothing to send then. Rejects when the body could
 * not be stored (no temporary directory, a full disk): the client should hear of that.
 *
 * @example
 *   const body = await readRequestBody(req);
 *   if (body) dispatch({ ..., body: body.source() });
 */
export async function readRequestBody(req: IncomingMessage): Promise<BufferedBody | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let file: FileHandle | null = null;
  let storeError: unknown = null;
  /** Marks a file operation's failure, to tell it apart from the request's own (a client that left). */
  const stored = <T>(operation: Promise<T>): Promise<T> =>
    operation.catch((err: unknown) => {
      storeError = err;
      throw err;
    });
  try {
    // destroyOnReturn: false leaves the request alone when done: the access log and the server still need it.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (file === null && size <= MEMORY_BYTES) {
        chunks.push(chunk);
        continue;
      }
      if (file === null) {
        file = await stored(openUnlinkedFile('body'));
        for (const held of chunks) await stored(file.write(held));
        chunks.length = 0;
      }
      // Awaited: the request is read no faster than the disk takes it.
      await stored(file.write(chunk));
    }
  } catch {
    await file?.close().catch(() => {});
    if (storeError !== null) throw storeError;
    // The client went away mid-body (or the body was refused and the connection cut).
    return null;
  }
  // Over HTTP/2, `complete` is also true for a stream that was cut; only a body read to its end counts.
  if (!req.readableEnded) {
    await file?.close().catch(() => {});
    return null;
  }
  if (file !== null) return new FileBody(file, size);
  return new MemoryBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
}
