/**
 * What the primary knows about the running keel, as one plain JSON-able object: the status page
 * renders it and streams it over Server-Sent Events, /readyz and tests read parts of it. The
 * primary builds it from the workers' periodic reports (see the telemetry modules), so it costs
 * the request path nothing beyond the counters each worker keeps anyway.
 */

/** One second of traffic, summed over all workers. */
export interface TrafficSample {
  /** Unix time in ms at the end of the second. */
  readonly t: number;
  /** Requests that completed in that second. */
  readonly rps: number;
  /** Share of those that were 5xx, 0..1. */
  readonly errorRate: number;
  /** Latency percentiles of those requests in ms (0 when none completed). */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface WorkerRow {
  /** The worker's cluster id (changes when a worker is replaced). */
  readonly id: number;
  readonly pid: number;
  /** starting | ready | draining | dead */
  readonly state: string;
  /** Unix time in ms the worker was forked. */
  readonly startedAt: number;
  /** Requests this worker has answered. */
  readonly requests: number;
  /** Resident set size in bytes at its last report. */
  readonly rss: number;
  /** How many workers keel has replaced in this worker's slot (0 for an original). */
  readonly restarts: number;
}

export interface UpstreamRow {
  /** Route prefix that proxies to it. */
  readonly route: string;
  readonly url: string;
  /** False while passive or active health checks skip it, in any worker. */
  readonly healthy: boolean;
}

export interface CertificateRow {
  /** The names (DNS or IP) the certificate covers. */
  readonly names: readonly string[];
  /** Unix time in ms. */
  readonly notAfter: number;
  /** files | acme | local */
  readonly source: string;
}

/** The app's unhandled errors, grouped by where they were thrown. */
export interface ErrorGroup {
  /** A short stable hash of the stack's frames (no message, no line-specific values). */
  readonly signature: string;
  /** `TypeError: x is undefined`, from the first occurrence. */
  readonly title: string;
  /** The first occurrence's stack, secrets redacted. */
  readonly stack: string;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** The request IDs of the most recent occurrences (newest last, at most 20), to look up in the logs. */
  readonly requestIds: readonly string[];
}

export interface StatusSnapshot {
  readonly version: string;
  /** Unix time in ms the primary started, and now. */
  readonly startedAt: number;
  readonly now: number;
  /** starting | running | reloading | stopping */
  readonly phase: string;
  /** The last ten minutes, one sample a second, oldest first. */
  readonly traffic: readonly TrafficSample[];
  readonly totals: { readonly requests: number; readonly errors: number; readonly inflight: number };
  readonly workers: readonly WorkerRow[];
  /** Worker restarts since start, by reason: crash, timeout, memory, max-requests, reload. */
  readonly restarts: Readonly<Record<string, number>>;
  readonly upstreams: readonly UpstreamRow[];
  readonly certificates: readonly CertificateRow[];
  readonly errors: readonly ErrorGroup[];
}
