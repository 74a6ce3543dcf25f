/**
 * Which rate limit applies to a request: the matched route's own `rateLimit`, else the longest
 * `--rate-limit "/prefix …"` rule whose prefix holds the request path, else the global
 * `--rate-limit "…"`. Each rule counts on its own, so its id is part of every counter key.
 * Everything is compiled once per worker; per request the choice is a field read, or a short walk
 * over the prefix rules when there are any.
 *
 * @example
 *   const select = compileLimitRules(config);    // null: no rate limit anywhere
 *   const rule = select?.(target, req.url);     // null: this request is not limited
 */
import type { ResolvedConfig } from '../../config/resolve.js';
import { underPrefix } from '../../config/route-table.js';
import type { RateLimit } from '../../config/route-types.js';
import { keelError } from '../../errors.js';
import { type Target, routingPath } from '../router.js';
import { intervalMs, toleranceMs } from './gcra.js';

/** A rate limit ready for the counters. */
export interface LimitRule {
  /** Names the rule and its rate in counter keys: a changed rate (after HUP) starts fresh counters. */
  readonly id: string;
  /** Milliseconds between requests (GCRA's emission interval). */
  readonly interval: number;
  /** Milliseconds the bucket may run ahead: burst × interval. */
  readonly tolerance: number;
}

export type RuleSelector = (target: Target, url: string) => LimitRule | null;

function compile(scope: string, limit: RateLimit): LimitRule {
  return { id: `${scope} ${limit.rate}r/s b${limit.burst}`, interval: intervalMs(limit.rate), tolerance: toleranceMs(limit.rate, limit.burst) };
}

/**
 * Refuses two rules for one scope (two global rules, or two for one prefix): which one counts
 * would be a guess. Called before anything listens, so the mistake is exit status 2.
 */
export function checkLimitRules(config: ResolvedConfig): void {
  const seen = new Set<string>();
  for (const rule of config.rateLimit) {
    const scope = rule.path ?? 'global';
    if (seen.has(scope)) {
      throw keelError('KEEL_ERR_USAGE', { text: `--rate-limit: two rules for ${rule.path === null ? 'all paths' : `the prefix ${rule.path}`} ("${rule.text}"); give one rule per prefix` });
    }
    seen.add(scope);
  }
}

/** The selector for this config, or null when no rule exists anywhere. */
export function compileLimitRules(config: ResolvedConfig): RuleSelector | null {
  const routeRules = new Map<string, LimitRule>();
  for (const route of config.routeTable) if (route.rateLimit !== null) routeRules.set(route.path, compile(`route ${route.path}`, route.rateLimit));
  let global: LimitRule | null = null;
  const prefixes: { path: string; rule: LimitRule }[] = [];
  for (const limit of config.rateLimit) {
    if (limit.path === null) global = compile('global', limit);
    else prefixes.push({ path: limit.path, rule: compile(`prefix ${limit.path}`, limit) });
  }
  if (routeRules.size === 0 && prefixes.length === 0 && global === null) return null;
  // Longest first: the first prefix that matches is the most specific.
  prefixes.sort((a, b) => b.path.length - a.path.length);

  return function ruleFor(target, url) {
    const route = target.route;
    if (route !== null && route.rateLimit !== null) return routeRules.get(route.path) ?? null;
    if (prefixes.length > 0) {
      // The same normalised path the router matched, so /%61pi meets the /api rule too.
      const path = routingPath(url);
      if (path !== null) for (const entry of prefixes) if (underPrefix(path, entry.path)) return entry.rule;
    }
    return global;
  };
}
