/**
 * The worker's side of the telemetry: once a second it sends the primary what its request
 * counters gathered, its gauges (in-flight requests, RSS, event-loop delay), its view of upstream
 * health, and the app errors it saw, grouped by stack signature. Errors are folded here rather
 * than sent one by one, so an error storm costs one message a second.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type AppErrorReport, type FromWorker, MSG, type TelemetryMessage, type UpstreamHealthReport } from '../ipc.js';
import { errorStack, errorTitle, stackSignature } from '../observe/error-signature.js';
import type { Redactor } from '../observe/redact.js';
import type { RequestCounters } from './request-counters.js';

export const REPORT_INTERVAL_MS = 1000;
/** Request IDs kept per error group, newest last. */
export const ERROR_REQUEST_IDS = 20;
/** Distinct error groups one report carries; more in one second are counted into none. */
const MAX_GROUPS_PER_REPORT = 100;
/** How long a last report may take to leave before the worker exits anyway. */
const FLUSH_TIMEOUT_MS = 500;
/** The event-loop monitor's timer period; its samples include it, so it is taken off again. */
const LOOP_RESOLUTION_MS = 10;

interface ErrorGroupDraft {
  signature: string;
  title: string;
  stack: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  requestIds: string[];
}

export interface TelemetrySources {
  readonly counters: RequestCounters;
  readonly inflight: () => number;
  /** Proxy routes by prefix, as built so far. */
  readonly proxies: ReadonlyMap<string, { readonly upstreams: readonly { readonly url: string; usable(now: number): boolean }[] }>;
  readonly redact: Redactor;
}

export class TelemetryReporter {
  private readonly errors = new Map<string, ErrorGroupDraft>();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly sources: TelemetrySources) {}

  start(): void {
    this.loopDelay.enable();
    this.timer = setInterval(() => this.send(this.report()), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * An app error the boundary answered, or one that takes the worker down: grouped by where it
   * was thrown, with the request it broke.
   */
  reportError(err: unknown, requestId: string | undefined): void {
    const title = errorTitle(err);
    const stack = errorStack(err);
    const signature = stackSignature(stack, title);
    const now = Date.now();
    let group = this.errors.get(signature);
    if (!group) {
      if (this.errors.size >= MAX_GROUPS_PER_REPORT) return;
      const { redact } = this.sources;
      group = { signature, title: redact(title), stack: redact(stack), count: 0, firstSeen: now, lastSeen: now, requestIds: [] };
      this.errors.set(signature, group);
    }
    group.count++;
    group.lastSeen = now;
    if (requestId !== undefined) {
      group.requestIds.push(requestId);
      if (group.requestIds.length > ERROR_REQUEST_IDS) group.requestIds.shift();
    }
  }

  /** Sends what is left now and resolves once it is out (or after a short while), before the worker exits. */
  flush(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const message = this.report();
    return new Promise((resolve) => {
      if (!process.connected) return resolve();
      const timeout = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      process.send!(message, undefined, {}, () => {
        clearTimeout(timeout);
        resolve();
      });
    });
  }

  private send(message: FromWorker): void {
    if (process.connected) process.send!(message);
  }

  private report(): TelemetryMessage {
    const { counters, inflight, proxies } = this.sources;
    const now = Date.now();
    const upstreams: UpstreamHealthReport[] = [];
    for (const [route, proxy] of proxies) for (const u of proxy.upstreams) upstreams.push({ route, url: u.url, healthy: u.usable(now) });
    const errors: AppErrorReport[] = [...this.errors.values()];
    this.errors.clear();
    const delay = this.loopDelay.count > 0 ? Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) / 1000 : 0;
    this.loopDelay.reset();
    return {
      type: MSG.telemetry,
      routes: counters.routes,
      ...counters.take(),
      inflight: inflight(),
      rss: process.memoryUsage.rss(),
      eventLoopDelay: delay,
      upstreams,
      errors,
    };
  }
}
