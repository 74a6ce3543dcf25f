/**
 * Cache keys. The primary key names a resource: scheme, host and request target (path and query,
 * as sent), like Nginx's default `$scheme$proxy_host$request_uri`. GET and HEAD share it (a HEAD is
 * answered from a kept GET). A response with Vary is kept under a secondary key that adds the
 * values of the request headers it names; the primary key then holds a small record listing those
 * names, so a lookup is: primary key → (entry | vary names → variant key → entry).
 */
import type { IncomingHttpHeaders } from 'node:http';

const PREFIX = 'keel:c:';

/**
 * @example primaryKey('https', 'Example.com', '/a?b=1') === 'keel:c:https://example.com/a?b=1'
 */
export function primaryKey(scheme: string, host: string | undefined, url: string): string {
  return `${PREFIX}${scheme}://${(host ?? '').toLowerCase()}${url}`;
}

/** The lock key for a primary or variant key: one fetch per key across workers and machines. */
export function lockKey(key: string): string {
  return `${key}\u0000lock`;
}

/** Header names from a Vary field, lower-case, sorted and unique; null for `Vary: *` (never kept). */
export function varyNames(field: string | readonly string[] | number | undefined): string[] | null {
  if (field === undefined) return [];
  const text = typeof field === 'string' ? field : Array.isArray(field) ? field.join(',') : String(field);
  const names = new Set<string>();
  for (const raw of text.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '*') return null;
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

/** A request header's value for keying: repeated lines joined, spaces around commas normalised, as RFC 9111 §4.1 allows. */
function normalisedValue(value: string | string[]): string {
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.replace(/\s*,\s*/g, ',').trim();
}

/**
 * The variant key for a request, given the Vary names of what is kept at the primary key.
 * @example variantKey(k, ['accept-language'], { 'accept-language': 'fr' }) === `${k}\u0000accept-language=fr`
 */
export function variantKey(primary: string, names: readonly string[], headers: IncomingHttpHeaders): string {
  let key = primary;
  // NUL cannot appear in a header value or a URL, so fields cannot run into each other.
  // An absent header only matches absent (RFC 9111 §4.1), not empty: absent has no '='.
  for (const name of names) key += headers[name] === undefined ? `\u0000${name}` : `\u0000${name}=${normalisedValue(headers[name])}`;
  return key;
}
