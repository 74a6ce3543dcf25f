/**
 * The response cache stage (RFC 9111, shared cache), for app and proxied responses. Returns null
 * when neither --cache nor --cache-redis is set, so the pipeline pays nothing.
 *
 * For a GET or HEAD: look the key up (primary key, then the variant key when the resource varies);
 * a fresh entry is answered here (X-Cache: HIT), a stale one inside its stale-while-revalidate
 * window too (X-Cache: STALE) while one background refresh runs. A stale entry with a validator
 * (ETag, Last-Modified) is revalidated, as Nginx's proxy_cache_revalidate: the request goes on with
 * If-None-Match/If-Modified-Since, and a 304 refreshes the entry, whose body answers the client
 * (X-Cache: REVALIDATED). Otherwise the request goes on (X-Cache: MISS) and the answer is recorded
 * as it streams to the client, then kept if allowed.
 * Concurrent misses (and revalidations) for one key make one request: the first takes the key's lock in the store
 * (shared by all workers, or all machines with Redis); the others poll for the entry for up to
 * WAIT_MS, then go on by themselves. Other methods pass (X-Cache: BYPASS); a successful unsafe one
 * (POST, PUT, PATCH, DELETE) drops what is kept for its URL (RFC 9111 §4.4).
 *
 * The store failing (Redis down, primary gone) never fails a request: it is a miss, logged once.
 */
import { CACHE_HIT, CACHE_MISS, CACHE_REVALIDATED, CACHE_STALE } from '../../observe/metric-names.js';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedConfig } from '../../config/resolve.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { PrimaryChannel } from '../../worker/primary-channel.js';
import { sendErrorPage } from '../error-page.js';
import type { Target } from '../router.js';
import { primaryKey, varyNames, variantKey } from './cache-key.js';
import { type EntryMeta, PASS_META, PASS_TTL_MS, entryMeta, headerText, hitHeaders, keptHeaders, notModifiedHeaders, parseMeta } from './cache-entry.js';
import { type Freshness, type RequestPolicy, currentAge, entryState, isNotModified, requestPolicy, responseFreshness, storeTtlMs } from './cache-policy.js';
import { addConditionals, canRevalidate, refreshedHeaders, stripConditionals } from './revalidation.js';
import type { CacheStore, StoredRecord } from './cache-store.js';
import { PrimaryStore } from './memory-store.js';
import { type Capture, type CaptureOwner, captureOf, captureResponse } from './response-capture.js';
import { shadowExchange } from './shadow-exchange.js';

export type CallTarget = (req: IncomingMessage, res: ServerResponse, target: Target) => void;

export interface CacheStage {
  /** Answers from the cache, or calls `next` and records what it sends when it may be kept. */
  serve(req: IncomingMessage, res: ServerResponse, target: Target, next: CallTarget): void;
  close(): Promise<void>;
}

/** Longest a waiter waits for another request's fetch of the same key, as Nginx's proxy_cache_lock_timeout. */
const WAIT_MS = 5000;
/** A fetch lock outlives the wait, so waiters never all start at once while the first is merely slow. */
const LOCK_TTL_MS = 10_000;
/** Largest entry: 1/8 of --cache, at most 8 MiB; with Redis and no --cache, 1 MiB (Redis prefers small values). */
const MAX_ENTRY = 8 * 1024 * 1024;
const REDIS_DEFAULT_ENTRY = 1024 * 1024;

const PLAIN_POLICY = requestPolicy(undefined);
/** The errors a stale copy may stand in for (RFC 5861 §4). */
const ERRORS = new Set([500, 502, 503, 504]);
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const kInvalidate = Symbol('keel.cacheInvalidate');

/** The entry size bound for a config. */
export function maxEntryBytes(config: Pick<ResolvedConfig, 'cache' | 'cacheRedis'>): number {
  if (config.cache > 0) return Math.min(Math.floor(config.cache / 8), MAX_ENTRY);
  return REDIS_DEFAULT_ENTRY;
}

export async function createCacheStage(config: ResolvedConfig, primary: PrimaryChannel, log: ErrorLog): Promise<CacheStage | null> {
  if (config.cache <= 0 && !config.cacheRedis) return null;
  // ioredis loads only with Redis configured: it costs a worker ~100 ms of start-up.
  const store: CacheStore = config.cacheRedis ? new (await import('./redis-store.js')).RedisStore(config.cacheRedis, log) : new PrimaryStore(primary);
  return new ResponseCache(store, maxEntryBytes(config), log, config.cacheRedis !== null);
}

function hostOf(req: IncomingMessage): string | undefined {
  return req.headers.host ?? (req.headers[':authority'] as string | undefined);
}

/** A stale entry kept in reserve for stale-if-error, or being revalidated. */
interface Stale {
  readonly meta: EntryMeta;
  readonly body: Buffer;
}

/** A decoded lookup: the key the entry lives under, and what was found there. */
interface Found {
  readonly key: string;
  readonly meta: EntryMeta | null;
  readonly body: Buffer | null;
  readonly pass: boolean;
}

class ResponseCache implements CacheStage {
  private nextToken = 1;
  private storeWarned = false;
  private readonly refreshes = new Set<Promise<unknown>>();

  constructor(
    readonly store: CacheStore,
    readonly maxEntry: number,
    private readonly log: ErrorLog,
    private readonly redis: boolean,
  ) {}

  serve(req: IncomingMessage, res: ServerResponse, target: Target, next: CallTarget): void {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('x-cache', 'BYPASS');
      if (UNSAFE.has(method!)) {
        (res as Invalidating)[kInvalidate] = { cache: this, key: primaryKey(req.keel!.scheme, hostOf(req), req.url!) };
        res.once('finish', onUnsafeFinish);
      }
      next(req, res, target);
      return;
    }
    const policy = requestPolicy(req.headers['cache-control']);
    const key = primaryKey(req.keel!.scheme, hostOf(req), req.url!);
    // A range is answered by the app (the cache keeps whole representations only).
    if (req.headers.range !== undefined && policy.lookup) {
      void this.lookup(req, res, target, next, key, policy, false);
      return;
    }
    if (!policy.lookup) {
      // no-cache or max-age=0: the client wants a fresh answer; it is fetched and kept (unless no-store).
      this.fetch(req, res, target, next, key, null, '', policy.store, false);
      return;
    }
    void this.lookup(req, res, target, next, key, policy, true);
  }

  /** A bug or store failure before anything was sent: the request still gets its answer, uncached. */
  private failed(err: unknown, req: IncomingMessage, res: ServerResponse, target: Target, next: CallTarget): void {
    this.warnStore(err);
    // X-Cache is set just before the request goes on (or in a cached answer's head): never send it on twice.
    if (res.headersSent || res.writableEnded || res.destroyed || res.hasHeader('x-cache')) return;
    res.setHeader('x-cache', 'MISS');
    req.keel!.cacheResult = CACHE_MISS;
    next(req, res, target);
  }

  warnStore(err: unknown): void {
    // RedisStore logs its own outages; other failures (the primary gone) once per worker.
    if (this.storeWarned || this.redis) return;
    this.storeWarned = true;
    this.log.warn({ err }, 'cache: the store failed; serving without the cache');
  }

  private async safeGet(key: string): Promise<StoredRecord | null> {
    try {
      return await this.store.get(key);
    } catch (err) {
      this.warnStore(err);
      return null;
    }
  }

  private async safeLock(key: string, token: string): Promise<boolean | null> {
    try {
      return await this.store.lock(key, token, LOCK_TTL_MS);
    } catch (err) {
      this.warnStore(err);
      return null;
    }
  }

  /** Primary key, then the variant key when a vary record is kept there. */
  private async find(key: string, req: IncomingMessage): Promise<Found> {
    let record = await this.safeGet(key);
    let at = key;
    let meta = record === null ? null : parseMeta(record.meta);
    if (meta?.kind === 'vary') {
      at = variantKey(key, meta.names, req.headers);
      record = await this.safeGet(at);
      meta = record === null ? null : parseMeta(record.meta);
    }
    if (meta?.kind === 'entry') return { key: at, meta, body: record!.body, pass: false };
    return { key: at, meta: null, body: null, pass: meta?.kind === 'pass' };
  }

  private async lookup(req: IncomingMessage, res: ServerResponse, target: Target, next: CallTarget, key: string, policy: RequestPolicy, mayStore: boolean): Promise<void> {
    try {
      await this.decide(req, res, target, next, key, policy, mayStore);
    } catch (err) {
      this.failed(err, req, res, target, next);
    }
  }

  private async decide(req: IncomingMessage, res: ServerResponse, target: Target, next: CallTarget, key: string, policy: RequestPolicy, mayStore: boolean): Promise<void> {
    const found = await this.find(key, req);
    const now = Date.now();
    let fallback: Stale | null = null;
    let revalidate: Stale | null = null;
    if (found.meta !== null) {
      const state = entryState(found.meta, policy, now);
      if (state === 'fresh') return this.answer(req, res, found.meta, found.body!, 'HIT', now);
      if (state === 'stale-while-revalidate') {
        this.answer(req, res, found.meta, found.body!, 'STALE', now);
        this.refreshInBackground(req, target, next, key, found.key);
        return;
      }
      if (state === 'stale-if-error') fallback = { meta: found.meta, body: found.body! };
      revalidate = revalidation(found);
    }
    if (policy.onlyIfCached) {
      res.setHeader('x-cache', 'MISS');
      req.keel!.cacheResult = CACHE_MISS;
      sendErrorPage(req, res, 504, req.keel!.id);
      return;
    }
    if (!mayStore || !policy.store) return this.fetch(req, res, target, next, key, null, '', false, false);
    // A pass record, or a request with credentials (its answer is likely personal, and others should not queue on it): no lock.
    if (found.pass || req.headers.authorization !== undefined) return this.fetch(req, res, target, next, key, null, '', true, false, fallback, revalidate);
    await this.fetchOnce(req, res, target, next, key, found.key, policy, now, fallback, revalidate);
  }

  /** One fetch per key: take the lock and fetch, or wait for whoever holds it. */
  private async fetchOnce(
    req: IncomingMessage,
    res: ServerResponse,
    target: Target,
    next: CallTarget,
    key: string,
    at: string,
    policy: RequestPolicy,
    start: number,
    fallback: Stale | null,
    revalidate: Stale | null,
  ): Promise<void> {
    let entryKey = at;
    let delay = 10;
    for (;;) {
      const token = `${process.pid}:${this.nextToken++}`;
      const locked = await this.safeLock(entryKey, token);
      if (locked === null) return this.fetch(req, res, target, next, key, null, '', false, false);
      if (locked) {
        // Someone may have stored (or revalidated) it between our lookup and the lock.
        const again = await this.find(key, req);
        if (again.meta !== null && answers(again.meta, policy, start, Date.now())) {
          void this.store.unlock(entryKey, token).catch(() => {});
          return this.answer(req, res, again.meta, again.body!, 'HIT', Date.now());
        }
        revalidate = revalidation(again) ?? revalidate;
        return this.fetch(req, res, target, next, key, entryKey, token, true, false, fallback, revalidate);
      }
      if (Date.now() - start >= WAIT_MS) return this.fetch(req, res, target, next, key, null, '', true, false, fallback, revalidate);
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
      if (res.destroyed) return;
      const found = await this.find(key, req);
      entryKey = found.key;
      if (found.meta !== null) {
        const now = Date.now();
        if (answers(found.meta, policy, start, now)) return this.answer(req, res, found.meta, found.body!, 'HIT', now);
      }
      if (found.pass) return this.fetch(req, res, target, next, key, null, '', true, false);
    }
  }

  /** Sends a kept response: 304 when the client's conditional matches, else the whole thing. */
  private answer(req: IncomingMessage, res: ServerResponse, meta: EntryMeta, body: Buffer, xCache: string, now: number): void {
    if (res.headersSent || res.writableEnded) return;
    req.keel!.cacheResult = xCache === 'HIT' ? CACHE_HIT : CACHE_STALE;
    const age = currentAge(meta.initialAge, meta.responseTime, now);
    const ifNoneMatch = req.headers['if-none-match'];
    const ifModifiedSince = req.headers['if-modified-since'];
    if (meta.status === 200 && (ifNoneMatch !== undefined || ifModifiedSince !== undefined)) {
      if (isNotModified(ifNoneMatch, ifModifiedSince, headerText(meta.headers.etag), headerText(meta.headers['last-modified']))) {
        res.writeHead(304, notModifiedHeaders(meta, age, xCache));
        res.end();
        return;
      }
    }
    res.writeHead(meta.status, hitHeaders(meta, body.length, age, xCache));
    if (req.method === 'HEAD' || body.length === 0) res.end();
    else res.end(body);
  }

  /**
   * Sends the request on and records the answer when `store`; `lockedKey` is the key whose lock this
   * request holds (released when the answer is kept, refused, or the response closes).
   */
  fetch(
    req: IncomingMessage,
    res: ServerResponse,
    target: Target,
    next: CallTarget,
    key: string,
    lockedKey: string | null,
    token: string,
    store: boolean,
    refresh: boolean,
    fallback: Stale | null = null,
    revalidate: Stale | null = null,
  ): void {
    if (!refresh) {
      if (res.headersSent || res.writableEnded || res.destroyed) {
        if (lockedKey !== null) void this.store.unlock(lockedKey, token).catch(() => {});
        return;
      }
      res.setHeader('x-cache', 'MISS');
      req.keel!.cacheResult = CACHE_MISS;
    }
    if (!store || req.headers.range !== undefined) {
      if (lockedKey !== null) void this.store.unlock(lockedKey, token).catch(() => {});
      next(req, res, target);
      return;
    }
    const job = new Fetch(this, req, key, lockedKey, token, refresh, fallback, revalidate);
    // A HEAD goes on as a GET so there is a body to keep (Nginx's proxy_cache_convert_head); the client still gets the head only.
    const clientHead = req.method === 'HEAD';
    if (clientHead) req.method = 'GET';
    // The answer must be the full representation: conditionals are answered here, from what comes back.
    if (job.ifNoneMatch !== undefined || job.ifModifiedSince !== undefined) stripConditionals(req);
    // Revalidation: the app or upstream is asked whether the kept entry is still good (a 304 refreshes it).
    if (revalidate !== null) addConditionals(req, revalidate.meta);
    const capture = captureResponse(res, job, this.maxEntry, clientHead);
    if (!refresh) capture.xCache = 'MISS';
    if (lockedKey !== null) res.once('close', onFetchClose);
    job.requestTime = Date.now();
    next(req, res, target);
  }

  private refreshInBackground(original: IncomingMessage, target: Target, next: CallTarget, key: string, entryKey: string): void {
    const token = `${process.pid}:${this.nextToken++}`;
    const run = this.store.lock(entryKey, token, LOCK_TTL_MS).then(
      async (locked) => {
        if (!locked) return;
        // Another request's refresh may have finished between our lookup and the lock.
        const again = await this.find(key, original);
        if (again.meta !== null && entryState(again.meta, PLAIN_POLICY, Date.now()) === 'fresh') {
          await this.store.unlock(entryKey, token);
          return;
        }
        const { req, res } = shadowExchange(original);
        this.fetch(req, res, target, next, key, entryKey, token, true, true, null, revalidation(again));
        return new Promise((resolve) => res.once('close', resolve));
      },
      (err: unknown) => this.warnStore(err),
    );
    this.refreshes.add(run);
    void run.finally(() => this.refreshes.delete(run));
  }

  /** Keeps a recorded answer under its key (and its vary record), then releases the lock. */
  keepCapture(job: Fetch, capture: Capture, freshness: Freshness, names: readonly string[]): Promise<void> {
    const headers = keptHeaders(capture.headers);
    // Node adds Date below this stage; a hit must carry the original one (with Age), not the time of the hit.
    if (headers.date === undefined) headers.date = new Date(capture.responseTime).toUTCString();
    return this.keep(job, entryMeta(capture.status, headers, freshness, capture.responseTime), capture.body(), storeTtlMs(freshness), names);
  }

  /**
   * The origin answered a revalidation with 304: the kept entry, its headers updated with the 304's
   * and its freshness computed again from them (RFC 9111 §4.3.4), is stored back and answers the
   * client (or a 304 when the client's own conditional matches it), X-Cache: REVALIDATED.
   */
  revalidated(job: Fetch, capture: Capture, stale: Stale): void {
    const notModified = keptHeaders(capture.headers);
    const headers = refreshedHeaders(stale.meta.headers, notModified, capture.responseTime);
    // The 304's Age counts towards the refreshed entry's age; keptHeaders leaves it out of what is kept.
    const age = capture.headers.age;
    const freshness = responseFreshness({
      status: stale.meta.status,
      headers: age === undefined ? headers : { ...headers, age },
      authorized: job.authorized,
      requestTime: job.requestTime,
      responseTime: capture.responseTime,
    });
    const meta = entryMeta(stale.meta.status, headers, freshness, capture.responseTime);
    if (!job.refresh) {
      job.ctx!.cacheResult = CACHE_REVALIDATED;
      const body = stale.body;
      const now = Date.now();
      const ageNow = currentAge(meta.initialAge, meta.responseTime, now);
      if (meta.status === 200 && (job.ifNoneMatch !== undefined || job.ifModifiedSince !== undefined) && isNotModified(job.ifNoneMatch, job.ifModifiedSince, headerText(meta.headers.etag), headerText(meta.headers['last-modified']))) {
        capture.replacement = { status: 304, headers: withCookie(notModifiedHeaders(meta, ageNow, 'REVALIDATED'), capture), body: null };
      } else {
        capture.replacement = { status: meta.status, headers: withCookie(hitHeaders(meta, body.length, ageNow, 'REVALIDATED'), capture), body: job.clientHead ? null : body };
      }
      capture.swallow = true;
    }
    const names = varyNames(headers.vary) ?? [];
    if (freshness.refusal === '') {
      void this.keep(job, meta, stale.body, storeTtlMs(freshness), names);
      return;
    }
    // The origin no longer lets it be kept (no-store, private …): it goes (even when no lock is held), as a refused answer would.
    this.invalidate(names.length > 0 ? variantKey(job.key, names, job.requestHeaders) : job.key);
    void this.refuse(job, capture.status);
  }

  private async keep(job: Fetch, meta: EntryMeta, body: Buffer, ttl: number, names: readonly string[]): Promise<void> {
    try {
      if (names.length > 0) {
        await this.store.set(job.key, { meta: JSON.stringify({ kind: 'vary', names }), body: Buffer.alloc(0) }, ttl);
        await this.store.set(variantKey(job.key, names, job.requestHeaders), { meta: JSON.stringify(meta), body }, ttl);
      } else {
        await this.store.set(job.key, { meta: JSON.stringify(meta), body }, ttl);
      }
    } catch (err) {
      this.warnStore(err);
    }
    await this.release(job);
  }

  /** An answer that cannot be kept: mark the key so others stop queueing on it, and release the lock. */
  async refuse(job: Fetch, status: number): Promise<void> {
    if (job.lockedKey === null) return;
    // An error does not replace a kept copy: stale-if-error may still use it.
    const markPass = !(status >= 500 && (job.refresh || job.fallback !== null));
    if (markPass) await this.store.set(job.lockedKey, { meta: PASS_META, body: Buffer.alloc(0) }, PASS_TTL_MS).catch((err: unknown) => this.warnStore(err));
    await this.release(job);
  }

  async release(job: Fetch): Promise<void> {
    const lockedKey = job.lockedKey;
    if (lockedKey === null) return;
    job.lockedKey = null;
    await this.store.unlock(lockedKey, job.token).catch((err: unknown) => this.warnStore(err));
  }

  invalidate(key: string): void {
    this.store.delete(key).catch((err: unknown) => this.warnStore(err));
  }

  async close(): Promise<void> {
    // Background refreshes finish (or give up) before the store goes, bounded by the lock's life.
    await Promise.race([Promise.allSettled([...this.refreshes]), sleep(2000)]);
    await this.store.close();
  }
}

/** The kept entry a lookup found, when it can be revalidated with the origin; else null. */
function revalidation(found: Found): Stale | null {
  return found.meta !== null && canRevalidate(found.meta) ? { meta: found.meta, body: found.body! } : null;
}

/**
 * Whether a kept entry answers a request that looked at `start`: fresh, or stored (or revalidated)
 * after the request arrived, so requests waiting on another's fetch share it, even for a no-cache
 * entry, which is never fresh but was just confirmed by the origin.
 */
function answers(meta: EntryMeta, policy: RequestPolicy, start: number, now: number): boolean {
  return entryState(meta, policy, now) === 'fresh' || (meta.responseTime >= start && policy.maxAge < 0 && policy.minFresh < 0);
}

/** A 304 that sets a cookie sets it for this client: it joins the kept answer sent instead (and is never kept). */
function withCookie(headers: OutgoingHttpHeaders, capture: Capture): OutgoingHttpHeaders {
  const cookie = capture.headers['set-cookie'];
  if (cookie !== undefined) headers['set-cookie'] = cookie as string | string[];
  return headers;
}

/** One request's recording: decides at the head whether it may be kept, keeps it at the end. */
class Fetch implements CaptureOwner {
  readonly requestHeaders: IncomingMessage['headers'];
  readonly ifNoneMatch: string | undefined;
  readonly ifModifiedSince: string | undefined;
  readonly authorized: boolean;
  readonly clientHead: boolean;
  /** The client's request context (its cache result is set on a revalidation). */
  readonly ctx: IncomingMessage['keel'];
  requestTime = 0;
  freshness: Freshness | null = null;
  names: readonly string[] = [];
  /** 'open' until the answer is kept or refused. */
  settled = false;

  constructor(
    readonly cache: ResponseCache,
    req: IncomingMessage,
    readonly key: string,
    public lockedKey: string | null,
    readonly token: string,
    readonly refresh: boolean,
    readonly fallback: Stale | null,
    /** The stale entry asked about with a conditional request, or null. */
    readonly revalidate: Stale | null,
  ) {
    this.ctx = req.keel;
    this.clientHead = req.method === 'HEAD';
    this.requestHeaders = req.headers;
    this.ifNoneMatch = req.headers['if-none-match'];
    this.ifModifiedSince = req.headers['if-modified-since'];
    this.authorized = req.headers.authorization !== undefined;
  }

  onHead(capture: Capture): void {
    if (capture.status === 304 && this.revalidate !== null) {
      capture.stop();
      this.settled = true;
      this.cache.revalidated(this, capture, this.revalidate);
      return;
    }
    const freshness = responseFreshness({
      status: capture.status,
      headers: capture.headers,
      authorized: this.authorized,
      requestTime: this.requestTime,
      responseTime: capture.responseTime,
    });
    const declared = Number(headerText(capture.headers['content-length']) ?? -1);
    if (this.fallback !== null && ERRORS.has(capture.status)) {
      // stale-if-error (RFC 5861): the kept copy stands in for the error; the error is logged by whoever made it.
      const { meta, body } = this.fallback;
      const age = currentAge(meta.initialAge, meta.responseTime, Date.now());
      capture.replacement = { status: meta.status, headers: hitHeaders(meta, body.length, age, 'STALE'), body: this.clientHead ? null : body };
      capture.swallow = true;
    }
    if (freshness.refusal !== '' || declared > this.cache.maxEntry) {
      capture.stop();
      this.settled = true;
      void this.cache.refuse(this, capture.status);
      return;
    }
    this.freshness = freshness;
    this.names = varyNames(capture.headers.vary) ?? [];
    if (!this.refresh && capture.status === 200 && (this.ifNoneMatch !== undefined || this.ifModifiedSince !== undefined)) {
      if (isNotModified(this.ifNoneMatch, this.ifModifiedSince, headerText(capture.headers.etag), headerText(capture.headers['last-modified']))) {
        capture.notModified = true;
        capture.swallow = true;
      }
    }
  }

  onComplete(capture: Capture): void {
    if (this.settled) return;
    this.settled = true;
    const declared = headerText(capture.headers['content-length']);
    // A body shorter or longer than announced is not the representation: never keep it.
    if (declared !== undefined && Number(declared) !== capture.size) {
      void this.cache.refuse(this, capture.status);
      return;
    }
    void this.cache.keepCapture(this, capture, this.freshness!, this.names);
  }

  onAbandon(capture: Capture): void {
    if (this.settled) return;
    this.settled = true;
    void this.cache.refuse(this, capture.status);
  }

  /** The response closed: if nothing was settled (aborted, destroyed), free the lock for the next request. */
  closed(): void {
    if (this.settled) return;
    this.settled = true;
    void this.cache.release(this);
  }
}

function onFetchClose(this: ServerResponse): void {
  (captureOf(this)?.owner as Fetch | undefined)?.closed();
}

type Invalidating = ServerResponse & { [kInvalidate]?: { cache: ResponseCache; key: string } };

/** An unsafe request succeeded: what is kept for its URL is out of date (RFC 9111 §4.4). */
function onUnsafeFinish(this: Invalidating): void {
  const target = this[kInvalidate];
  if (target !== undefined && this.statusCode < 400) target.cache.invalidate(target.key);
}
