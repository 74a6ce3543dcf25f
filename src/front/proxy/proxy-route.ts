/**
 * A --proxy (or --run) route: the reverse proxy. Everything per route is decided here, once: the
 * upstreams and their pools, the balancing policy, timeouts, whether 5xx bodies are intercepted,
 * the active health checks. Each request is one ProxyExchange (proxy-exchange.ts); Upgrade
 * requests (WebSocket) are tunnelled by upgrade.ts.
 *
 * @example
 *   keel serve --proxy "/api=http://127.0.0.1:5000,http://127.0.0.1:5001 balance=least-conn health=/healthz"
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedConfig } from '../../config/resolve.js';
import type { ProxyRoute } from '../../config/route-types.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { AdaptedApp } from '../../worker/adapters/types.js';
import { type Balancer, createBalancer } from './balancer.js';
import { type ActiveHealth, startActiveHealth } from './health.js';
import { type ProxyCore, ProxyExchange } from './proxy-exchange.js';
import { isUpgrade } from '../upgrade-request.js';
import { proxyUpgrade } from './upgrade.js';
import { type PoolSettings, Upstream } from './upstream-pool.js';

export interface ProxyHandler extends AdaptedApp {
  /** Managed upstreams moved: proxy to these from now on. */
  setUpstreams(upstreams: readonly string[]): void;
  /** Stops health checks and closes pooled connections; idempotent. */
  close(): Promise<void>;
  /** The current upstreams, with this worker's view of their health (for the metrics). */
  readonly upstreams: readonly { readonly url: string; usable(now: number): boolean }[];
}

class ProxyRouteHandler implements ProxyHandler, ProxyCore {
  readonly shape = 'proxy' as const;
  readonly log: ErrorLog;
  readonly intercept: boolean;
  readonly bufferRequests: boolean;
  readonly responseBuffer: number;
  readonly balancer: Balancer<Upstream>;
  upstreams: readonly Upstream[] = [];
  private readonly settings: PoolSettings;
  private readonly health: ActiveHealth | null;
  private closed: Promise<void> | null = null;

  constructor(route: ProxyRoute, config: ResolvedConfig, log: ErrorLog) {
    this.log = log.child({ route: route.path });
    this.intercept = route.interceptErrors ?? config.interceptErrors;
    this.bufferRequests = config.proxyRequestBuffering;
    this.responseBuffer = config.proxyResponseBuffer;
    this.balancer = createBalancer<Upstream>(route.balance ?? config.balance);
    this.settings = {
      connectTimeout: config.proxyConnectTimeout * 1000,
      headersTimeout: config.proxyHeaderTimeout * 1000,
      bodyTimeout: config.proxyIdleTimeout * 1000,
      maxFails: config.proxyMaxFails,
      failTimeout: config.proxyFailTimeout * 1000,
    };
    this.setUpstreams(route.upstreams);
    this.health = route.health ? startActiveHealth(route.health, () => this.upstreams, this.log) : null;
    // Called as a plain function by some callers: bound once here, not per request.
    this.handle = this.handle.bind(this);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    if (isUpgrade(req)) {
      proxyUpgrade(this, req, res);
      return;
    }
    new ProxyExchange(this, req, res).start();
  }

  setUpstreams(urls: readonly string[]): void {
    if (this.closed) return;
    const previous = new Map(this.upstreams.map((u) => [u.url, u]));
    // Upstreams that stay keep their pools and health; the others close once their requests finish.
    this.upstreams = urls.map((url) => previous.get(url) ?? new Upstream(url, this.settings));
    const kept = new Set(urls);
    for (const [url, upstream] of previous) if (!kept.has(url)) void upstream.close();
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.health?.stop();
      const upstreams = this.upstreams;
      this.upstreams = [];
      await Promise.all(upstreams.map((u) => u.close()));
    })();
    return this.closed;
  }
}

export function createProxyRoute(route: ProxyRoute, config: ResolvedConfig, log: ErrorLog): ProxyHandler {
  return new ProxyRouteHandler(route, config, log);
}
