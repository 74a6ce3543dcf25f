/**
 * --request-timeout: one sweep a second over the in-flight requests (no timer per request); a
 * request the app has not answered in time gets 504 and the connection closes. The app's handler
 * cannot be stopped, so its later writes are made harmless.
 */
import { performance } from 'node:perf_hooks';
import type { ErrorLog } from '../observe/error-log.js';
import type { InflightRequests } from '../worker/inflight.js';
import { neutralizeResponse, sendErrorPage } from './error-page.js';

export function startRequestTimeouts(timeoutSeconds: number, inflight: InflightRequests, log: ErrorLog): () => void {
  if (timeoutSeconds <= 0) return () => {};
  const limitMs = timeoutSeconds * 1000;
  const timer = setInterval(() => {
    const now = performance.now();
    for (const ctx of inflight) {
      // An upgraded connection (a WebSocket tunnel) is no request waiting for an answer: it lives as long as its peers want.
      if (ctx.event === 'timeout' || ctx.event === 'upgraded' || now - ctx.startMark < limitMs) continue;
      ctx.event = 'timeout';
      log.warn({ requestId: ctx.id, method: ctx.req.method, url: ctx.req.url, timeoutSeconds }, 'request timed out; answered 504');
      if (ctx.res.headersSent) {
        ctx.res.destroy();
      } else {
        sendErrorPage(ctx.req, ctx.res, 504, ctx.id, true);
        neutralizeResponse(ctx.res);
      }
    }
  }, Math.min(1000, Math.max(100, limitMs / 4)));
  timer.unref();
  return () => clearInterval(timer);
}
