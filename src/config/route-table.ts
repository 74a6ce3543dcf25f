/**
 * The route table: --static, --proxy, --run and the config file's routes merged into one list,
 * longest prefix first, with static roots made absolute and rate limits attached. Built once per
 * config; the worker's router only walks it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { ProxyRoute, Route } from './route-types.js';

export interface RouteSources {
  readonly static: readonly Route[];
  readonly proxy: readonly Route[];
  readonly routes: readonly Route[];
  readonly run: string | null;
  readonly instances: number;
}

/** Where a --run with no route of its own is mounted. */
function runRoute(command: string, instances: number): ProxyRoute {
  return {
    kind: 'proxy',
    path: '/',
    text: `--run ${command}`,
    upstreams: [],
    balance: null,
    health: null,
    interceptErrors: null,
    run: { command, instances },
    rateLimit: null,
    cache: true,
  };
}

/** Duplicate prefixes are a mistake the operator must hear about: returns the first one repeated. */
export function duplicatePrefix(routes: readonly Route[]): string | null {
  const seen = new Set<string>();
  for (const route of routes) {
    if (seen.has(route.path)) return route.path;
    seen.add(route.path);
  }
  return null;
}

export function buildRouteTable(sources: RouteSources, cwd: string): Route[] {
  const all: Route[] = [...sources.routes, ...sources.static, ...sources.proxy];
  if (sources.run) all.push(runRoute(sources.run, sources.instances));
  const table = all.map((route): Route =>
    route.kind === 'static' ? { ...route, root: isAbsolute(route.root) ? route.root : resolve(cwd, route.root) } : route,
  );
  // Longest prefix first, so the first match is the most specific one.
  return table.sort((a, b) => b.path.length - a.path.length);
}

/** Whether a request path falls under a route prefix, on a segment boundary. */
export function underPrefix(url: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  // end, '/', '?'
  return Number.isNaN(next) || next === 47 || next === 63;
}
