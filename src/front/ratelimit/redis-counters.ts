/**
 * Rate-limit and connection counters in Redis (--redis URL), so several keel machines share one
 * limit. Each decision is one Lua script run atomically by Redis (sent once, then by EVALSHA:
 * ioredis's defineCommand), on Redis's own clock (TIME), so the machines' clocks do not matter.
 * The GCRA script is the one redis-cell and go-redis/redis_rate use, in the form of gcra.ts.
 *
 * Keys: `keel:rl:RULE:CLIENT` holds a TAT in ms and expires when its bucket has refilled;
 * `keel:conn:CLIENT` counts open connections and expires CONNECTION_TTL_MS after the last one
 * opened, so the counts of a keel machine that died with connections open do not stay forever.
 *
 * Redis unreachable: commands fail at once (no offline queue once connected), and the caller
 * lets requests through. Until the first connection is made, commands wait for it, up to
 * COMMAND_TIMEOUT_MS, so a keel that has just started does not let a burst through unchecked.
 */
import { Redis } from 'ioredis';
import type { ErrorLog } from '../../observe/error-log.js';
import type { CounterStore } from './counter-store.js';
import type { LimitRule } from './limit-rules.js';

/** How long one decision may take before the request goes through unlimited. */
const COMMAND_TIMEOUT_MS = 1000;
/** Connection counts outlive their last open by this much (a connection may stay open for long). */
const CONNECTION_TTL_MS = 10 * 60_000;

// KEYS[1] the bucket; ARGV interval ms, tolerance ms. Returns 0 (allowed, counted) or the ms to wait (≥ 1).
const TAKE_LUA = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local allow_at = tat - tolerance
if allow_at > now then return math.ceil(allow_at - now) end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now))
return 0
`;

// KEYS[1] the client's count; ARGV limit, ttl ms. Returns 1 (counted) or 0 (over the limit, not counted).
const OPEN_LUA = `
local n = redis.call('INCR', KEYS[1])
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

// KEYS[1] the client's count. Never leaves it below zero (it may have expired meanwhile).
const CLOSE_LUA = `
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n
`;

type Scripts = Redis & {
  keelTake(key: string, interval: number, tolerance: number): Promise<number>;
  keelOpen(key: string, limit: number, ttl: number): Promise<number>;
  keelClose(key: string): Promise<number>;
};

export class RedisCounters implements CounterStore {
  private readonly redis: Scripts;
  private closed = false;

  constructor(url: string, log: ErrorLog) {
    const redis = new Redis(url, {
      // Queue only until the first connection; after that a Redis outage fails requests open at once.
      enableOfflineQueue: true,
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    }) as Scripts;
    redis.once('ready', () => {
      redis.options.enableOfflineQueue = false;
    });
    // The caller logs failed decisions (once a minute); an 'error' event without a listener would kill the worker.
    redis.on('error', (err: Error) => log.debug({ err }, 'rate-limit redis error'));
    redis.defineCommand('keelTake', { numberOfKeys: 1, lua: TAKE_LUA });
    redis.defineCommand('keelOpen', { numberOfKeys: 1, lua: OPEN_LUA });
    redis.defineCommand('keelClose', { numberOfKeys: 1, lua: CLOSE_LUA });
    this.redis = redis;
  }

  take(rule: LimitRule, client: string): Promise<number> {
    return this.redis.keelTake(`keel:rl:${rule.id}:${client}`, rule.interval, rule.tolerance);
  }

  connectionOpen(client: string, limit: number): Promise<number> {
    return this.redis.keelOpen(`keel:conn:${client}`, limit, CONNECTION_TTL_MS);
  }

  connectionClose(client: string): Promise<unknown> {
    return this.redis.keelClose(`keel:conn:${client}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
