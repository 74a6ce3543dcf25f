/**
 * A --static route. STUB: to be replaced by the static-file server (issue 5, point 1).
 */
import type { ResolvedConfig } from '../../config/resolve.js';
import type { StaticRoute } from '../../config/route-types.js';
import type { AdaptedApp } from '../../worker/adapters/types.js';
import { sendErrorPage } from '../error-page.js';

export function createStaticRoute(route: StaticRoute, config: ResolvedConfig): AdaptedApp {
  void route;
  void config;
  return {
    shape: 'listener',
    handle(req, res) {
      sendErrorPage(req, res, 501, req.keel?.id ?? '-');
    },
  };
}
