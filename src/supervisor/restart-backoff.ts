/**
 * How long a crashed upstream instance waits before its restart: doubling from a tenth of a second
 * to half a minute, so a crash loop costs almost nothing, and forgiven once an instance stayed up a
 * while (systemd's RestartSec with RestartSteps, PM2's exp-backoff-restart-delay).
 *
 * @example
 *   const backoff = new RestartBackoff();
 *   setTimeout(restart, backoff.next(uptimeMs)); // 100, 200, 400, … 30000 ms
 */
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  /** An instance that ran at least this long before it exited starts the sequence again. */
  readonly resetAfterMs?: number;
}

export class RestartBackoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;

  constructor({ initialMs = 100, maxMs = 30_000, resetAfterMs = 30_000 }: BackoffOptions = {}) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.resetAfterMs = resetAfterMs;
  }

  /** The delay before the next start, given how long the instance that just ended had run. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.resetAfterMs) this.failures = 0;
    const delay = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return delay;
  }

  /** How many restarts in a row the current sequence holds. */
  get streak(): number {
    return this.failures;
  }
}
