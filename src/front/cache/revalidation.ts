/**
 * Revalidation with the origin (RFC 9111 §4.3), as Nginx's `proxy_cache_revalidate on`: a stale
 * entry that carries a validator is asked about with a conditional request (If-None-Match with its
 * ETag, If-Modified-Since with its Last-Modified) instead of being fetched whole again, and a
 * `304 Not Modified` refreshes the kept entry in place (§4.3.4). Pure functions; the cache stage
 * does the I/O.
 */
import type { IncomingMessage } from 'node:http';
import type { EntryMeta } from './cache-entry.js';
import { hasValidator } from './cache-policy.js';

/** Whether a kept entry can be revalidated: the rule that decided to keep it for that (cache-policy.ts). */
export function canRevalidate(meta: EntryMeta): boolean {
  return hasValidator(meta.headers);
}

function first(value: string | readonly string[] | undefined): string | undefined {
  return value === undefined || typeof value === 'string' ? value : value[0];
}

/**
 * Adds the entry's validators to a request that goes on to the route or app, in the parsed headers
 * (apps) and the raw list (the proxy), in place: on HTTP/2 rawHeaders is a getter of a kept array.
 * The client's own If-None-Match/If-Modified-Since were removed before (the cache answers those).
 *
 * @example addConditionals(req, meta) // req now carries If-None-Match: "v1"
 */
export function addConditionals(req: IncomingMessage, meta: EntryMeta): void {
  const etag = first(meta.headers.etag);
  const lastModified = first(meta.headers['last-modified']);
  const raw = req.rawHeaders;
  if (etag !== undefined) {
    req.headers['if-none-match'] = etag;
    raw.push('If-None-Match', etag);
  }
  if (lastModified !== undefined) {
    req.headers['if-modified-since'] = lastModified;
    raw.push('If-Modified-Since', lastModified);
  }
}

/** Removes a request's If-None-Match and If-Modified-Since, parsed and raw, in place. */
export function stripConditionals(req: IncomingMessage): void {
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'if-none-match' || name === 'if-modified-since') raw.splice(i, 2);
  }
}

/**
 * Headers a 304 does not replace: Content-Length (§3.2; the body is the kept one), and the
 * representation's other metadata, since a 304 describes no body and some frameworks put a default
 * Content-Type on every answer, which must not relabel the kept body.
 */
const NOT_UPDATED = new Set(['content-length', 'content-type', 'content-encoding', 'content-range']);

/**
 * The kept headers updated with a 304's (RFC 9111 §3.2, §4.3.4): each header the 304 carries
 * replaces the kept one; the others stay. `notModified` is already filtered as kept headers are
 * (keptHeaders). Without a Date of its own the 304 is dated when it arrived, so the entry's age
 * starts again from there.
 *
 * @example refreshedHeaders({ etag: '"a"', 'cache-control': 'max-age=5' }, { 'cache-control': 'max-age=60' }, Date.now())
 */
export function refreshedHeaders(
  kept: Readonly<Record<string, string | string[]>>,
  notModified: Readonly<Record<string, string | string[]>>,
  responseTime: number,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ...kept };
  for (const name in notModified) if (!NOT_UPDATED.has(name)) out[name] = notModified[name]!;
  if (notModified.date === undefined) out.date = new Date(responseTime).toUTCString();
  return out;
}
