/**
 * The static route's answers that carry no file: errors with an extra header (405 with Allow, 416
 * with Content-Range) and the directory redirect. Errors use keel's generic page, as every other
 * error does.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errorBody, wantsJson } from '../error-page.js';

/** The generic error page for `status`, with `extra` headers added. */
export function sendStaticError(req: IncomingMessage, res: ServerResponse, status: number, extra: OutgoingHttpHeaders | null = null): void {
  const id = req.keel?.id ?? '-';
  const { body, type } = errorBody(status, id, wantsJson(req.headers.accept));
  const headers: OutgoingHttpHeaders = {
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (extra !== null) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** 301 to the directory's URL with its trailing slash, as Nginx does; `location` is already escaped. */
export function redirectToDirectory(req: IncomingMessage, res: ServerResponse, location: string): void {
  const body = '<!doctype html>\n<title>301 Moved Permanently</title>\n<h1>301 Moved Permanently</h1>\n';
  res.writeHead(301, { location, 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
