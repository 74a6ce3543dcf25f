/**
 * Start-up checks of the cache settings that their value types cannot make alone, run by
 * `keel serve` before anything listens (exit status 2 on failure).
 */
import type { ResolvedConfig } from '../../config/resolve.js';
import { keelError } from '../../errors.js';

/** --cache-redis must be a redis:// or rediss:// URL. The value is never echoed: it may hold a password. */
export function checkCacheConfig(config: Pick<ResolvedConfig, 'cacheRedis'>): void {
  if (!config.cacheRedis) return;
  let protocol = '';
  try {
    protocol = new URL(config.cacheRedis).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw keelError('KEEL_ERR_USAGE', { text: '--cache-redis: expected a redis:// or rediss:// URL (the value is not shown: it may hold a password)' });
  }
}
