/**
 * The router: which route answers a request, by longest path prefix, before the app. The table is
 * sorted once (longest first), so the first match wins. A path with encoded characters, dot
 * segments or doubled slashes is normalised first, so `/%61pi` and `/x/../api` meet the `/api`
 * route (and its rate limit) instead of slipping past it to the app.
 */
import { underPrefix } from '../config/route-table.js';
import type { Route } from '../config/route-types.js';
import type { AdaptedApp } from '../worker/adapters/types.js';
import { ROUTE_APP, ROUTE_NONE } from '../observe/metric-names.js';

/** What answers a request: a route's handler, or the app when no route matches. */
export interface Target {
  /** null when no route matched. */
  readonly route: Route | null;
  /** null when nothing can answer (no route matched and keel serves no app): 404. */
  readonly handler: AdaptedApp | null;
  /** The response cache may keep this target's answers. */
  readonly cacheable: boolean;
  /** The error status when handler is null: 404, or 400 for a path that cannot be decoded. */
  readonly status: number;
  /** The route label id for metrics: ROUTE_APP, ROUTE_NONE, or 2 + the route's index in the config's table. */
  readonly routeId: number;
}

/** The path part of a request target, normalised as Nginx does before matching locations; null when it cannot be decoded. */
export function routingPath(url: string): string | null {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  // Fast path: nothing that normalising would change.
  if (!/%|\/\.|\/\/|\\/.test(path)) return path;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  const out: string[] = [];
  for (const segment of decoded.replace(/\\/g, '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}${decoded.endsWith('/') && out.length > 0 ? '/' : ''}`;
}

export function createRouter(routes: readonly Route[], handlerFor: (route: Route) => AdaptedApp, app: AdaptedApp | null): (url: string) => Target {
  const appTarget: Target = { route: null, handler: app, cacheable: app !== null, status: 404, routeId: app !== null ? ROUTE_APP : ROUTE_NONE };
  if (routes.length === 0) return () => appTarget;
  const badPath: Target = { route: null, handler: null, cacheable: false, status: 400, routeId: ROUTE_NONE };
  // routeLabels lists the routes in this same (table) order after none and app.
  const targets = routes.map((route, i): Target => ({ route, handler: handlerFor(route), cacheable: route.cache && route.kind !== 'static', status: 404, routeId: 2 + i }));
  return (url) => {
    const path = routingPath(url);
    if (path === null) return badPath;
    for (const target of targets) if (underPrefix(path, target.route!.path)) return target;
    return appTarget;
  };
}
