/**
 * The access-log stage: one line per request when its response closes, however it ended
 * (answered, timed out, aborted by the client, refused). Registered with a shared function, not a
 * per-request closure, since this runs for every request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AccessFormatter, AccessRecord } from '../observe/access-log-format.js';
import type { BufferedLogWriter } from '../observe/buffered-log-writer.js';
import type { Redactor } from '../observe/redact.js';
import type { InflightRequests } from '../worker/inflight.js';
import { peerAddressOf } from './proxy-protocol.js';
import { KeelH2Response } from './response-headers.js';
import { plainAddress } from './trusted-proxies.js';
import type { RequestCounters } from '../worker/request-counters.js';
import type { RequestContext } from './request-context.js';

/** The event of a request the worker was still serving when it got stuck. */
const WORKER_TIMEOUT = 'worker-timeout';

export interface AccessLogDeps {
  readonly format: AccessFormatter | null;
  readonly writer: BufferedLogWriter | null;
  readonly redact: Redactor;
  /** Whether any secret values are known; without them only URL passwords need looking for. */
  readonly hasSecrets: boolean;
  readonly inflight: InflightRequests;
  /** Counts finished requests, for --max-requests. */
  readonly onRequestDone: () => void;
  /** The metrics' counters; null leaves them out (tests of the log alone). */
  readonly counters: RequestCounters | null;
}

/** `req` rather than its socket: over HTTP/2, reading req.socket builds a Proxy, and the count needs none. */
function bodyBytes(res: ServerResponse, bytesAtStart: number, req: IncomingMessage): number {
  if (res.req.method === 'HEAD' || res.statusCode === 304 || res.statusCode === 204) return 0;
  // HTTP/2: streams share the connection's byte count, so the response counts its own.
  if (res instanceof KeelH2Response) return res.bodyBytes;
  const length = res.getHeader('content-length');
  if (length !== undefined && res.writableFinished) return Number(length);
  const socket = req.socket as Socket | null;
  if (!socket) return -1;
  const head = (res as ServerResponse & { _header?: string | null })._header;
  return Math.max(0, socket.bytesWritten - bytesAtStart - (head ? head.length : 0));
}

export function createAccessLog(deps: AccessLogDeps) {
  const { format, writer, redact, hasSecrets, inflight, onRequestDone, counters } = deps;

  /** Writes a request's line. Only what the client sent can carry a secret into it; the rest is keel's own text. */
  function writeLine(ctx: RequestContext): void {
    // Checking those fields spares copying every line through the redactor.
    if (hasSecrets || ctx.url.includes('@') || ctx.referrer.includes('@') || ctx.userAgent.includes('@')) {
      ctx.url = redact(ctx.url);
      ctx.referrer = redact(ctx.referrer);
      ctx.userAgent = redact(ctx.userAgent);
    }
    writer!.write(format!(ctx));
  }

  function logResponseClose(this: ServerResponse): void {
    const ctx = this.req.keel;
    if (!ctx) return;
    onRequestDone();
    inflight.remove(ctx);
    // Only the watchdog sets a status before the response closes: it has written this line already.
    const loggedByWatchdog = ctx.status !== 0;
    // The metrics need status, bytes and duration too, so they are worked out even without a log.
    ctx.status = this.headersSent ? this.statusCode : 0;
    ctx.bytes = bodyBytes(this, ctx.bytesAtStart, ctx.req);
    ctx.durationMs = performance.now() - ctx.startMark;
    if (counters !== null) {
      const event = ctx.event;
      counters.record(ctx.method, ctx.routeId, ctx.status, ctx.durationMs, ctx.requestBytes, ctx.bytes, ctx.cacheResult, event === 'rate-limited' || event === 'conn-limited');
    }
    if (!format || !writer || loggedByWatchdog) return;
    if (ctx.event === '' && !this.writableFinished) ctx.event = 'aborted';
    writeLine(ctx);
  }

  /**
   * The watchdog's hook (watchdog.ts). Runs on a stuck main thread, inside the code it is stuck in:
   * a line for every request in progress, then the whole batch written synchronously, since the
   * primary is about to kill this worker. A response the app had finished (one answered just before
   * the loop got stuck, its close event still queued) is logged as answered; the others as a 504,
   * or with the status already sent, and the worker-timeout event.
   */
  function logStuckRequests(): void {
    if (!format || !writer) return;
    const now = performance.now();
    for (const ctx of inflight) {
      if (ctx.status !== 0) continue;
      const res = ctx.res;
      ctx.status = res.headersSent ? res.statusCode : 504;
      ctx.bytes = res.headersSent ? bodyBytes(res, ctx.bytesAtStart, ctx.req) : 0;
      ctx.durationMs = now - ctx.startMark;
      if (!res.writableEnded) ctx.event = WORKER_TIMEOUT;
      writeLine(ctx);
    }
    writer.flushSync();
  }

  /** A line for a request the parser refused before it became a request. */
  function logRefusal(socket: Socket, status: number, requestId: string, event: string): void {
    if (!format || !writer) return;
    const record: AccessRecord = {
      startTime: Date.now(),
      // The same address a request on this connection would be logged with (the PROXY header's source, if any).
      clientAddress: plainAddress(peerAddressOf(socket) ?? 'unix'),
      method: '-',
      url: '-',
      httpVersion: '1.1',
      status,
      bytes: 0,
      durationMs: 0,
      id: requestId,
      userAgent: '',
      referrer: '',
      event,
    };
    writer.write(format(record));
  }

  return { logResponseClose, logRefusal, logStuckRequests };
}

export type AccessLogStage = ReturnType<typeof createAccessLog>;
