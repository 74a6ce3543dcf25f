/**
 * The last ten minutes of traffic, one sample a second, summed over all workers: the status
 * page's charts. Workers report once a second on their own clocks, so a report lands in whichever
 * second is open when it arrives; over a minute the shape is right, which is what a chart needs.
 */
import { DURATION_BOUNDS_MS, DURATION_BUCKETS } from './metric-names.js';
import type { TrafficSample } from './status-snapshot.js';

/** Ten minutes of one-second samples. */
export const TRAFFIC_SECONDS = 600;

/**
 * The q-quantile (0..1) of durations counted in DURATION_BOUNDS_MS buckets, in ms, interpolated
 * inside its bucket; 0 when nothing was counted.
 * @example bucketQuantile(counts, 0.99)
 */
export function bucketQuantile(counts: ArrayLike<number>, total: number, q: number): number {
  if (total <= 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n === 0) continue;
    if (seen + n >= rank) {
      const lower = i === 0 ? 0 : DURATION_BOUNDS_MS[i - 1]!;
      // The +Inf bucket has no upper end: its lower bound is the best answer there is.
      if (i >= DURATION_BOUNDS_MS.length) return lower;
      const upper = DURATION_BOUNDS_MS[i]!;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return DURATION_BOUNDS_MS[DURATION_BOUNDS_MS.length - 1]!;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export class TrafficRing {
  private readonly samples: TrafficSample[] = [];
  private requests = 0;
  private errors = 0;
  private readonly durations = new Float64Array(DURATION_BUCKETS);

  /** Requests reported during the open second: `count` of which `errors` were 5xx, and their duration buckets as pairs. */
  add(count: number, errors: number, durationPairs: readonly number[]): void {
    this.requests += count;
    this.errors += errors;
    for (let i = 0; i + 1 < durationPairs.length; i += 2) {
      const bucket = durationPairs[i]!;
      if (bucket >= 0 && bucket < DURATION_BUCKETS) this.durations[bucket]! += durationPairs[i + 1]!;
    }
  }

  /** Closes the open second as a sample ending at `now`. */
  tick(now: number): void {
    const total = this.durations.reduce((a, b) => a + b, 0);
    this.samples.push({
      t: now,
      rps: this.requests,
      errorRate: this.requests > 0 ? this.errors / this.requests : 0,
      p50: round(bucketQuantile(this.durations, total, 0.5)),
      p90: round(bucketQuantile(this.durations, total, 0.9)),
      p99: round(bucketQuantile(this.durations, total, 0.99)),
    });
    if (this.samples.length > TRAFFIC_SECONDS) this.samples.shift();
    this.requests = 0;
    this.errors = 0;
    this.durations.fill(0);
  }

  /** Oldest first. */
  list(): readonly TrafficSample[] {
    return this.samples.slice();
  }
}
