/**
 * The primary's telemetry: folds the workers' once-a-second reports and the arbiter's worker
 * lifecycle into running totals (never reset, so what exited workers counted stays counted), the
 * per-second traffic ring, and the error inbox. /metrics (metrics-registry.ts) and the status
 * page's StatusSnapshot both read from here.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { TelemetryMessage, UpstreamHealthReport } from '../ipc.js';
import type { TlsMaterial } from '../tls/material.js';
import type { WorkerRecord } from '../supervisor/worker-record.js';
import { certificateRows } from './certificate-rows.js';
import { ErrorInbox } from './error-inbox.js';
import { CACHE_RESULTS, DURATION_BUCKETS, METHODS, RESTART_REASONS, type RestartReason, STATUS_CLASSES } from './metric-names.js';
import type { StatusSnapshot, UpstreamRow, WorkerRow } from './status-snapshot.js';
import { TrafficRing } from './traffic-ring.js';

const CLASSES = STATUS_CLASSES.length;
const SERVER_ERROR = 4;

/** One labelled cell of keel_http_requests_total. */
export interface RequestCell {
  readonly method: string;
  readonly route: string;
  readonly statusClass: string;
  value: number;
}

/** What the primary last heard from one live worker. */
export interface WorkerGauges {
  readonly pid: number;
  inflight: number;
  rss: number;
  eventLoopDelay: number;
  upstreams: readonly UpstreamHealthReport[];
}

interface Slot {
  occupant: WorkerRecord;
  /** The worker it replaced, while that one may still be alive (an abandoned reload gives the slot back). */
  previous: WorkerRecord | null;
  restarts: number;
}

export interface TelemetryOptions {
  readonly version: string;
  /** The arbiter's phase: starting | running | reloading | stopping. */
  readonly phase: () => string;
  /** The certificates the primary holds now, and the config that says where they come from. */
  readonly tls: () => { material: TlsMaterial; config: Pick<ResolvedConfig, 'https'> } | null;
  /** Whether the response cache is on. */
  readonly cacheEnabled: boolean;
}

/** The restart reason of a worker that exited, or null when its exit was no restart (shutdown, scale-down). */
export function restartReason(record: Pick<WorkerRecord, 'retireReason' | 'bootFailure'>, stopping: boolean): RestartReason | null {
  if (stopping) return null;
  const reason = record.retireReason ?? 'crash';
  return (RESTART_REASONS as readonly string[]).includes(reason) ? (reason as RestartReason) : null;
}

export class Telemetry {
  readonly startedAt = Date.now();
  /** keel_http_requests_total by `method route status_class`. */
  readonly requests = new Map<string, RequestCell>();
  /** Cumulative request-duration bucket counts (not yet cumulative over `le`), sum in seconds. */
  readonly durations = new Float64Array(DURATION_BUCKETS);
  durationSum = 0;
  requestCount = 0;
  serverErrors = 0;
  requestBytes = 0;
  responseBytes = 0;
  workerStarts = 0;
  workerExits = 0;
  readonly restarts: Record<RestartReason, number> = { crash: 0, timeout: 0, memory: 0, 'max-requests': 0, reload: 0 };
  readonly cache: Record<(typeof CACHE_RESULTS)[number], number> = { hit: 0, miss: 0, stale: 0, revalidated: 0 };
  /** Whether any config keel ran with has a response cache: its metric is shown then, zeros included. */
  cacheEnabled = false;
  /** Requests a rate or connection limit refused, by route label. */
  readonly limited = new Map<string, number>();
  readonly gauges = new Map<number, WorkerGauges>();
  readonly inbox = new ErrorInbox();
  private readonly traffic = new TrafficRing();
  private readonly records = new Map<number, WorkerRecord>();
  private readonly slots: Slot[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: TelemetryOptions) {
    this.cacheEnabled = options.cacheEnabled;
  }

  /** Starts closing a traffic sample every second. */
  start(): void {
    this.timer ??= setInterval(() => this.traffic.tick(Date.now()), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A worker was forked. It takes the slot of a worker being replaced, if any, else a new one. */
  workerStarted(record: WorkerRecord): void {
    this.workerStarts++;
    this.records.set(record.worker.id, record);
    // A slot is free once its worker died or keel decided to replace it: a replacement starts before
    // the old one leaves, and on a reload the old generation is retired only once the new one is up.
    const vacated = this.slots.find((s) => s.occupant.state === 'dead' || s.occupant.retireReason !== null || s.occupant.generation < record.generation);
    if (vacated) {
      vacated.previous = vacated.occupant;
      vacated.occupant = record;
      vacated.restarts++;
    } else this.slots.push({ occupant: record, previous: null, restarts: 0 });
  }

  /** A worker exited; `stopping` when keel is shutting down (no restart then). */
  workerExited(record: WorkerRecord, stopping: boolean): void {
    this.workerExits++;
    this.records.delete(record.worker.id);
    this.gauges.delete(record.worker.id);
    const reason = restartReason(record, stopping);
    if (reason !== null) this.restarts[reason]++;
    else {
      const index = this.slots.findIndex((s) => s.occupant === record);
      const slot = this.slots[index];
      if (slot?.previous && this.records.get(slot.previous.worker.id) === slot.previous) {
        // A worker of an abandoned reload: the one it was to replace keeps serving in its slot.
        slot.occupant = slot.previous;
        slot.previous = null;
        slot.restarts--;
      } else if (index >= 0) {
        // Not replaced (scale-down, shutdown): its slot goes with it.
        this.slots.splice(index, 1);
      }
    }
  }

  /** A worker's report: counts since its previous one, and its gauges now. */
  fold(record: WorkerRecord, report: TelemetryMessage): void {
    const { routes } = report;
    const perMethod = routes.length * CLASSES;
    let count = 0;
    let errors = 0;
    const pairs = report.requests;
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const index = pairs[i]!;
      const n = pairs[i + 1]!;
      const method = METHODS[Math.floor(index / perMethod)];
      const route = routes[Math.floor(index / CLASSES) % routes.length];
      const statusClass = index % CLASSES;
      if (method === undefined || route === undefined) continue;
      const key = `${method} ${route} ${statusClass}`;
      let cell = this.requests.get(key);
      if (!cell) {
        cell = { method, route, statusClass: STATUS_CLASSES[statusClass]!, value: 0 };
        this.requests.set(key, cell);
      }
      cell.value += n;
      count += n;
      if (statusClass === SERVER_ERROR) errors += n;
    }
    for (let i = 0; i + 1 < report.durations.length; i += 2) {
      const bucket = report.durations[i]!;
      if (bucket >= 0 && bucket < DURATION_BUCKETS) this.durations[bucket]! += report.durations[i + 1]!;
    }
    this.requestCount += count;
    this.serverErrors += errors;
    this.durationSum += report.durationSumSeconds;
    this.requestBytes += report.requestBytes;
    this.responseBytes += report.responseBytes;
    this.traffic.add(count, errors, report.durations);
    CACHE_RESULTS.forEach((result, i) => (this.cache[result] += report.cache[i] ?? 0));
    for (let i = 0; i + 1 < report.limited.length; i += 2) {
      const route = routes[report.limited[i]!];
      if (route !== undefined) this.limited.set(route, (this.limited.get(route) ?? 0) + report.limited[i + 1]!);
    }
    for (const error of report.errors) this.inbox.add(error);
    const gauges = this.gauges.get(record.worker.id);
    if (gauges) {
      gauges.inflight = report.inflight;
      gauges.rss = report.rss;
      gauges.eventLoopDelay = report.eventLoopDelay;
      gauges.upstreams = report.upstreams;
    } else {
      this.gauges.set(record.worker.id, { pid: record.pid, inflight: report.inflight, rss: report.rss, eventLoopDelay: report.eventLoopDelay, upstreams: report.upstreams });
    }
  }

  /** Requests in flight in every live worker, as last reported. */
  inflight(): number {
    let sum = 0;
    for (const g of this.gauges.values()) sum += g.inflight;
    return sum;
  }

  /** Each upstream once: healthy only when no live worker skips it. */
  upstreams(): UpstreamRow[] {
    const rows = new Map<string, { route: string; url: string; healthy: boolean }>();
    for (const g of this.gauges.values()) {
      for (const u of g.upstreams) {
        const key = `${u.route} ${u.url}`;
        const row = rows.get(key);
        if (row) row.healthy &&= u.healthy;
        else rows.set(key, { route: u.route, url: u.url, healthy: u.healthy });
      }
    }
    return [...rows.values()];
  }

  workers(): WorkerRow[] {
    const rows: WorkerRow[] = [];
    for (const slot of this.slots) {
      if (this.records.get(slot.occupant.worker.id) === slot.occupant) rows.push(this.workerRow(slot.occupant, slot.restarts));
    }
    // Workers of a slot that was taken over, still draining.
    for (const record of this.records.values()) {
      if (!this.slots.some((s) => s.occupant === record)) rows.push(this.workerRow(record, 0));
    }
    return rows.sort((a, b) => a.startedAt - b.startedAt);
  }

  private workerRow(record: WorkerRecord, restarts: number): WorkerRow {
    return {
      id: record.worker.id,
      pid: record.pid,
      state: record.state,
      startedAt: record.startedAt,
      requests: record.requests,
      rss: this.gauges.get(record.worker.id)?.rss ?? record.rss,
      restarts,
    };
  }

  snapshot(): StatusSnapshot {
    const tls = this.options.tls();
    return {
      version: this.options.version,
      startedAt: this.startedAt,
      now: Date.now(),
      phase: this.options.phase(),
      traffic: this.traffic.list(),
      totals: { requests: this.requestCount, errors: this.serverErrors, inflight: this.inflight() },
      workers: this.workers(),
      restarts: { ...this.restarts },
      upstreams: this.upstreams(),
      certificates: tls ? certificateRows(tls.material, tls.config) : [],
      errors: this.inbox.list(),
    };
  }
}
