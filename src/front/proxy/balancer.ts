/**
 * Balancing policies: which upstream gets the next request. Pure logic over a list, so it is
 * tested on its own; health lives in the upstreams (`usable`), each worker keeps its own counts.
 *
 * - round-robin: each in turn.
 * - least-conn: fewest requests in flight from this worker; ties go round-robin.
 * - hash-ip / hash-header:NAME: rendezvous hashing (highest random weight): each upstream scores
 *   the key, the best score wins. Removing an upstream moves only the keys it had; adding one takes
 *   about 1/n of the keys. A request without the header falls back to round-robin.
 *
 * Upstreams that are down (passive or active health) are skipped; when every one is down, they are
 * all tried anyway, as Nginx does, rather than failing at once.
 */
import type { Balance } from '../../config/route-types.js';

export interface Balanced {
  /** A hash of the upstream's address, fixed for its life: rendezvous scores mix it with the key. */
  readonly seed: number;
  /** Requests this worker has in flight to it. */
  inflight: number;
  /** Not marked down by health checks or failures at `now` (ms). */
  usable(now: number): boolean;
}

export interface Balancer<T extends Balanced> {
  /** Picks among `list`, never one in `tried`; null when every upstream was tried. `key` is the hash key (hash policies). */
  pick(list: readonly T[], key: string | undefined, tried: readonly T[] | null, now: number): T | null;
  /** The hash key this policy reads from a request, or undefined (no header: round-robin). */
  readonly header: string | null;
  readonly hashed: boolean;
}

/** 32-bit FNV-1a over the string's UTF-16 code units. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Murmur3's finaliser: spreads the combination of key and upstream so each upstream ranks keys independently. */
export function rendezvousScore(keyHash: number, seed: number): number {
  let h = (keyHash ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function eligible<T extends Balanced>(u: T, tried: readonly T[] | null, healthyOnly: boolean, now: number): boolean {
  return (tried === null || !tried.includes(u)) && (!healthyOnly || u.usable(now));
}

export function createBalancer<T extends Balanced>(policy: Balance): Balancer<T> {
  let next = 0;

  function roundRobin(list: readonly T[], tried: readonly T[] | null, healthyOnly: boolean, now: number): T | null {
    const n = list.length;
    const start = next++ % n;
    if (next > 0x3fffffff) next = 0;
    for (let i = 0; i < n; i++) {
      const u = list[(start + i) % n];
      if (eligible(u, tried, healthyOnly, now)) return u;
    }
    return null;
  }

  function leastConn(list: readonly T[], tried: readonly T[] | null, healthyOnly: boolean, now: number): T | null {
    const n = list.length;
    const start = next++ % n;
    if (next > 0x3fffffff) next = 0;
    let best: T | null = null;
    for (let i = 0; i < n; i++) {
      const u = list[(start + i) % n];
      if (eligible(u, tried, healthyOnly, now) && (best === null || u.inflight < best.inflight)) best = u;
    }
    return best;
  }

  function rendezvous(list: readonly T[], key: string, tried: readonly T[] | null, healthyOnly: boolean, now: number): T | null {
    const keyHash = hashString(key);
    let best: T | null = null;
    let bestScore = -1;
    for (let i = 0; i < list.length; i++) {
      const u = list[i];
      if (!eligible(u, tried, healthyOnly, now)) continue;
      const score = rendezvousScore(keyHash, u.seed);
      if (score > bestScore) {
        best = u;
        bestScore = score;
      }
    }
    return best;
  }

  const hashed = policy === 'hash-ip' || policy.startsWith('hash-header:');
  const header = policy.startsWith('hash-header:') ? policy.slice('hash-header:'.length).toLowerCase() : null;

  function choose(list: readonly T[], key: string | undefined, tried: readonly T[] | null, healthyOnly: boolean, now: number): T | null {
    if (hashed && key !== undefined) return rendezvous(list, key, tried, healthyOnly, now);
    return policy === 'least-conn' ? leastConn(list, tried, healthyOnly, now) : roundRobin(list, tried, healthyOnly, now);
  }

  return {
    hashed,
    header,
    pick(list, key, tried, now) {
      if (list.length === 0) return null;
      return choose(list, key, tried, true, now) ?? choose(list, key, tried, false, now);
    },
  };
}
