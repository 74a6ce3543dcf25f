/**
 * Value types for routes: `--static PREFIX=DIR [options]`, `--proxy PREFIX=URL[,URL…] [options]`,
 * `--rate-limit "[PREFIX] RATE [burst=N]"`, and the config file's `routes` list. Options after the
 * target are space-separated `name` or `name=value` words, as Nginx writes `server … max_fails=3`.
 *
 * @example
 *   --static "/assets=./public"             --static "/=./dist spa"
 *   --proxy "/api=http://127.0.0.1:5000,http://127.0.0.1:5001 balance=least-conn health=/healthz"
 *   routes: [{ path: '/api', proxy: ['http://127.0.0.1:5000'], balance: 'hash-ip', rateLimit: '10r/s burst=20' }]
 */
import { ValueError, type ValueType } from './value-types.js';

/** How a proxy route picks an upstream. `hash-header:NAME` hashes the named request header. */
export type Balance = 'round-robin' | 'least-conn' | 'hash-ip' | `hash-header:${string}`;

/** Active health checks of a proxy route's upstreams. */
export interface HealthCheck {
  readonly path: string;
  /** Seconds between checks of each upstream. */
  readonly interval: number;
  /** Inclusive range of statuses that count as healthy. */
  readonly statusMin: number;
  readonly statusMax: number;
}

/** `10r/s burst=20`: a leaky bucket of `rate` requests per second that lets `burst` through at once. */
export interface RateLimit {
  /** Requests per second (`r/m` is divided by 60). */
  readonly rate: number;
  readonly burst: number;
  readonly text: string;
}

/** A managed upstream app: `command` with `{port}` or `{socket}`, started `instances` times. */
export interface RunSpec {
  readonly command: string;
  readonly instances: number;
}

interface RouteBase {
  /** The URL path prefix, matched on a segment boundary: `/api` takes `/api`, `/api/x`, `/api?q`, not `/apix`. */
  readonly path: string;
  /** How the route was written, for messages and --print-config. */
  readonly text: string;
  /** A limit for this route only; the global --rate-limit applies where a route has none. */
  readonly rateLimit: RateLimit | null;
  /** false keeps this route's responses out of the response cache even when --cache is on. */
  readonly cache: boolean;
}

export interface StaticRoute extends RouteBase {
  readonly kind: 'static';
  /** The root directory as written; the route table makes it absolute. */
  readonly root: string;
  /** Single-page app: a GET for a missing file that is not an asset answers index.html. */
  readonly spa: boolean;
}

export interface ProxyRoute extends RouteBase {
  readonly kind: 'proxy';
  /** Upstream base URLs (`http://host:port`, `https://…`, or `unix:/path.sock`); empty for a `run` route until it starts. */
  readonly upstreams: readonly string[];
  /** null: the global --balance. */
  readonly balance: Balance | null;
  readonly health: HealthCheck | null;
  /** null: the global --intercept-errors. */
  readonly interceptErrors: boolean | null;
  /** Set when keel starts and supervises the upstreams itself (--run). */
  readonly run: RunSpec | null;
}

export type Route = StaticRoute | ProxyRoute;

const BALANCE_TEXT = 'round-robin, least-conn, hash-ip or hash-header:NAME';

export function parseBalance(raw: string, allowed = BALANCE_TEXT): Balance {
  const value = raw.trim().toLowerCase();
  if (value === 'round-robin' || value === 'least-conn' || value === 'hash-ip') return value;
  const header = /^hash-header:([!#$%&'*+.^_`|~0-9a-z-]+)$/.exec(value);
  if (header) return `hash-header:${header[1]}`;
  throw new ValueError(allowed);
}

export function balance(): ValueType<Balance> {
  return { allowed: BALANCE_TEXT, parse: (raw) => parseBalance(String(raw)) };
}

const RATE_TEXT = 'RATE [burst=N] with RATE like 10r/s or 600r/m, optionally preceded by a path prefix (/api 10r/s burst=20)';

function parseRate(words: readonly string[], text: string, allowed: string): RateLimit {
  const rate = /^(\d+(?:\.\d+)?)r\/(s|m)$/.exec(words[0] ?? '');
  if (!rate || Number(rate[1]) <= 0) throw new ValueError(allowed);
  let burst = 0;
  for (const word of words.slice(1)) {
    const b = /^burst=(\d{1,9})$/.exec(word);
    if (!b) throw new ValueError(allowed);
    burst = Number(b[1]);
  }
  return { rate: Number(rate[1]) / (rate[2] === 'm' ? 60 : 1), burst, text };
}

/** A rate limit, global or for one path prefix. */
export interface RateLimitRule extends RateLimit {
  readonly path: string | null;
}

export function rateLimits(): ValueType<RateLimitRule[]> {
  const one = (raw: string): RateLimitRule => {
    const words = raw.trim().split(/\s+/);
    const path = words[0]?.startsWith('/') ? checkPrefix(words.shift()!, RATE_TEXT) : null;
    return { path, ...parseRate(words, raw.trim(), RATE_TEXT) };
  };
  return repeated(RATE_TEXT, one);
}

function checkPrefix(raw: string, allowed: string): string {
  const path = raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
  if (!path.startsWith('/') || /[?#\s\\]|\/\.\.?(\/|$)|\/\//.test(path)) throw new ValueError(allowed);
  return path;
}

function parseHealth(raw: string, allowed: string): HealthCheck {
  // health=/healthz, health=/healthz:5s, health=/healthz:5s:200-299
  const [path, interval = '5', status = '200-399'] = raw.split(':');
  const seconds = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(interval);
  const range = /^(\d{3})(?:-(\d{3}))?$/.exec(status);
  if (!path.startsWith('/') || !seconds || !range) throw new ValueError(allowed);
  const intervalSeconds = Number(seconds[1]) / (seconds[2] === 'ms' ? 1000 : 1);
  if (intervalSeconds <= 0) throw new ValueError(allowed);
  return { path, interval: intervalSeconds, statusMin: Number(range[1]), statusMax: Number(range[2] ?? range[1]) };
}

function isUpstreamUrl(value: string): boolean {
  if (/^unix:\/.+/.test(value)) return true;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
  } catch {
    return false;
  }
}

const STATIC_TEXT = 'PREFIX=DIR, e.g. /assets=./public, optionally followed by spa or cache=off';
const PROXY_TEXT =
  'PREFIX=URL[,URL...], e.g. /api=http://127.0.0.1:5000,http://127.0.0.1:5001, optionally followed by balance=…, health=/path[:interval[:status]], intercept-errors, cache=off';

/** Splits `PREFIX=TARGET word word…` into its parts. */
function splitRoute(raw: string, allowed: string): { path: string; target: string; options: Map<string, string> } {
  const words = raw.trim().split(/\s+/);
  const head = words.shift() ?? '';
  const eq = head.indexOf('=');
  if (eq <= 0 || eq === head.length - 1) throw new ValueError(allowed);
  const options = new Map<string, string>();
  for (const word of words) {
    const at = word.indexOf('=');
    options.set(at < 0 ? word : word.slice(0, at), at < 0 ? '' : word.slice(at + 1));
  }
  return { path: checkPrefix(head.slice(0, eq), allowed), target: head.slice(eq + 1), options };
}

function takeCache(options: Map<string, string>, allowed: string): boolean {
  const value = options.get('cache');
  options.delete('cache');
  if (value === undefined || value === 'on') return true;
  if (value === 'off') return false;
  throw new ValueError(allowed);
}

function parseStatic(raw: string): StaticRoute {
  const { path, target, options } = splitRoute(raw, STATIC_TEXT);
  const spa = options.has('spa');
  options.delete('spa');
  const cache = takeCache(options, STATIC_TEXT);
  if (options.size > 0) throw new ValueError(STATIC_TEXT);
  return { kind: 'static', path, text: raw.trim(), root: target, spa, rateLimit: null, cache };
}

function parseProxy(raw: string): ProxyRoute {
  const { path, target, options } = splitRoute(raw, PROXY_TEXT);
  const upstreams = target.split(',').map((u) => u.trim().replace(/\/$/, '')).filter((u) => u !== '');
  if (upstreams.length === 0 || !upstreams.every(isUpstreamUrl)) throw new ValueError(PROXY_TEXT);
  const balanceText = options.get('balance');
  const healthText = options.get('health');
  const intercept = options.has('intercept-errors');
  for (const name of ['balance', 'health', 'intercept-errors']) options.delete(name);
  const cache = takeCache(options, PROXY_TEXT);
  if (options.size > 0) throw new ValueError(PROXY_TEXT);
  return {
    kind: 'proxy',
    path,
    text: raw.trim(),
    upstreams,
    balance: balanceText === undefined ? null : parseBalance(balanceText, PROXY_TEXT),
    health: healthText === undefined ? null : parseHealth(healthText, PROXY_TEXT),
    interceptErrors: intercept ? true : null,
    run: null,
    rateLimit: null,
    cache,
  };
}

/** A repeatable flag: values accumulate; an env var or config string separates them with `;` (commas belong to the values). */
function repeated<R extends { readonly text: string }>(allowed: string, one: (raw: string) => R): ValueType<R[]> {
  return {
    allowed: `${allowed} (repeatable)`,
    parse(raw) {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(';');
      return items.map((v) => v.trim()).filter((v) => v !== '').map(one);
    },
    show: (value) => value.map((r) => r.text).join(';'),
  };
}

export const staticRoutes = (): ValueType<StaticRoute[]> => repeated(STATIC_TEXT, parseStatic);
export const proxyRoutes = (): ValueType<ProxyRoute[]> => repeated(PROXY_TEXT, parseProxy);

/** A route as the config file's `routes` list writes it. */
export interface RouteInput {
  path: string;
  /** A directory to serve files from. */
  static?: string;
  spa?: boolean;
  /** Upstream URLs to proxy to. */
  proxy?: string | string[];
  /** A server command to start and proxy to, with {port} or {socket}. */
  run?: string;
  instances?: number;
  balance?: string;
  /** A path, or { path, interval, status } with interval in seconds and status like "200-399". */
  health?: string | { path: string; interval?: number; status?: string | number };
  interceptErrors?: boolean;
  rateLimit?: string;
  cache?: boolean;
}

const ROUTE_TEXT =
  'a list of routes, each { path, and one of static: DIR, proxy: [URL…] or run: "CMD {port}" }, with optional spa, instances, balance, health, interceptErrors, rateLimit, cache';
const ROUTE_KEYS = new Set(['path', 'static', 'spa', 'proxy', 'run', 'instances', 'balance', 'health', 'interceptErrors', 'rateLimit', 'cache']);

function parseRouteInput(input: unknown, index: number): Route {
  const where = (what: string): ValueError => new ValueError(`routes[${index}]: ${what}; ${ROUTE_TEXT}`);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw where('not an object');
  const r = input as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!ROUTE_KEYS.has(key)) throw where(`unknown key ${key}`);
  if (typeof r.path !== 'string') throw where('path missing');
  const path = checkPrefix(r.path, `routes[${index}]: path must start with / and hold no .. or //`);
  const kinds = ['static', 'proxy', 'run'].filter((k) => r[k] !== undefined);
  if (kinds.length !== 1) throw where('exactly one of static, proxy or run is needed');
  const rateLimit = r.rateLimit === undefined ? null : parseRate(String(r.rateLimit).trim().split(/\s+/), String(r.rateLimit).trim(), `routes[${index}].rateLimit: ${RATE_TEXT}`);
  const cache = r.cache === undefined ? true : r.cache === true;
  const text = JSON.stringify(r);
  if (r.static !== undefined) {
    if (typeof r.static !== 'string' || r.static === '') throw where('static must be a directory path');
    return { kind: 'static', path, text, root: r.static, spa: r.spa === true, rateLimit, cache };
  }
  let health: HealthCheck | null = null;
  if (typeof r.health === 'string') health = parseHealth(r.health, `routes[${index}].health: a path such as /healthz`);
  else if (r.health && typeof r.health === 'object') {
    const h = r.health as { path?: unknown; interval?: unknown; status?: unknown };
    health = parseHealth(`${String(h.path)}:${String(h.interval ?? 5)}:${String(h.status ?? '200-399')}`, `routes[${index}].health: { path: "/healthz", interval: 5, status: "200-399" }`);
  }
  const common = {
    kind: 'proxy' as const,
    path,
    text,
    balance: r.balance === undefined ? null : parseBalance(String(r.balance), `routes[${index}].balance: ${BALANCE_TEXT}`),
    health,
    interceptErrors: r.interceptErrors === undefined ? null : r.interceptErrors === true,
    rateLimit,
    cache,
  };
  if (r.run !== undefined) {
    if (typeof r.run !== 'string' || !/\{(port|socket)\}/.test(r.run)) throw where('run must be a command with {port} or {socket} in it');
    const instances = r.instances === undefined ? 1 : Number(r.instances);
    if (!Number.isInteger(instances) || instances < 1 || instances > 64) throw where('instances must be a whole number from 1 to 64');
    return { ...common, upstreams: [], run: { command: r.run, instances } };
  }
  const upstreams = (Array.isArray(r.proxy) ? r.proxy : String(r.proxy).split(',')).map((u) => String(u).trim().replace(/\/$/, ''));
  if (upstreams.length === 0 || !upstreams.every(isUpstreamUrl)) throw where('proxy must be upstream URLs such as http://127.0.0.1:5000');
  return { ...common, upstreams, run: null };
}

/** The config file's `routes` list (or JSON in --routes / KEEL_ROUTES). */
export function routeList(): ValueType<Route[]> {
  return {
    allowed: ROUTE_TEXT,
    parse(raw) {
      let value = raw;
      if (typeof raw === 'string') {
        try {
          value = JSON.parse(raw);
        } catch {
          throw new ValueError(`JSON: ${ROUTE_TEXT}`);
        }
      }
      if (!Array.isArray(value)) throw new ValueError(ROUTE_TEXT);
      return value.map(parseRouteInput);
    },
    // Each route's text is its JSON, so the list shows as JSON that parses back.
    show: (value) => `[${value.map((r) => r.text).join(',')}]`,
  };
}

/** `--run` needs `{port}` or `{socket}` so each instance gets its own address. */
export function runCommand(): ValueType<string | null> {
  const allowed = 'a server command with {port} or {socket} in it, e.g. "gunicorn -b 127.0.0.1:{port} app:app"';
  return {
    allowed,
    parse(raw) {
      if (raw === null || raw === undefined || raw === '') return null;
      const value = String(raw).trim();
      if (!/\{(port|socket)\}/.test(value)) throw new ValueError(allowed);
      return value;
    },
  };
}
