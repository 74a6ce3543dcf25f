/**
 * --request-timeout: one sweep a second over the in-flight requests (no timer per request); a
 * request the app has not answered in time gets 504 and the connection closes. The app's handler
 * cannot be stopped, so its later writes are made harmless.
 *
 * A response whose head is out has answered: a long download, an event stream or a proxied stream
 * goes on as long as bytes keep flowing, and is cut only after at least the timeout passes with
 * none sent (Nginx's send_timeout and proxy_read_timeout count silence, not age, in the same way).
 */
import { performance } from 'node:perf_hooks';
import type { ErrorLog } from '../observe/error-log.js';
import type { InflightRequests } from '../worker/inflight.js';
import { neutralizeResponse, sendErrorPage } from './error-page.js';
import type { RequestContext } from './request-context.js';
import { KeelH2Response } from './response-headers.js';

/** Bytes sent so far on this response's connection (HTTP/1) or stream (HTTP/2). */
function bytesSent(ctx: RequestContext): number {
  const res = ctx.res;
  if (res instanceof KeelH2Response) return res.bodyBytes;
  return ctx.req.socket?.bytesWritten ?? 0;
}

interface Progress {
  bytes: number;
  mark: number;
}

export function startRequestTimeouts(timeoutSeconds: number, inflight: InflightRequests, log: ErrorLog): () => void {
  if (timeoutSeconds <= 0) return () => {};
  const limitMs = timeoutSeconds * 1000;
  // Only responses older than the limit whose head is out are followed here: few, and checked once a sweep.
  let streaming = new Map<RequestContext, Progress>();
  const timer = setInterval(() => {
    const now = performance.now();
    const seen = new Map<RequestContext, Progress>();
    for (const ctx of inflight) {
      // An upgraded connection (a WebSocket tunnel) is no request waiting for an answer: it lives as long as its peers want.
      if (ctx.event === 'timeout' || ctx.event === 'upgraded' || now - ctx.startMark < limitMs) continue;
      if (ctx.res.headersSent) {
        const bytes = bytesSent(ctx);
        const progress = streaming.get(ctx);
        if (progress === undefined || progress.bytes !== bytes) {
          seen.set(ctx, { bytes, mark: now });
          continue;
        }
        if (now - progress.mark < limitMs) {
          seen.set(ctx, progress);
          continue;
        }
        ctx.event = 'timeout';
        log.warn({ requestId: ctx.id, method: ctx.req.method, url: ctx.req.url, timeoutSeconds }, 'response stalled: nothing sent within --request-timeout; connection closed');
        ctx.res.destroy();
        continue;
      }
      ctx.event = 'timeout';
      log.warn({ requestId: ctx.id, method: ctx.req.method, url: ctx.req.url, timeoutSeconds }, 'request timed out; answered 504');
      sendErrorPage(ctx.req, ctx.res, 504, ctx.id, true);
      neutralizeResponse(ctx.res);
    }
    streaming = seen;
  }, Math.min(1000, Math.max(100, limitMs / 4)));
  timer.unref();
  return () => clearInterval(timer);
}
