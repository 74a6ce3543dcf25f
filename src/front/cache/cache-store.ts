/**
 * Where cache entries live, behind one small interface: in the primary (the default, one LRU for
 * all workers, reached over IPC) or in Redis (shared by several keel machines). Both hold opaque
 * records (a JSON text plus a body) with a time to live, and short locks so one fetch per key runs
 * at a time across workers and machines.
 */

/** What a store keeps under a key: `meta` is JSON (see cache-entry.ts), `body` the response bytes. */
export interface StoredRecord {
  readonly meta: string;
  readonly body: Buffer;
}

export interface CacheStore {
  /** The record under `key`, or null when absent or expired. Rejects when the store cannot be reached. */
  get(key: string): Promise<StoredRecord | null>;
  /** Keeps `record` for `ttlMs`; a store may drop it early (LRU) or refuse it when too large. */
  set(key: string, record: StoredRecord, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Takes the fetch lock of `key` for `ttlMs` unless someone holds it; true when taken. */
  lock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock if `token` still holds it (an expired lock may belong to someone else now). */
  unlock(key: string, token: string): Promise<void>;
  close(): Promise<void>;
}
