/**
 * Conditional requests on a static representation (RFC 9110 §13): If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since and If-Range, evaluated in the RFC's order (§13.2.2).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** What the validators of the chosen representation are. */
export interface Validators {
  /** Strong entity tag, quoted: `"18c2f1a9b10-400"`. */
  readonly etag: string;
  /** Last modification in whole seconds since the epoch (HTTP dates have no finer resolution). */
  readonly lastModifiedSec: number;
}

/** 0: go on. 304: not modified. 412: a precondition failed. */
export type Precondition = 0 | 304 | 412;

/** Whether any header this module reads is present: most requests carry none, and skip the rest. */
export function hasConditionals(h: IncomingHttpHeaders): boolean {
  return h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined || h['if-match'] !== undefined || h['if-unmodified-since'] !== undefined;
}

/** Splits an entity-tag list; `*` stays as it is. Tags keep their quotes and any W/ prefix. */
function tagList(header: string): string[] {
  return header.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

const weakless = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

function matchesWeak(header: string, etag: string): boolean {
  for (const tag of tagList(header)) if (tag === '*' || weakless(tag) === etag) return true;
  return false;
}

function matchesStrong(header: string, etag: string): boolean {
  for (const tag of tagList(header)) if (tag === '*' || (!tag.startsWith('W/') && tag === etag)) return true;
  return false;
}

/** Seconds since the epoch of an HTTP date, or NaN. */
function dateSeconds(value: string): number {
  return Math.floor(Date.parse(value) / 1000);
}

/**
 * For GET and HEAD: If-None-Match wins over If-Modified-Since, and If-Match over If-Unmodified-Since
 * (an unparseable date is ignored, as the RFC says).
 *
 * @example
 *   evaluatePreconditions({ 'if-none-match': '"a-1"' }, { etag: '"a-1"', lastModifiedSec: 0 }) // 304
 */
export function evaluatePreconditions(h: IncomingHttpHeaders, v: Validators): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesStrong(ifMatch, v.etag)) return 412;
  } else {
    const ifUnmodified = h['if-unmodified-since'];
    if (ifUnmodified !== undefined) {
      const since = dateSeconds(ifUnmodified);
      if (!Number.isNaN(since) && v.lastModifiedSec > since) return 412;
    }
  }
  const ifNoneMatch = h['if-none-match'];
  if (ifNoneMatch !== undefined) return matchesWeak(ifNoneMatch, v.etag) ? 304 : 0;
  const ifModified = h['if-modified-since'];
  if (ifModified !== undefined) {
    const since = dateSeconds(ifModified);
    if (!Number.isNaN(since) && v.lastModifiedSec <= since) return 304;
  }
  return 0;
}

/**
 * If-Range: the Range applies only if the client's copy is still current; otherwise the whole
 * representation is sent. An entity tag must match strongly; a date must equal Last-Modified
 * exactly (RFC 9110 §13.1.5).
 */
export function ifRangeHolds(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === v.etag;
  if (value.startsWith('W/')) return false;
  const since = dateSeconds(value);
  return !Number.isNaN(since) && since === v.lastModifiedSec;
}
