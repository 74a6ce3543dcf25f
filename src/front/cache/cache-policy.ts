/**
 * RFC 9111 for a shared cache, as pure functions: which requests may be answered from the store,
 * which responses may be kept and for how long, how old a kept response is, and when a request's
 * conditional headers turn a kept response into a 304. No I/O here, so it is unit-tested directly.
 *
 * keel keeps only responses with explicit freshness (s-maxage, max-age or Expires), as Nginx's
 * proxy_cache does without proxy_cache_valid: no heuristic freshness from Last-Modified. A response
 * with a validator (ETag or Last-Modified) is kept past its freshness, and a `no-cache` one with a
 * validator at all, so it can be revalidated with a conditional request (see revalidation.ts).
 */

/** Cache-Control directives keel acts on; delta-seconds are -1 when absent. */
export interface Directives {
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  maxAge: number;
  sMaxAge: number;
  minFresh: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  onlyIfCached: boolean;
}

const EMPTY: Readonly<Directives> = Object.freeze({
  noStore: false,
  noCache: false,
  private: false,
  public: false,
  mustRevalidate: false,
  maxAge: -1,
  sMaxAge: -1,
  minFresh: -1,
  staleWhileRevalidate: -1,
  staleIfError: -1,
  onlyIfCached: false,
});

/** delta-seconds (RFC 9111 §1.2.2): digits only; anything else is invalid, and invalid means 0 (stale), never "forever". */
function deltaSeconds(value: string | undefined): number {
  if (value === undefined) return 0;
  const unquoted = value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (!/^\d+$/.test(unquoted)) return 0;
  // Larger than 2^31 means "2^31" (§1.2.2); also keeps the arithmetic in safe integers.
  return Math.min(Number(unquoted), 2_147_483_648);
}

/**
 * Parses a Cache-Control field (one string or several field lines). Unknown directives are ignored;
 * `private="Set-Cookie"` and `no-cache="…"` count as their unqualified forms, the conservative reading.
 */
export function parseCacheControl(field: string | readonly string[] | undefined): Directives {
  if (field === undefined || field.length === 0) return EMPTY;
  const text = typeof field === 'string' ? field : field.join(',');
  const out: Directives = { ...EMPTY };
  // Split on commas outside quoted strings: `no-cache="a, b"` is one directive.
  for (const part of text.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : part.slice(eq + 1).trim();
    switch (name) {
      case 'no-store': out.noStore = true; break;
      case 'no-cache': out.noCache = true; break;
      case 'private': out.private = true; break;
      case 'public': out.public = true; break;
      case 'must-revalidate':
      case 'proxy-revalidate': out.mustRevalidate = true; break;
      case 'max-age': out.maxAge = deltaSeconds(value); break;
      case 's-maxage': out.sMaxAge = deltaSeconds(value); break;
      case 'min-fresh': out.minFresh = deltaSeconds(value); break;
      case 'stale-while-revalidate': out.staleWhileRevalidate = deltaSeconds(value); break;
      case 'stale-if-error': out.staleIfError = deltaSeconds(value); break;
      case 'only-if-cached': out.onlyIfCached = true; break;
    }
  }
  return out;
}

/** What the request asks of the cache. */
export interface RequestPolicy {
  /** Look in the store at all (false for no-cache and max-age=0: the client wants a fresh answer). */
  readonly lookup: boolean;
  /** Keep the answer (false for no-store, and for Authorization unless the response allows it, checked later). */
  readonly store: boolean;
  /** The oldest entry (seconds) the client accepts, or -1 for any fresh one. */
  readonly maxAge: number;
  /** The entry must stay fresh this many more seconds, or -1. */
  readonly minFresh: number;
  readonly onlyIfCached: boolean;
}

const PLAIN_REQUEST: RequestPolicy = Object.freeze({ lookup: true, store: true, maxAge: -1, minFresh: -1, onlyIfCached: false });

/** Reads a GET or HEAD request's Cache-Control. No header, the common case, costs one comparison. */
export function requestPolicy(cacheControl: string | undefined): RequestPolicy {
  if (cacheControl === undefined) return PLAIN_REQUEST;
  const d = parseCacheControl(cacheControl);
  return {
    lookup: !d.noCache && d.maxAge !== 0 && !d.noStore,
    store: !d.noStore,
    maxAge: d.maxAge,
    minFresh: d.minFresh,
    onlyIfCached: d.onlyIfCached,
  };
}

/**
 * Statuses a shared cache may keep with explicit freshness: the "heuristically cacheable" ones of
 * RFC 9110 §15.1, plus the redirects 302 and 307, which become cacheable when the origin says so.
 * 206 (keel does not stitch ranges) and 304 (an answer to a conditional, not a representation) are not.
 */
const STORABLE_STATUS = new Set([200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501]);

export interface ResponseFacts {
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[] | number | undefined>>;
  /** The request carried Authorization. */
  readonly authorized: boolean;
  /** Epoch ms when the request was sent (or handed to the app) and when the response head arrived. */
  readonly requestTime: number;
  readonly responseTime: number;
}

/** Why a response is not kept, for tests and debug logs; '' when it is kept. */
export type Refusal = '' | 'status' | 'no-store' | 'private' | 'no-cache' | 'set-cookie' | 'authorization' | 'vary-star' | 'no-freshness';

export interface Freshness {
  /** '' when the response may be kept; otherwise why not (and the numbers below are 0). */
  readonly refusal: Refusal;
  /** Freshness lifetime, seconds (§4.2.1). */
  readonly lifetime: number;
  /** Corrected initial age, seconds (§4.2.3): the age when it arrived. */
  readonly initialAge: number;
  /** Seconds after expiry a stale copy may be served while one refresh runs (RFC 5861); 0 with must-revalidate. */
  readonly staleWhileRevalidate: number;
  /** Seconds after expiry a stale copy may stand in for an error (RFC 5861); 0 with must-revalidate. */
  readonly staleIfError: number;
  /** It carries a validator (ETag or a valid Last-Modified): once stale it can be revalidated instead of refetched. */
  readonly revalidatable: boolean;
}

function refused(refusal: Refusal): Freshness {
  return { refusal, lifetime: 0, initialAge: 0, staleWhileRevalidate: 0, staleIfError: 0, revalidatable: false };
}

function one(value: string | readonly string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value : value.join(', ');
}

/** An HTTP-date in ms, or NaN. Date.parse reads all three RFC 9110 formats. */
export function httpDate(value: string | undefined): number {
  return value === undefined ? Number.NaN : Date.parse(value);
}

/** Whether response headers carry a validator for a conditional request: an ETag, or a Last-Modified that is a date. */
export function hasValidator(headers: ResponseFacts['headers']): boolean {
  return headers.etag !== undefined || !Number.isNaN(httpDate(one(headers['last-modified'])));
}

/**
 * Whether a response may be kept by a shared cache, and its freshness (RFC 9111 §3, §4.2). Kept only
 * with explicit freshness: s-maxage (wins, this is a shared cache), then max-age, then Expires − Date.
 * no-cache is kept only with a validator, and then as always stale (lifetime 0, no stale serving):
 * every use is revalidated with the origin first (§5.2.2.4). Never kept: no-store, private, no-cache
 * without a validator (nothing to revalidate with), Set-Cookie (one client's cookie must never reach
 * another, as Nginx's default), Vary: *, and requests with Authorization unless the response says
 * public or s-maxage (§3.5).
 */
export function responseFreshness(facts: ResponseFacts): Freshness {
  if (!STORABLE_STATUS.has(facts.status)) return refused('status');
  const headers = facts.headers;
  const d = parseCacheControl(headers['cache-control'] as string | string[] | undefined);
  if (d.noStore) return refused('no-store');
  if (d.private) return refused('private');
  const revalidatable = hasValidator(headers);
  if (d.noCache && !revalidatable) return refused('no-cache');
  if (headers['set-cookie'] !== undefined) return refused('set-cookie');
  if (facts.authorized && !d.public && d.sMaxAge < 0 && !d.mustRevalidate) return refused('authorization');
  const vary = one(headers.vary);
  if (vary !== undefined && vary.split(',').some((name) => name.trim() === '*')) return refused('vary-star');

  const dateValue = httpDate(one(headers.date));
  let lifetime: number;
  if (d.noCache) lifetime = 0;
  else if (d.sMaxAge >= 0) lifetime = d.sMaxAge;
  else if (d.maxAge >= 0) lifetime = d.maxAge;
  else {
    const expires = one(headers.expires);
    if (expires === undefined) return refused('no-freshness');
    // An invalid Expires (e.g. "0") means already expired (§5.3).
    const expiresAt = httpDate(expires);
    const base = Number.isNaN(dateValue) ? facts.responseTime : dateValue;
    lifetime = Number.isNaN(expiresAt) ? 0 : Math.max(0, Math.floor((expiresAt - base) / 1000));
  }
  const swr = d.mustRevalidate || d.noCache ? 0 : Math.max(0, d.staleWhileRevalidate);
  const sie = d.mustRevalidate || d.noCache ? 0 : Math.max(0, d.staleIfError);
  // Nothing to serve, fresh or stale: not worth a store write (no-cache is kept to be revalidated).
  if (lifetime <= 0 && swr <= 0 && sie <= 0 && !d.noCache) return refused('no-freshness');

  // §4.2.3: the age it already had when it reached keel.
  const ageValue = deltaSeconds(one(headers.age));
  const apparentAge = Number.isNaN(dateValue) ? 0 : Math.max(0, (facts.responseTime - dateValue) / 1000);
  const responseDelay = Math.max(0, (facts.responseTime - facts.requestTime) / 1000);
  const initialAge = Math.max(apparentAge, ageValue + responseDelay);
  return { refusal: '', lifetime, initialAge, staleWhileRevalidate: swr, staleIfError: sie, revalidatable };
}

/** An entry's age in seconds now (§4.2.3): its initial age plus the time it has been kept. */
export function currentAge(initialAge: number, responseTime: number, now: number): number {
  return initialAge + Math.max(0, (now - responseTime) / 1000);
}

export type EntryState = 'fresh' | 'stale-while-revalidate' | 'stale-if-error' | 'expired';

/**
 * How an entry may be used for a request now. The request's max-age and min-fresh narrow "fresh";
 * stale serving is only for responses that allowed it (RFC 5861), and never when the client set limits.
 */
export function entryState(
  entry: { readonly lifetime: number; readonly initialAge: number; readonly responseTime: number; readonly staleWhileRevalidate: number; readonly staleIfError: number },
  request: RequestPolicy,
  now: number,
): EntryState {
  const age = currentAge(entry.initialAge, entry.responseTime, now);
  if (request.maxAge >= 0 && age > request.maxAge) return 'expired';
  const left = entry.lifetime - age;
  if (left > Math.max(0, request.minFresh)) return 'fresh';
  if (request.maxAge >= 0 || request.minFresh >= 0) return 'expired';
  // A window of 0 is none: an always-stale (no-cache) entry of age 0 must not be served stale.
  if (entry.staleWhileRevalidate > 0 && -left <= entry.staleWhileRevalidate) return 'stale-while-revalidate';
  if (entry.staleIfError > 0 && -left <= entry.staleIfError) return 'stale-if-error';
  return 'expired';
}

/**
 * How long an entry with a validator stays in the store past its stale windows, seconds, to be
 * revalidated rather than refetched (Nginx's proxy_cache_path inactive= default, 10 minutes).
 */
export const REVALIDATE_KEEP_SECONDS = 600;

/** How long the store should keep an entry, ms: until no rule could still serve or revalidate it. */
export function storeTtlMs(f: Freshness): number {
  const usable = f.lifetime - f.initialAge + Math.max(f.staleWhileRevalidate, f.staleIfError) + (f.revalidatable ? REVALIDATE_KEEP_SECONDS : 0);
  return Math.max(0, Math.ceil(usable * 1000));
}

/** Weak comparison of entity tags (RFC 9110 §8.8.3.2): W/"x" matches "x". */
function weakMatch(list: string, etag: string): boolean {
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const raw of list.split(',')) {
    const tag = raw.trim();
    if (tag === '*') return true;
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === bare) return true;
  }
  return false;
}

/**
 * Whether a GET or HEAD with these conditional headers gets 304 for a 200 with this ETag and
 * Last-Modified (RFC 9110 §13.2.2): If-None-Match decides when present, else If-Modified-Since.
 */
export function isNotModified(ifNoneMatch: string | undefined, ifModifiedSince: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (ifNoneMatch !== undefined) return etag !== undefined && weakMatch(ifNoneMatch, etag);
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = httpDate(ifModifiedSince);
  const modified = httpDate(lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}
