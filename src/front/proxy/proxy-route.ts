/**
 * A --proxy (or --run) route. STUB: to be replaced by the reverse proxy (issue 5, point 3).
 */
import type { ResolvedConfig } from '../../config/resolve.js';
import type { ProxyRoute } from '../../config/route-types.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { AdaptedApp } from '../../worker/adapters/types.js';
import { sendErrorPage } from '../error-page.js';

export interface ProxyHandler extends AdaptedApp {
  /** Managed upstreams moved: proxy to these from now on. */
  setUpstreams(upstreams: readonly string[]): void;
  /** Stops health checks and closes pooled connections; idempotent. */
  close(): Promise<void>;
}

export function createProxyRoute(route: ProxyRoute, config: ResolvedConfig, log: ErrorLog): ProxyHandler {
  void route;
  void config;
  void log;
  return {
    shape: 'listener',
    handle(req, res) {
      sendErrorPage(req, res, 501, req.keel?.id ?? '-');
    },
    setUpstreams() {},
    close: async () => {},
  };
}
