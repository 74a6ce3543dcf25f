/**
 * The records the cache keeps, and how a kept response becomes headers again. Three kinds share a
 * key space: an entry (a response), a vary record (the header names a resource varies on, kept at
 * its primary key), and a pass record (the last answer could not be kept: fetch without waiting on
 * the lock, Varnish's hit-for-miss), so an uncacheable URL does not make its requests queue.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Freshness } from './cache-policy.js';

export interface EntryMeta {
  readonly kind: 'entry';
  readonly status: number;
  /** Response headers as kept: lower-case names, without hop-by-hop ones, Set-Cookie, Age and Content-Length. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly lifetime: number;
  readonly initialAge: number;
  /** Epoch ms when the response head arrived. */
  readonly responseTime: number;
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
}
export interface VaryMeta {
  readonly kind: 'vary';
  readonly names: readonly string[];
}
export interface PassMeta {
  readonly kind: 'pass';
}
export type Meta = EntryMeta | VaryMeta | PassMeta;

export const PASS_META = JSON.stringify({ kind: 'pass' } satisfies PassMeta);
/** How long a pass record stands, ms: long enough to spare a burst the lock, short enough to be forgotten. */
export const PASS_TTL_MS = 30_000;

/** Parses a stored meta text; null when unreadable (another version wrote it): treated as a miss. */
export function parseMeta(text: string): Meta | null {
  try {
    const meta = JSON.parse(text) as Meta;
    return meta !== null && typeof meta === 'object' && typeof meta.kind === 'string' ? meta : null;
  } catch {
    return null;
  }
}

/**
 * Headers never kept: hop-by-hop ones (RFC 9110 §7.6.1), Set-Cookie (one client's), Age (recomputed
 * on each hit), Content-Length (set from the body), and keel's own per-response ones.
 */
const NOT_KEPT = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'age',
  'content-length',
  'x-cache',
  'x-request-id',
]);

/** Headers to keep from a response's, minus those above and any named in its Connection header. */
export function keptHeaders(headers: Readonly<Record<string, string | readonly string[] | number | undefined>>): Record<string, string | string[]> {
  const connection = headers.connection;
  const named = connection === undefined ? null : new Set(String(connection).toLowerCase().split(',').map((s) => s.trim()));
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || NOT_KEPT.has(name) || named?.has(name)) continue;
    out[name] = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : [...value];
  }
  return out;
}

export function entryMeta(status: number, headers: Record<string, string | string[]>, freshness: Freshness, responseTime: number): EntryMeta {
  return {
    kind: 'entry',
    status,
    headers,
    lifetime: freshness.lifetime,
    initialAge: freshness.initialAge,
    responseTime,
    staleWhileRevalidate: freshness.staleWhileRevalidate,
    staleIfError: freshness.staleIfError,
  };
}

/** Statuses that carry no body (so no Content-Length either). */
function bodiless(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** The head of a hit: the kept headers plus Age, X-Cache and the body's length. */
export function hitHeaders(meta: EntryMeta, bodyLength: number, age: number, xCache: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...meta.headers, age: String(Math.floor(age)), 'x-cache': xCache };
  if (!bodiless(meta.status)) out['content-length'] = bodyLength;
  return out;
}

/** What a 304 from the cache carries (RFC 9110 §15.4.5): the validators and caching headers, no body headers. */
const NOT_MODIFIED_HEADERS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary'];

export function notModifiedHeaders(meta: EntryMeta, age: number, xCache: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { age: String(Math.floor(age)), 'x-cache': xCache };
  for (const name of NOT_MODIFIED_HEADERS) {
    const value = meta.headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** A header value as one string, for validators. */
export function headerText(value: string | readonly string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : value.join(', ');
}
