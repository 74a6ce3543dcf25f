/**
 * Where rate-limit and connection counters live, seen from a worker. Two stores: the primary
 * (one process decides for every worker of this keel, over IPC: primary-counters.ts and
 * counters-over-ipc.ts) and Redis (one server decides for several keel machines:
 * redis-counters.ts). Either way every decision is made in one place, atomically, so a limit is
 * exact across workers instead of N times too generous.
 *
 * A store that cannot answer rejects; the caller then lets the request through (fails open).
 */
import type { LimitRule } from './limit-rules.js';

export interface CounterStore {
  /**
   * Counts one request of `client` against `rule`: resolves 0 when it is allowed, else the
   * milliseconds until one would be (and nothing is counted).
   */
  take(rule: LimitRule, client: string): Promise<number>;
  /** Counts a new connection of `client` when it has fewer than `limit` open: resolves 1, else 0 (not counted). */
  connectionOpen(client: string, limit: number): Promise<number>;
  /** Uncounts a connection connectionOpen counted. */
  connectionClose(client: string): Promise<unknown>;
  /** Idempotent. */
  close(): Promise<void>;
}
