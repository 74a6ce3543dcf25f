/**
 * The status page's Server-Sent Events: every open stream gets the same StatusSnapshot once a
 * second. One timer builds and serializes the snapshot once per tick and writes that one string to
 * every stream, so ten open tabs cost what one does; the timer runs only while a stream is open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from './status-snapshot.js';

export interface EventStreamOptions {
  /** Milliseconds between two snapshots. @default 1000 */
  readonly intervalMs?: number;
  /** Open streams beyond this are answered 503: each one costs a socket and a write per tick. @default 32 */
  readonly maxStreams?: number;
  /** What the browser waits before it reconnects, sent as the stream's `retry:` field. @default 2000 */
  readonly retryMs?: number;
}

export interface EventStreams {
  /** Answers GET /events: flushes the headers, sends `retry:` and a snapshot at once, then one per tick. */
  readonly open: (req: IncomingMessage, res: ServerResponse) => void;
  /** How many streams are open now. */
  readonly size: () => number;
  /** Ends every stream and refuses new ones with 503. Idempotent. */
  readonly close: () => void;
}

/**
 * A client that reads slower than we write would make the server buffer without bound: past this
 * many queued bytes (about twenty snapshots) its stream is cut and its EventSource reconnects.
 */
const MAX_QUEUED_BYTES = 1 << 20;

const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // A reverse proxy in front of the admin listener (Nginx) would otherwise hold the events back.
  'x-accel-buffering': 'no',
};

/**
 * @example
 * const streams = createEventStreams(() => telemetry.snapshot(), { maxStreams: 32 });
 * if (path === '/events') streams.open(req, res);
 * server.on('close', streams.close);
 */
export function createEventStreams(snapshot: () => StatusSnapshot, options: EventStreamOptions = {}): EventStreams {
  const intervalMs = options.intervalMs ?? 1000;
  const maxStreams = options.maxStreams ?? 32;
  const retryField = `retry: ${options.retryMs ?? 2000}\n`;
  const streams = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  function frame(): string | null {
    try {
      return `data: ${JSON.stringify(snapshot())}\n\n`;
    } catch {
      // A snapshot that cannot be built this second is skipped; the next tick tries again.
      return null;
    }
  }

  function write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_QUEUED_BYTES) {
      res.destroy();
      return;
    }
    res.write(text);
  }

  function tick(): void {
    const text = frame();
    if (text === null) return;
    for (const res of streams) write(res, text);
  }

  function forget(res: ServerResponse): void {
    streams.delete(res);
    if (streams.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    open(req, res) {
      if (closed || streams.size >= maxStreams) {
        const body = closed ? 'status page closing\n' : `too many open status streams (at most ${maxStreams})\n`;
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      res.writeHead(200, STREAM_HEADERS);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // An event stream is idle between ticks by design: no socket timeout, and each event leaves at once.
      req.socket.setTimeout(0);
      req.socket.setNoDelay(true);
      res.flushHeaders();
      streams.add(res);
      res.on('close', () => forget(res));
      // The first snapshot goes out now, in the same event as the retry: field (a client that reads
      // only the first event gets data): a page that just opened should not stay empty for a second.
      write(res, retryField + (frame() ?? '\n'));
      if (timer === null) {
        timer = setInterval(tick, intervalMs);
        timer.unref();
      }
    },
    size: () => streams.size,
    close() {
      closed = true;
      for (const res of streams) res.end();
      streams.clear();
      if (timer !== null) {
        clearInterval(timer);
        timer = null;
      }
    },
  };
}
