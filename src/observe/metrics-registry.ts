/**
 * /metrics: a prom-client Registry whose keel_* metrics are views over the primary's telemetry
 * (read at scrape time, nothing kept twice), plus prom-client's default process metrics for the
 * primary itself. Workers never call prom-client: they count in typed arrays and report deltas.
 */
import { type Metric, Registry, collectDefaultMetrics } from 'prom-client';
import { CACHE_RESULTS, DURATION_BOUNDS_MS, METRIC, RESTART_REASONS } from './metric-names.js';
import type { Telemetry } from './telemetry.js';

interface Sample {
  readonly value: number;
  readonly labels?: Record<string, string | number>;
  readonly metricName?: string;
}

/** A metric whose samples are computed when scraped, in the shape prom-client's Registry formats. */
function view(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: () => Sample[]): Metric {
  return {
    name,
    help,
    type,
    get: async () => ({ name, help, type, values: samples(), aggregator: 'sum' }),
    reset: () => {},
  } as unknown as Metric;
}

function durationSamples(telemetry: Telemetry): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  const counts = telemetry.durations;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i]!;
    const le = i < DURATION_BOUNDS_MS.length ? String(DURATION_BOUNDS_MS[i]! / 1000) : '+Inf';
    samples.push({ metricName: `${METRIC.duration}_bucket`, labels: { le }, value: cumulative });
  }
  samples.push({ metricName: `${METRIC.duration}_sum`, value: telemetry.durationSum });
  samples.push({ metricName: `${METRIC.duration}_count`, value: cumulative });
  return samples;
}

/**
 * The registry behind /metrics.
 * @example const registry = createMetricsRegistry(telemetry); const text = await registry.metrics();
 */
export function createMetricsRegistry(telemetry: Telemetry): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: Metric[] = [
    view(METRIC.requests, 'HTTP requests answered, by method, route (prefix, app or none) and status class.', 'counter', () =>
      [...telemetry.requests.values()].map((c) => ({ labels: { method: c.method, route: c.route, status_class: c.statusClass }, value: c.value })),
    ),
    view(METRIC.duration, 'Time from the request head to the response closing, in seconds.', 'histogram', () => durationSamples(telemetry)),
    view(METRIC.inflight, 'Requests being answered now, all workers.', 'gauge', () => [{ value: telemetry.inflight() }]),
    view(METRIC.requestBytes, 'Request body bytes received (as declared by Content-Length).', 'counter', () => [{ value: telemetry.requestBytes }]),
    view(METRIC.responseBytes, 'Response body bytes sent.', 'counter', () => [{ value: telemetry.responseBytes }]),
    view(METRIC.workerStarts, 'Workers forked.', 'counter', () => [{ value: telemetry.workerStarts }]),
    view(METRIC.workerExits, 'Workers that exited, for any reason.', 'counter', () => [{ value: telemetry.workerExits }]),
    view(METRIC.workerRestarts, 'Workers replaced, by reason: crash, timeout, memory, max-requests, reload.', 'counter', () =>
      RESTART_REASONS.map((reason) => ({ labels: { reason }, value: telemetry.restarts[reason] })),
    ),
    view(METRIC.eventLoopDelay, 'Event-loop delay of each worker, p99 over its last one-second report, in seconds.', 'gauge', () =>
      [...telemetry.gauges.values()].map((g) => ({ labels: { worker: g.pid }, value: g.eventLoopDelay })),
    ),
    view(METRIC.residentMemory, 'Resident set size of each worker, in bytes.', 'gauge', () =>
      [...telemetry.gauges.values()].map((g) => ({ labels: { worker: g.pid }, value: g.rss })),
    ),
    view(METRIC.upstreamHealthy, 'Proxy upstreams: 1 when every worker may send to it, 0 while a health check or failures take it out.', 'gauge', () =>
      telemetry.upstreams().map((u) => ({ labels: { route: u.route, upstream: u.url }, value: u.healthy ? 1 : 0 })),
    ),
    view(METRIC.cacheRequests, `Requests the response cache looked up, by result: ${CACHE_RESULTS.join(', ')}.`, 'counter', () =>
      telemetry.cacheEnabled ? CACHE_RESULTS.map((result) => ({ labels: { result }, value: telemetry.cache[result] })) : [],
    ),
    view(METRIC.rateLimited, 'Requests refused by a rate or connection limit (429), by route.', 'counter', () =>
      [...telemetry.limited].map(([route, value]) => ({ labels: { route }, value })),
    ),
    view(METRIC.appErrors, 'Unhandled app errors (the error inbox of the status page).', 'counter', () => [{ value: telemetry.inbox.total }]),
  ];
  for (const metric of metrics) registry.registerMetric(metric);
  return registry;
}
