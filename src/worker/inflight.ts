/**
 * The requests a worker has in progress: for the request timeout sweep, for drain (when is a
 * worker done), and mirrored into the watchdog table so a stuck worker's requests still get
 * access-log lines.
 */
import type { RequestContext } from '../front/request-context.js';
import type { WatchdogTable } from './watchdog-table.js';

export class InflightRequests {
  readonly active = new Set<RequestContext>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly table: WatchdogTable | null) {}

  add(ctx: RequestContext): void {
    this.active.add(ctx);
    if (this.table) ctx.slot = this.table.record(ctx);
  }

  /** Returns true when the watchdog already logged this request. */
  remove(ctx: RequestContext): boolean {
    this.active.delete(ctx);
    const logged = this.table ? this.table.release(ctx.slot) : false;
    if (this.active.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
    return logged;
  }

  /** Resolves when no request is in progress. */
  idle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
