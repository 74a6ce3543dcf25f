/**
 * The default store: one LRU in the primary process, bounded by bytes, shared by every worker
 * through the primary's services (SERVICES.cacheGet/cacheSet/cacheLock/cacheUnlock). Keeping it in
 * the primary means a worker that dies or is replaced loses nothing, and all workers see one copy
 * of each entry instead of N.
 *
 * IPC between cluster workers and the primary is JSON, where a Buffer would become an array of
 * numbers; bodies cross it as base64 text and are kept as that text (one byte per character),
 * so the memory used is about 4/3 of the body bytes counted against --cache.
 */
import type { ResolvedConfig } from '../../config/resolve.js';
import { type PrimaryServices, SERVICES } from '../../supervisor/primary-services.js';
import type { PrimaryChannel } from '../../worker/primary-channel.js';
import type { CacheStore, StoredRecord } from './cache-store.js';

interface Kept {
  readonly meta: string;
  readonly body: string;
  /** Counted against the bound: meta characters plus body bytes. */
  readonly size: number;
  readonly expiresAt: number;
}

/** The wire form of a record over IPC. */
interface WireRecord {
  readonly meta: string;
  /** base64 */
  readonly body: string;
}
interface SetArgs {
  readonly key: string;
  /** null deletes. */
  readonly record: (WireRecord & { readonly size: number }) | null;
  readonly ttlMs: number;
}
interface LockArgs {
  readonly key: string;
  readonly token: string;
  readonly ttlMs?: number;
}

/** When a kept response arrived (its meta's responseTime), or -1 for records without one (Vary lists, pass marks), which always replace. */
function responseTimeOf(meta: string): number {
  try {
    const time = (JSON.parse(meta) as { responseTime?: unknown }).responseTime;
    return typeof time === 'number' ? time : -1;
  } catch {
    return -1;
  }
}

/**
 * A byte-bounded LRU with per-entry expiry. A Map keeps insertion order, so re-inserting on each
 * hit makes its first key the least recently used: eviction walks from the front.
 *
 * @example
 *   const lru = new MemoryCache(64 * 1024 * 1024);
 *   lru.set('k', { meta: '{}', body: '', size: 2 }, 60_000);
 */
export class MemoryCache {
  private readonly entries = new Map<string, Kept>();
  private readonly locks = new Map<string, { token: string; expiresAt: number }>();
  private used = 0;

  constructor(private maxBytes: number) {}

  /** A new bound; shrinking evicts the least recently used entries at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  private evict(): void {
    for (const [oldKey, old] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(oldKey);
      this.used -= old.size;
    }
  }

  get bytesUsed(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now = Date.now()): WireRecord | null {
    const kept = this.entries.get(key);
    if (kept === undefined) return null;
    this.entries.delete(key);
    if (kept.expiresAt <= now) {
      this.used -= kept.size;
      return null;
    }
    this.entries.set(key, kept);
    return { meta: kept.meta, body: kept.body };
  }

  set(key: string, record: WireRecord & { readonly size: number }, ttlMs: number, now = Date.now()): boolean {
    // Workers store when their answer completes, so an older answer can arrive after a newer one
    // (a forced refresh on another worker): the most recent response wins (RFC 9111 §4.3.4).
    const existing = this.entries.get(key);
    if (existing !== undefined && existing.expiresAt > now) {
      const incoming = responseTimeOf(record.meta);
      if (incoming >= 0 && incoming < responseTimeOf(existing.meta)) return false;
    }
    this.delete(key);
    if (record.size > this.maxBytes || ttlMs <= 0) return false;
    this.entries.set(key, { meta: record.meta, body: record.body, size: record.size, expiresAt: now + ttlMs });
    this.used += record.size;
    this.evict();
    return true;
  }

  delete(key: string): void {
    const kept = this.entries.get(key);
    if (kept === undefined) return;
    this.entries.delete(key);
    this.used -= kept.size;
  }

  lock(key: string, token: string, ttlMs: number, now = Date.now()): boolean {
    const held = this.locks.get(key);
    if (held !== undefined && held.expiresAt > now) return false;
    // Locks of fetches that died unreleased expire; forget them now and then rather than on a timer.
    if (this.locks.size >= 1024) for (const [k, lock] of this.locks) if (lock.expiresAt <= now) this.locks.delete(k);
    this.locks.set(key, { token, expiresAt: now + ttlMs });
    return true;
  }

  unlock(key: string, token: string): void {
    if (this.locks.get(key)?.token === token) this.locks.delete(key);
  }
}

/** The primary's cache, re-sized or turned on and off when a reload changes --cache or --cache-redis. */
export interface PrimaryCache {
  reconfigure(config: Pick<ResolvedConfig, 'cache' | 'cacheRedis'>): void;
}

/**
 * Registers the in-primary store's services. The LRU exists only when the config asks for an
 * in-memory cache (not with --cache-redis: workers then talk to Redis directly); otherwise the
 * services answer "nothing kept", so a worker of an older generation never fails on them.
 * Called once by `keel serve`; `reconfigure` on each reload.
 *
 * @example
 *   const cache = registerCacheServices(services, config);
 *   // on HUP: cache.reconfigure(next);
 */
export function registerCacheServices(services: PrimaryServices, config: Pick<ResolvedConfig, 'cache' | 'cacheRedis'>): PrimaryCache {
  let lru: MemoryCache | null = null;
  const reconfigure = (next: Pick<ResolvedConfig, 'cache' | 'cacheRedis'>): void => {
    const wanted = next.cache > 0 && !next.cacheRedis ? next.cache : 0;
    if (wanted === 0) lru = null;
    else if (lru === null) lru = new MemoryCache(wanted);
    else lru.resize(wanted);
  };
  reconfigure(config);
  services.register(SERVICES.cacheGet, (args) => lru?.get((args as { key: string }).key) ?? null);
  services.register(SERVICES.cacheSet, (args) => {
    const { key, record, ttlMs } = args as SetArgs;
    if (record === null) lru?.delete(key);
    else lru?.set(key, record, ttlMs);
    return true;
  });
  services.register(SERVICES.cacheLock, (args) => {
    const { key, token, ttlMs } = args as LockArgs;
    // Off (a reload turned it off under an older worker): every fetch may go on at once.
    return lru?.lock(key, token, ttlMs ?? 10_000) ?? true;
  });
  services.register(SERVICES.cacheUnlock, (args) => {
    const { key, token } = args as LockArgs;
    lru?.unlock(key, token);
    return true;
  });
  return { reconfigure };
}

/** The worker's side of the in-primary store. */
export class PrimaryStore implements CacheStore {
  constructor(private readonly primary: PrimaryChannel) {}

  async get(key: string): Promise<StoredRecord | null> {
    const wire = await this.primary.call<WireRecord | null>(SERVICES.cacheGet, { key });
    return wire === null ? null : { meta: wire.meta, body: Buffer.from(wire.body, 'base64') };
  }

  async set(key: string, record: StoredRecord, ttlMs: number): Promise<void> {
    const args: SetArgs = { key, record: { meta: record.meta, body: record.body.toString('base64'), size: record.meta.length + record.body.length }, ttlMs };
    await this.primary.call(SERVICES.cacheSet, args);
  }

  async delete(key: string): Promise<void> {
    const args: SetArgs = { key, record: null, ttlMs: 0 };
    await this.primary.call(SERVICES.cacheSet, args);
  }

  lock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return this.primary.call<boolean>(SERVICES.cacheLock, { key, token, ttlMs } satisfies LockArgs);
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.primary.call(SERVICES.cacheUnlock, { key, token } satisfies LockArgs);
  }

  async close(): Promise<void> {}
}
