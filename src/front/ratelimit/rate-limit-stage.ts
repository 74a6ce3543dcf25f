/**
 * The rate-limit stage (pipeline stage 7): per client address, before any route or app work is
 * spent. It answers 429 when the client's connection is over --limit-conn, or when the request is
 * over the rate limit that applies to it (limit-rules.ts), with Retry-After; otherwise it calls
 * `proceed`. The counts live in one place for all workers: the primary, or Redis with --redis.
 *
 * When the store cannot answer (Redis down, primary gone) the request goes through: a limit that
 * cannot be counted must not take the site down. That is logged at most once a minute.
 *
 * Returns null when no limit is configured, so the pipeline skips the stage.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ResolvedConfig } from '../../config/resolve.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { PrimaryChannel } from '../../worker/primary-channel.js';
import type { Target } from '../router.js';
import { type ConnectionLimit, countedConnectionOf, createConnectionLimit } from './connection-limit.js';
import type { CounterStore } from './counter-store.js';
import { CountersOverIpc } from './counters-over-ipc.js';
import { retryAfterSeconds } from './gcra.js';
import { compileLimitRules } from './limit-rules.js';
import { sendErrorPage } from '../error-page.js';

export type Proceed = (req: IncomingMessage, res: ServerResponse, target: Target) => void;

export interface RateLimitStage {
  /** Calls `proceed` when the client is within its limit, else answers 429 with Retry-After. */
  check(req: IncomingMessage, res: ServerResponse, target: Target, proceed: Proceed): void;
  /** For the listeners (--limit-conn): counts each accepted connection; null without a connection limit. */
  readonly onConnection: ((socket: Socket) => void) | null;
  close(): Promise<void>;
}

/** Failures of the store are logged at most this often: an outage would otherwise log every request. */
const STORE_ERROR_LOG_MS = 60_000;

/** The response went elsewhere meanwhile (a request timeout answered it, the client left). */
function answered(res: ServerResponse): boolean {
  return res.headersSent || res.writableEnded || res.destroyed;
}

export async function createRateLimitStage(config: ResolvedConfig, primary: PrimaryChannel, log: ErrorLog): Promise<RateLimitStage | null> {
  const ruleFor = compileLimitRules(config);
  const limitConn = config.limitConn;
  if (ruleFor === null && limitConn === 0) return null;

  // ioredis loads only with --redis: it costs a worker ~100 ms of start-up.
  const store: CounterStore = config.redis ? new (await import('./redis-counters.js')).RedisCounters(config.redis, log) : new CountersOverIpc(primary);
  const storeName = config.redis ? 'redis' : 'the primary';
  let lastErrorLog = -Infinity;
  function onStoreError(err: unknown): void {
    const now = Date.now();
    if (now - lastErrorLog < STORE_ERROR_LOG_MS) return;
    lastErrorLog = now;
    log.warn({ err }, `rate limits: ${storeName} did not answer; requests go through unlimited until it does (logged once a minute)`);
  }
  const connections: ConnectionLimit | null = limitConn > 0 ? createConnectionLimit(limitConn, store, onStoreError) : null;

  function refuseConnection(req: IncomingMessage, res: ServerResponse): void {
    req.keel!.event = 'conn-limited';
    sendErrorPage(req, res, 429, req.keel!.id, true);
    // HTTP/2 has no Connection: close; GOAWAY ends the session once this stream is done.
    (req as IncomingMessage & { stream?: ServerHttp2Stream }).stream?.session?.close();
  }

  function check(req: IncomingMessage, res: ServerResponse, target: Target, proceed: Proceed): void {
    if (connections !== null) {
      const connection = countedConnectionOf(req);
      if (connection !== undefined) {
        // The store has not answered for this connection yet: its first request waits for it.
        if (connection.isPending) {
          void connection.decided.then(() => {
            if (!answered(res)) check(req, res, target, proceed);
          });
          return;
        }
        if (connection.isRefused) {
          refuseConnection(req, res);
          return;
        }
      }
    }
    const rule = ruleFor === null ? null : ruleFor(target, req.url!);
    const client = req.keel!.clientAddress;
    // No rule here, or no address to count by (a unix-socket peer nobody vouched for): as Nginx does with an empty key.
    if (rule === null || client === 'unix') {
      proceed(req, res, target);
      return;
    }
    store.take(rule, client).then(
      (wait) => {
        if (answered(res)) return;
        if (wait === 0) {
          proceed(req, res, target);
          return;
        }
        req.keel!.event = 'rate-limited';
        sendErrorPage(req, res, 429, req.keel!.id, false, { 'retry-after': retryAfterSeconds(wait) });
      },
      (err: unknown) => {
        onStoreError(err);
        if (!answered(res)) proceed(req, res, target);
      },
    );
  }

  let closing: Promise<void> | null = null;
  return {
    check,
    onConnection: connections === null ? null : connections.onConnection,
    close() {
      closing ??= (async () => {
        await connections?.release();
        await store.close();
      })();
      return closing;
    },
  };
}
