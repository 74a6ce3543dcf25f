/**
 * The IPC messages between the primary and its workers, typed, with their names in one place.
 */
import type { ResolvedConfig } from './config/resolve.js';
import type { TlsMaterial } from './tls/material.js';
import type { ErrorGroup } from './observe/status-snapshot.js';

export const MSG = {
  /**
   * worker → primary: ready to receive the config. A message sent before the worker listens for it
   * is dropped, so the primary sends the config only when asked.
   */
  wantConfig: 'keel:want-config',
  /** primary → worker: the resolved config; the worker boots when it arrives. */
  config: 'keel:config',
  /** primary → worker: new certificates or ACME challenges; handshakes from now on use them. */
  tls: 'keel:tls',
  /** primary → worker: stop accepting, finish in-flight requests, exit. */
  drain: 'keel:drain',
  /** primary → worker: reopen log files (USR1). */
  reopenLogs: 'keel:reopen-logs',
  /** worker → primary: the app loaded and the worker listens. */
  ready: 'keel:ready',
  /** worker → primary: the app could not be loaded; the worker exits next. */
  bootFailed: 'keel:boot-failed',
  /** worker → primary: alive, with counters the primary acts on. */
  heartbeat: 'keel:heartbeat',
  /** worker → primary: once a second, what the worker counted since its last report (see TelemetryMessage). */
  telemetry: 'keel:telemetry',
  /** worker → primary: this worker is going away by itself (uncaught error); start a replacement. */
  retiring: 'keel:retiring',
  /** worker → primary: the worker closed its listeners; answer with stoppedAcceptingAck. */
  stoppedAccepting: 'keel:stopped-accepting',
  /**
   * primary → worker: every connection the primary handed this worker before it stopped accepting
   * has arrived (IPC is ordered), so exiting now loses none in transit.
   */
  stoppedAcceptingAck: 'keel:stopped-accepting-ack',
  /** primary → worker: the current addresses of managed (--run) upstreams, by route prefix. */
  upstreams: 'keel:upstreams',
  /** worker → primary: call a shared service (rate-limit counters, cache entries) that lives in the primary. */
  call: 'keel:call',
  /** primary → worker: the answer to a call, matched by id. */
  reply: 'keel:reply',
} as const;

/** Managed upstream addresses by route prefix: `{ '/': ['http://127.0.0.1:41234', 'unix:/tmp/…'] }`. */
export type UpstreamTargets = Readonly<Record<string, readonly string[]>>;

export interface ConfigMessage {
  readonly type: typeof MSG.config;
  readonly config: ResolvedConfig;
  readonly tls: TlsMaterial;
  readonly upstreams: UpstreamTargets;
}
export interface UpstreamsMessage {
  readonly type: typeof MSG.upstreams;
  readonly upstreams: UpstreamTargets;
}
export interface ServiceCall {
  readonly id: number;
  /** A service name from SERVICES. */
  readonly service: string;
  readonly args: unknown;
}
export interface ServiceReply {
  readonly id: number;
  readonly result?: unknown;
  /** Set when the service failed; the caller's promise rejects with it. */
  readonly error?: string;
}
/** The calls a worker made in one turn of its event loop, in one message. */
export interface CallMessage {
  readonly type: typeof MSG.call;
  readonly calls: readonly ServiceCall[];
}
/** The answers the primary had at once, in one message; a service that answers later sends its own. */
export interface ReplyMessage {
  readonly type: typeof MSG.reply;
  readonly replies: readonly ServiceReply[];
}
export interface TlsMessage {
  readonly type: typeof MSG.tls;
  readonly tls: TlsMaterial;
}
export interface DrainMessage {
  readonly type: typeof MSG.drain;
}
export interface ReopenLogsMessage {
  readonly type: typeof MSG.reopenLogs;
}
export interface StoppedAcceptingAckMessage {
  readonly type: typeof MSG.stoppedAcceptingAck;
}
export type ToWorker = ConfigMessage | TlsMessage | DrainMessage | ReopenLogsMessage | StoppedAcceptingAckMessage | UpstreamsMessage | ReplyMessage;

export interface ReadyMessage {
  readonly type: typeof MSG.ready;
  /** What the app turned out to be: listener, express, koa, fastify, fetch. */
  readonly shape: string;
  /** Actual addresses, e.g. after port 0. */
  readonly addresses: readonly string[];
  /**
   * Under `keel dev` only: the app failed to load and this worker answers every request with the
   * load error instead; the error with its stack. The primary keeps an older working worker if it has one.
   */
  readonly loadError?: string;
}
export interface BootFailedMessage {
  readonly type: typeof MSG.bootFailed;
  readonly code: string;
  readonly message: string;
  readonly stack: string;
  readonly exitCode: number;
}
export interface HeartbeatMessage {
  readonly type: typeof MSG.heartbeat;
  readonly requests: number;
  readonly rss: number;
}
/** One group of app errors a worker saw since its last report, by stack signature: the inbox's own shape. */
export type AppErrorReport = ErrorGroup;
/** One upstream as this worker sees it. */
export interface UpstreamHealthReport {
  readonly route: string;
  readonly url: string;
  readonly healthy: boolean;
}
/**
 * A worker's counters since its previous report (deltas, so the primary's totals keep what
 * exited workers counted), plus its current gauges. Counts are sparse `[index, count, …]` pairs
 * over the label lists in observe/metric-names.ts.
 */
export interface TelemetryMessage {
  readonly type: typeof MSG.telemetry;
  /** The route label values the request indexes refer to (a reload may change them). */
  readonly routes: readonly string[];
  /** Pairs of (method × routes + route) × 5 + status class, count. */
  readonly requests: readonly number[];
  /** Pairs of duration bucket, count (DURATION_BOUNDS_MS, then +Inf). */
  readonly durations: readonly number[];
  readonly durationSumSeconds: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Gauges, now. */
  readonly inflight: number;
  readonly rss: number;
  /** Event-loop delay over the last report, p99, seconds. */
  readonly eventLoopDelay: number;
  /** hit, miss, stale counts. */
  readonly cache: readonly number[];
  /** Pairs of route index, count of requests refused by a rate or connection limit. */
  readonly limited: readonly number[];
  readonly upstreams: readonly UpstreamHealthReport[];
  readonly errors: readonly AppErrorReport[];
}
export interface RetiringMessage {
  readonly type: typeof MSG.retiring;
  /** The error that ended the worker, with where it was thrown, for the crash-loop message. */
  readonly cause?: string;
}
export interface StoppedAcceptingMessage {
  readonly type: typeof MSG.stoppedAccepting;
}
export interface WantConfigMessage {
  readonly type: typeof MSG.wantConfig;
}
export type FromWorker = WantConfigMessage | ReadyMessage | BootFailedMessage | HeartbeatMessage | RetiringMessage | StoppedAcceptingMessage | CallMessage | TelemetryMessage;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
