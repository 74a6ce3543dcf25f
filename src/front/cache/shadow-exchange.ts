/**
 * A request and response that belong to no client, for the background refresh of
 * stale-while-revalidate: the client already got the stale copy, so the route or app answers a
 * copy of its request into a response that goes nowhere but the cache.
 *
 * The request is a real IncomingMessage (already ended, no body) so apps and the proxy read it as
 * any other; the response a real ServerResponse (setHeader, getHeader, statusCode work) whose
 * writeHead/write/end only mark progress and emit 'finish' and 'close', as frameworks wait on them.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../../node-http.js';
import { Socket } from 'node:net';
import { kNext, kPrev } from '../../worker/inflight.js';
import type { RequestContext } from '../request-context.js';

/** Conditional and cache-bypassing headers: the refresh wants a full, storable answer. */
const DROPPED = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range', 'cache-control', 'pragma']);

export class ShadowResponse extends http.ServerResponse {
  shadowHeadSent = false;

  override writeHead(statusCode: number, reasonOrHeaders?: unknown, headers?: unknown): this {
    const given = (typeof reasonOrHeaders === 'string' ? headers : reasonOrHeaders) as Record<string, string | string[] | number> | undefined;
    this.statusCode = statusCode;
    if (given && !Array.isArray(given)) for (const name in given) if (given[name] !== undefined) this.setHeader(name, given[name]!);
    this.shadowHeadSent = true;
    return this;
  }

  override write(_chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (!this.shadowHeadSent) this.writeHead(this.statusCode);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    if (this.finished) return this;
    if (!this.shadowHeadSent) this.writeHead(this.statusCode);
    const done = [chunk, encoding, cb].find((arg) => typeof arg === 'function') as (() => void) | undefined;
    this.finished = true;
    process.nextTick(() => {
      done?.();
      this.emit('finish');
      this.emit('close');
    });
    return this;
  }
}

// Node defines headersSent as an accessor reading internal state this class never sets; TypeScript
// types it as a property, so the override is installed here.
Object.defineProperty(ShadowResponse.prototype, 'headersSent', {
  get(this: { shadowHeadSent: boolean }) {
    return this.shadowHeadSent;
  },
});

/** A copy of `original` (GET, same target and headers minus conditionals), with its own context. */
export function shadowExchange(original: IncomingMessage): { req: IncomingMessage; res: ShadowResponse } {
  const req = new http.IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = original.url!;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  const headers: IncomingHttpHeaders = {};
  const raw: string[] = [];
  for (const name in original.headers) {
    if (DROPPED.has(name) || name.startsWith(':')) continue;
    const value = original.headers[name];
    if (value === undefined) continue;
    headers[name] = value as string;
    for (const one of Array.isArray(value) ? value : [value]) raw.push(name, one);
  }
  // HTTP/2 carries the host as :authority; the copy is HTTP/1.1-shaped.
  if (headers.host === undefined && original.headers[':authority'] !== undefined) {
    headers.host = String(original.headers[':authority']);
    raw.push('host', headers.host);
  }
  req.headers = headers;
  req.rawHeaders = raw;
  req.complete = true;
  req.push(null);
  const ctx = original.keel;
  if (ctx) {
    // Not in the in-flight list: the copy must not carry the original's links.
    const copy = { ...ctx, method: 'GET', event: 'cache-refresh', slot: -1, req, [kPrev]: null, [kNext]: null } as RequestContext;
    req.keel = copy;
  }
  const res = new ShadowResponse(req);
  if (req.keel) (req.keel as { res: ServerResponse }).res = res;
  return { req, res };
}
