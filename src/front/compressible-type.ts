/**
 * Which Content-Types are worth compressing: mime-db's `compressible` field (the data the
 * `compressible` package reads, already here through mime-types), with the same fallback for
 * types it does not know: text/* and the +json, +text and +xml suffixes.
 */
import { createRequire } from 'node:module';

type MimeDb = Record<string, { compressible?: boolean }>;

const db = createRequire(import.meta.url)('mime-db') as MimeDb;

/**
 * keel's departures from mime-db: application/octet-stream is marked compressible there, but it is
 * what servers say for "unknown binary" (archives, downloads, already-compressed blobs), where
 * compressing spends CPU for nothing. Newline-delimited JSON, common for streamed API answers, is
 * not in mime-db at all.
 */
const OVERRIDES: Record<string, boolean> = {
  'application/octet-stream': false,
  'application/x-ndjson': true,
  'application/ndjson': true,
};

const FALLBACK = /^text\/|\+(?:json|text|xml)$/;

/** Answers per media type, filled as types are seen: a response's type is a map lookup after the first. */
const MAX_REMEMBERED = 1024;
const remembered = new Map<string, boolean>();

function decide(type: string): boolean {
  if (type in OVERRIDES) return OVERRIDES[type]!;
  const known = Object.hasOwn(db, type) ? db[type]!.compressible : undefined;
  return known ?? FALLBACK.test(type);
}

/**
 * Whether a Content-Type value names a compressible media type (parameters ignored).
 *
 * @example isCompressibleType('application/json; charset=utf-8') // true
 * @example isCompressibleType('image/png') // false
 */
export function isCompressibleType(contentType: string): boolean {
  let answer = remembered.get(contentType);
  if (answer !== undefined) return answer;
  const semicolon = contentType.indexOf(';');
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  answer = type !== '' && decide(type);
  if (remembered.size >= MAX_REMEMBERED) remembered.clear();
  remembered.set(contentType, answer);
  return answer;
}
