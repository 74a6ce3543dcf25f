/**
 * The response headers of a static file, worked out once when the file enters the cache (not per
 * request): Content-Type, Content-Length, ETag, Last-Modified, Cache-Control, Accept-Ranges, and
 * Vary / Content-Encoding for precompressed siblings.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { extname } from 'node:path';
import { contentType } from 'mime-types';

/** Cache-Control for names that change whenever their content does: cache for a year, never revalidate. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Cache-Control for everything else: keep, but ask (with the ETag) before each use. */
export const REVALIDATE = 'public, max-age=0, must-revalidate';
/** Cache-Control for a single-page app's index.html: it names the hashed assets, so always check it. */
export const NO_CACHE = 'no-cache';

/** The Content-Type for a file name, with charset=utf-8 for text types; application/octet-stream when unknown. */
export function contentTypeOf(name: string): string {
  const ext = extname(name);
  return (ext !== '' && contentType(ext)) || 'application/octet-stream';
}

/**
 * A bundler's content hash in a file name: `app.3f9a2c1b.js`, `main-BkX9s2Qa.css`,
 * `main.073c9b0a.chunk.js`. A segment between `.` or `-` separators, after the first and before
 * the extension, of 8 to 64 characters from [A-Za-z0-9_] holding both a digit and a letter.
 * Erring towards "not hashed" is safe (the file is revalidated); the other way would pin a
 * changing file in browsers for a year, so words (`jquery-migration.js`), versions
 * (`jquery-3.7.1.js`) and dates (`report-20240101.pdf`) do not count. A hash of letters only, or
 * one holding `-`, is not recognised; such files are revalidated.
 *
 * @example
 *   isHashedName('app.3f9a2c1b.js')   // true
 *   isHashedName('jquery-3.7.1.min.js') // false
 */
export function isHashedName(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const parts = base.split(/[.-]/);
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i];
    if (part.length >= 8 && part.length <= 64 && /^[A-Za-z0-9_]+$/.test(part) && /\d/.test(part) && /[A-Za-z]/.test(part)) return true;
  }
  return false;
}

function isIndexFile(rel: string): boolean {
  return rel === 'index.html' || rel.endsWith('/index.html');
}

/** The Cache-Control default for a path relative to the root. */
export function cacheControlOf(rel: string, spa: boolean): string {
  if (spa && isIndexFile(rel)) return NO_CACHE;
  return isHashedName(rel) ? IMMUTABLE : REVALIDATE;
}

/**
 * An entity tag from modification time (milliseconds, hex) and size (hex), as Nginx makes them
 * from seconds: `"18c2f1a9b10-400"`. Milliseconds catch two edits within one second.
 */
export function etagOf(mtimeMs: number, size: number): string {
  return `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`;
}

/** What a representation needs to describe itself. */
export interface HeaderFacts {
  readonly type: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: string;
  readonly cacheControl: string;
  readonly encoding: 'br' | 'gzip' | null;
  /** A precompressed sibling exists, so the answer depends on Accept-Encoding. */
  readonly vary: boolean;
}

/** The headers of a 200. Passed whole to writeHead, which keeps Node's fast path. */
export function fullHeaders(f: HeaderFacts): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = {
    'content-type': f.type,
    'content-length': String(f.size),
    etag: f.etag,
    'last-modified': f.lastModified,
    'cache-control': f.cacheControl,
    'accept-ranges': 'bytes',
  };
  if (f.encoding !== null) h['content-encoding'] = f.encoding;
  if (f.vary) h.vary = 'Accept-Encoding';
  return h;
}

/** The headers of a 304: those a 200 would have sent that describe caching (RFC 9110 §15.4.5). */
export function notModifiedHeaders(f: HeaderFacts): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = { etag: f.etag, 'last-modified': f.lastModified, 'cache-control': f.cacheControl };
  if (f.vary) h.vary = 'Accept-Encoding';
  return h;
}

/** The headers of a 206 for bytes start..end (inclusive) of the representation. */
export function partialHeaders(f: HeaderFacts, start: number, end: number): OutgoingHttpHeaders {
  const h = fullHeaders(f);
  h['content-length'] = String(end - start + 1);
  h['content-range'] = `bytes ${start}-${end}/${f.size}`;
  return h;
}
