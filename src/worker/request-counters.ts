/**
 * The worker's request counters: plain typed arrays indexed by label ids fixed at start-up, bumped
 * once per request when its response closes. No metric library and no allocation per request; the
 * primary gets the deltas once a second (see telemetry-reporter.ts) and keeps the totals.
 */
import { CACHE_HIT, CACHE_MISS, CACHE_RESULTS, CACHE_REVALIDATED, CACHE_STALE, DURATION_BOUNDS_MS, DURATION_BUCKETS, METHOD_OTHER, STATUS_CLASSES } from '../observe/metric-names.js';

const CLASSES = STATUS_CLASSES.length;

/** Index of a method in METHODS; a switch, so no lookup object a method name could collide with. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'PATCH':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return METHOD_OTHER;
  }
}

/**
 * Index of a status in STATUS_CLASSES. A request the client abandoned before any answer (status 0)
 * counts as 4xx, as Nginx logs it 499.
 */
export function statusClassIndex(status: number): number {
  if (status < 100) return 3;
  if (status >= 600) return 4;
  return ((status / 100) | 0) - 1;
}

/** The bucket of a duration in ms: binary search over DURATION_BOUNDS_MS, the last index is +Inf. */
export function durationBucket(ms: number): number {
  let lo = 0;
  let hi = DURATION_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= DURATION_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Appends the non-zero cells of `counts` as (index, count) pairs and zeroes them. */
function takePairs(counts: Float64Array, out: number[]): number[] {
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n !== 0) {
      out.push(i, n);
      counts[i] = 0;
    }
  }
  return out;
}

export class RequestCounters {
  /** The route label values (routeLabels of the config), the ids the router's targets carry. */
  readonly routes: readonly string[];
  private readonly routeCount: number;
  private readonly requests: Float64Array;
  private readonly durations = new Float64Array(DURATION_BUCKETS);
  private readonly limited: Float64Array;
  private readonly cache = new Float64Array(CACHE_RESULTS.length);
  private durationSumMs = 0;
  private requestBytes = 0;
  private responseBytes = 0;

  constructor(routes: readonly string[]) {
    this.routes = routes;
    this.routeCount = routes.length;
    this.requests = new Float64Array((METHOD_OTHER + 1) * this.routeCount * CLASSES);
    this.limited = new Float64Array(this.routeCount);
  }

  /**
   * One finished request. `cacheResult` is 0 (the cache did not take part) or CACHE_HIT/MISS/STALE/REVALIDATED;
   * `limited` says a rate or connection limit refused it.
   */
  record(method: string, route: number, status: number, durationMs: number, bytesIn: number, bytesOut: number, cacheResult: number, limited: boolean): void {
    this.requests[(methodIndex(method) * this.routeCount + route) * CLASSES + statusClassIndex(status)]!++;
    this.durations[durationBucket(durationMs)]!++;
    this.durationSumMs += durationMs;
    this.requestBytes += bytesIn;
    if (bytesOut > 0) this.responseBytes += bytesOut;
    if (cacheResult !== 0) this.cache[cacheResult - 1]!++;
    if (limited) this.limited[route]!++;
  }

  /** The counts since the last call, as IPC-ready (sparse) values; the counters restart from zero. */
  take(): { requests: number[]; durations: number[]; durationSumSeconds: number; requestBytes: number; responseBytes: number; cache: number[]; limited: number[] } {
    const out = {
      requests: takePairs(this.requests, []),
      durations: takePairs(this.durations, []),
      durationSumSeconds: this.durationSumMs / 1000,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      cache: [this.cache[CACHE_HIT - 1]!, this.cache[CACHE_MISS - 1]!, this.cache[CACHE_STALE - 1]!, this.cache[CACHE_REVALIDATED - 1]!],
      limited: takePairs(this.limited, []),
    };
    this.cache.fill(0);
    this.durationSumMs = 0;
    this.requestBytes = 0;
    this.responseBytes = 0;
    return out;
  }
}
