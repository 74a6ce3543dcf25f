/**
 * The names of keel's metrics and the label values workers count by, in one place: the worker
 * indexes its counters by these lists, the primary turns the indexes back into labels, and
 * docs/metrics.md lists the same names.
 */
import type { Route } from '../config/route-types.js';

/** Every metric keel exports, Prometheus style (`_total`, `_seconds`, `_bytes`). */
export const METRIC = {
  requests: 'keel_http_requests_total',
  duration: 'keel_http_request_duration_seconds',
  inflight: 'keel_http_requests_in_flight',
  requestBytes: 'keel_http_request_bytes_total',
  responseBytes: 'keel_http_response_bytes_total',
  workerStarts: 'keel_worker_starts_total',
  workerExits: 'keel_worker_exits_total',
  workerRestarts: 'keel_worker_restarts_total',
  eventLoopDelay: 'keel_worker_event_loop_delay_seconds',
  residentMemory: 'keel_worker_resident_memory_bytes',
  upstreamHealthy: 'keel_upstream_healthy',
  cacheRequests: 'keel_cache_requests_total',
  rateLimited: 'keel_ratelimit_limited_total',
  appErrors: 'keel_app_errors_total',
} as const;

/** The method label: the common methods by name, anything else as `other` (bounded cardinality). */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other'] as const;
export const METHOD_OTHER = METHODS.length - 1;

/** The status_class label, index = hundreds digit − 1. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The route label of requests nothing served (404 without an app, undecodable paths, refused heads). */
export const ROUTE_NONE = 0;
/** The route label of requests the app answered. */
export const ROUTE_APP = 1;

/**
 * The route label values of a route table, by id: `none`, `app`, then each route's prefix in table
 * order. A worker and the primary derive the same list from the same config.
 * @example routeLabels([{ path: '/static', … }]) // ['none', 'app', '/static']
 */
export function routeLabels(routes: readonly Route[]): string[] {
  return ['none', 'app', ...routes.map((r) => r.path)];
}

/** Why keel replaced a worker: the reason label of keel_worker_restarts_total. */
export const RESTART_REASONS = ['crash', 'timeout', 'memory', 'max-requests', 'reload'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** The result label of keel_cache_requests_total, by index (revalidated: a stale entry the origin confirmed with a 304). */
export const CACHE_RESULTS = ['hit', 'miss', 'stale', 'revalidated'] as const;
export const CACHE_HIT = 1;
export const CACHE_MISS = 2;
export const CACHE_STALE = 3;
export const CACHE_REVALIDATED = 4;

/**
 * Upper bounds (ms) of the request-duration buckets: fine enough (about ±25 %) for the primary to
 * estimate p50/p90/p99 per second, and the `le` values of the Prometheus histogram. The last
 * bucket is +Inf.
 */
export const DURATION_BOUNDS_MS: readonly number[] = [
  0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
  10000, 15000, 30000, 60000,
];
/** Buckets including +Inf. */
export const DURATION_BUCKETS = DURATION_BOUNDS_MS.length + 1;
