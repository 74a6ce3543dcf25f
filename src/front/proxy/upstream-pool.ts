/**
 * One upstream server: its pooled keep-alive connections (an undici Pool, one per upstream per
 * worker) and its health as this worker sees it. `http://host:port`, `https://…` and
 * `unix:/path.sock` are accepted; a unix socket is reached through undici's socketPath.
 */
import { isIP } from 'node:net';
import { Pool, buildConnector } from 'undici';
import type { Balanced } from './balancer.js';
import { hashString } from './balancer.js';

export interface PoolSettings {
  /** ms */
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  /** Passive health: failures in a row before the upstream is skipped (0: never), and for how long (ms). */
  readonly maxFails: number;
  readonly failTimeout: number;
}

export class Upstream implements Balanced {
  /** As configured: the label in logs and the key of setUpstreams. */
  readonly url: string;
  readonly seed: number;
  readonly pool: Pool;
  inflight = 0;
  /** Failures in a row (connect errors and timeouts); a success resets it. */
  fails = 0;
  /** Skipped until this time (ms since epoch) after too many failures. */
  downUntil = 0;
  /** The active health check's verdict; true until a check says otherwise. */
  healthy = true;
  private readonly settings: PoolSettings;

  constructor(url: string, settings: PoolSettings) {
    this.url = url;
    this.seed = hashString(url);
    this.settings = settings;
    const unix = url.startsWith('unix:') ? url.slice(5) : null;
    this.pool = new Pool(unix === null ? url : 'http://localhost', {
      ...(unix === null ? {} : { socketPath: unix }),
      ...(url.startsWith('https:') ? { connect: tlsConnector(url, settings.connectTimeout) } : {}),
      connectTimeout: settings.connectTimeout,
      headersTimeout: settings.headersTimeout,
      bodyTimeout: settings.bodyTimeout,
      // Response heads as large as keel accepts from clients.
      maxHeaderSize: 64 * 1024,
      // One request per connection at a time: pipelining makes a failure ambiguous for every request behind it.
      pipelining: 1,
      keepAliveTimeout: 4000,
    });
  }

  usable(now: number): boolean {
    return this.healthy && this.downUntil <= now;
  }

  /** Passive health, Nginx's max_fails/fail_timeout: the maxFails-th failure in a row takes it out for failTimeout. */
  recordFailure(now: number): void {
    this.fails++;
    const { maxFails, failTimeout } = this.settings;
    if (maxFails > 0 && this.fails >= maxFails) this.downUntil = now + failTimeout;
  }

  recordSuccess(): void {
    if (this.fails !== 0) this.fails = 0;
    if (this.downUntil !== 0) this.downUntil = 0;
  }

  /** Lets requests in flight finish, then closes the connections. */
  close(): Promise<void> {
    return this.pool.close().catch(() => {});
  }
}

/**
 * TLS to an https:// upstream is verified against the upstream's own name, as configured. undici
 * would otherwise take the name from the request's Host header, which keel passes through from the
 * client: the public name, not the upstream's. An IP address gets no SNI (RFC 6066) and is checked
 * against the certificate's IP entries.
 */
function tlsConnector(url: string, timeout: number): buildConnector.connector {
  const hostname = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const servername = isIP(hostname) ? undefined : hostname;
  const connect = buildConnector({ timeout });
  return (options, callback) => connect({ ...options, servername }, callback);
}
