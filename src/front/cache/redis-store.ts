/**
 * The shared store: entries in Redis, so every worker of every keel pointed at the same URL sees
 * them. Each entry is a hash { m: meta JSON, b: body bytes } with PEXPIRE = freshness plus the
 * stale window; locks are `SET key token NX PX ttl`, released by a compare-and-delete script.
 *
 * Redis being down must never fail a request: commands are not queued while disconnected
 * (enableOfflineQueue: false) and time out quickly, so the stage sees a rejection at once and serves
 * without the cache. The outage is logged once, and its end once.
 */
import { Redis } from 'ioredis';
import type { ErrorLog } from '../../observe/error-log.js';
import { lockKey } from './cache-key.js';
import type { CacheStore, StoredRecord } from './cache-store.js';

/** Deletes the lock only if it still holds our token: an expired lock may be someone else's now. */
const UNLOCK_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisStore implements CacheStore {
  private readonly redis: Redis;
  private down = false;

  constructor(url: string, log: ErrorLog) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1000,
      connectTimeout: 2000,
      // Keep trying, but not in a tight loop: at most every 2 s.
      retryStrategy: (times) => Math.min(times * 100, 2000),
      lazyConnect: false,
    });
    this.redis.on('error', (err: Error) => {
      if (this.down) return;
      this.down = true;
      // The URL may carry a password: log the error's message only, never the URL.
      log.warn({ err: { message: err.message } }, 'cache: Redis unreachable; serving without the cache until it is back');
    });
    this.redis.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      log.info('cache: Redis reachable again');
    });
  }

  async get(key: string): Promise<StoredRecord | null> {
    const hash = await this.redis.hgetallBuffer(key);
    const meta = hash.m;
    const body = hash.b;
    if (meta === undefined || body === undefined) return null;
    return { meta: meta.toString('utf8'), body };
  }

  async set(key: string, record: StoredRecord, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    await this.redis.multi().del(key).hset(key, 'm', record.meta, 'b', record.body).pexpire(key, ttlMs).exec();
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(key);
  }

  async lock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(lockKey(key), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.redis.eval(UNLOCK_SCRIPT, 1, lockKey(key), token);
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
