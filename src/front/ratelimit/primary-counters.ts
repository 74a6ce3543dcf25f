/**
 * The rate-limit and connection counters of one keel, kept in the primary: every worker asks here
 * (counters-over-ipc.ts), and the primary handles one message at a time, so each decision is
 * exact across workers with no locking. Used when --redis is not set.
 *
 * Memory stays bounded by the clients active within their rule's window: a periodic sweep drops
 * every bucket that has refilled (its TAT has passed), which is the same as never having seen the
 * client. Connection counts are kept per worker PID, so the counts of a worker that died without
 * closing its connections are dropped by the sweep.
 *
 * @example
 *   registerCounterServices(services);   // in `keel serve`, before the workers start
 */
import { performance } from 'node:perf_hooks';
import { SERVICES, type PrimaryServices } from '../../supervisor/primary-services.js';
import type { CloseArgs, OpenArgs, TakeArgs } from './counters-over-ipc.js';
import { gcraNext, gcraWait } from './gcra.js';

/** How often refilled buckets and dead workers' connections are dropped. */
const SWEEP_MS = 10_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but not ours to signal (cannot happen for our own workers, but it is not "dead").
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class PrimaryCounters {
  /** Rule id → client → TAT (ms on `now`'s clock). */
  private readonly buckets = new Map<string, Map<string, number>>();
  /** Worker PID → client → open connections; and the total per client across workers. */
  private readonly connectionsByPid = new Map<number, Map<string, number>>();
  private readonly connections = new Map<string, number>();

  /** @param now a monotonic clock in ms (injectable for tests). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** 0 when allowed (and counted), else the ms until a request of `client` would be allowed. */
  take(ruleId: string, client: string, interval: number, tolerance: number): number {
    let rule = this.buckets.get(ruleId);
    if (rule === undefined) {
      rule = new Map();
      this.buckets.set(ruleId, rule);
    }
    const now = this.now();
    const tat = rule.get(client) ?? now;
    const wait = gcraWait(tat, now, tolerance);
    if (wait === 0) rule.set(client, gcraNext(tat, now, interval));
    return wait;
  }

  /** 1 when `client` had fewer than `limit` open connections (now counted), else 0. */
  open(client: string, pid: number, limit: number): number {
    const total = this.connections.get(client) ?? 0;
    if (total >= limit) return 0;
    this.connections.set(client, total + 1);
    let mine = this.connectionsByPid.get(pid);
    if (mine === undefined) {
      mine = new Map();
      this.connectionsByPid.set(pid, mine);
    }
    mine.set(client, (mine.get(client) ?? 0) + 1);
    return 1;
  }

  close(client: string, pid: number): void {
    const mine = this.connectionsByPid.get(pid);
    const count = mine?.get(client);
    if (mine === undefined || count === undefined) return;
    if (count <= 1) mine.delete(client);
    else mine.set(client, count - 1);
    if (mine.size === 0) this.connectionsByPid.delete(pid);
    this.uncount(client, 1);
  }

  /** Open connections of `client` across workers (for tests and status). */
  openConnections(client: string): number {
    return this.connections.get(client) ?? 0;
  }

  /** Clients with a bucket under some rule (for tests). */
  bucketCount(): number {
    let n = 0;
    for (const rule of this.buckets.values()) n += rule.size;
    return n;
  }

  /** Drops refilled buckets and the connections of workers that are gone. */
  sweep(alive: (pid: number) => boolean = isAlive): void {
    const now = this.now();
    for (const [id, rule] of this.buckets) {
      for (const [client, tat] of rule) if (tat <= now) rule.delete(client);
      if (rule.size === 0) this.buckets.delete(id);
    }
    for (const [pid, mine] of this.connectionsByPid) {
      if (alive(pid)) continue;
      for (const [client, count] of mine) this.uncount(client, count);
      this.connectionsByPid.delete(pid);
    }
  }

  private uncount(client: string, count: number): void {
    const total = (this.connections.get(client) ?? 0) - count;
    if (total > 0) this.connections.set(client, total);
    else this.connections.delete(client);
  }
}

/** Puts the counters behind the primary's services and starts the sweep; returns a stop function. */
export function registerCounterServices(services: PrimaryServices): () => void {
  const counters = new PrimaryCounters();
  services.register(SERVICES.rateLimitTake, (args) => {
    const a = args as TakeArgs;
    return counters.take(a[0], a[1], a[2], a[3]);
  });
  services.register(SERVICES.connectionOpen, (args) => {
    const a = args as OpenArgs;
    return counters.open(a[0], a[1], a[2]);
  });
  services.register(SERVICES.connectionClose, (args) => {
    const a = args as CloseArgs;
    counters.close(a[0], a[1]);
    return 0;
  });
  const timer = setInterval(() => counters.sweep(), SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
