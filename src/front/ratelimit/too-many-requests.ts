/**
 * keel's generic error page with status 429 and Retry-After. sendErrorPage clears every header set
 * before it (it replaces what an app had set), so it cannot carry Retry-After; this writes the
 * same page (errorBody) with the same headers, plus Retry-After. The stage runs before any route
 * or app, so there is nothing of theirs to clear.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, wantsJson } from '../error-page.js';

/**
 * @param retryAfter whole seconds, or 0 for no Retry-After header.
 * @param close end the connection after the answer.
 */
export function sendTooManyRequests(req: IncomingMessage, res: ServerResponse, requestId: string, retryAfter: number, close: boolean): void {
  const { body, type } = errorBody(429, requestId, wantsJson(req.headers.accept));
  if (close) res.shouldKeepAlive = false;
  const headers: Record<string, string | number> = {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-request-id': requestId,
  };
  if (retryAfter > 0) headers['retry-after'] = retryAfter;
  res.writeHead(429, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
