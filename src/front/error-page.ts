/**
 * The generic error answer: a status, its reason phrase and the request ID, as HTML or JSON by
 * Accept. Never a message, a stack or anything from the environment.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../node-http.js';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const json = accept.indexOf('json');
  const html = accept.indexOf('html');
  return json >= 0 && (html < 0 || json < html);
}

export function errorBody(status: number, requestId: string, json: boolean): { body: string; type: string } {
  const reason = http.STATUS_CODES[status] ?? 'Error';
  if (json) return { body: `${JSON.stringify({ error: reason, status, requestId })}\n`, type: 'application/json; charset=utf-8' };
  const id = escapeHtml(requestId);
  return {
    body: `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${status} ${reason}</title></head>\n<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem"><h1>${status} ${reason}</h1><p>Something went wrong. If you contact the site owner, quote this request ID:</p><p><code>${id}</code></p></body></html>\n`,
    type: 'text/html; charset=utf-8',
  };
}

/**
 * Answers with the generic page, replacing whatever headers the app had set; closes the connection
 * if asked. `extra` are keel's own headers for this status (Retry-After on a 429).
 */
export function sendErrorPage(req: IncomingMessage, res: ServerResponse, status: number, requestId: string, close = false, extra?: Readonly<Record<string, string | number>>): void {
  const { body, type } = errorBody(status, requestId, wantsJson(req.headers.accept));
  for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
  if (close) res.shouldKeepAlive = false;
  res.writeHead(status, {
    ...extra,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-request-id': requestId,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answers a request the app failed on with a 500 page; the error is for pages that may show it (`keel dev`). */
export type SendFailure = (req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string) => void;

/** The failure answer of `keel serve`: the generic page, which never shows the error. */
export const sendGenericFailure: SendFailure = (req, res, _err, requestId) => {
  sendErrorPage(req, res, 500, requestId);
  neutralizeResponse(res);
};

function ignore(this: ServerResponse): ServerResponse {
  return this;
}

/**
 * After keel has answered for the app (timeout, 413, failure), the app may still write to the
 * response it holds; those writes must go nowhere instead of throwing "write after end" into
 * the worker and taking it down.
 */
export function neutralizeResponse(res: ServerResponse): void {
  const target = res as unknown as Record<string, unknown>;
  for (const method of ['write', 'end', 'writeHead', 'setHeader', 'removeHeader', 'appendHeader', 'flushHeaders', 'writeContinue', 'writeEarlyHints']) target[method] = ignore;
}
