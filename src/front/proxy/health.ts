/**
 * Active health checks (`health=/healthz[:interval[:status]]`): every interval, a GET of the path
 * on each upstream, through the upstream's own keep-alive pool. A status in the range marks it
 * healthy; anything else (another status, an error, no answer within the interval) marks it down,
 * and the balancer skips it until a check passes again. Each worker checks for itself: no shared
 * state to keep, at the price of one probe per worker per interval (cheap next to real traffic).
 * Passive health (failures of real requests) lives in the upstream (upstream-pool.ts).
 */
import type { HealthCheck } from '../../config/route-types.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { Upstream } from './upstream-pool.js';

export interface ActiveHealth {
  stop(): void;
}

const kChecking = Symbol('keel.healthChecking');
type Checked = Upstream & { [kChecking]?: boolean };

/** Whether a probe's outcome counts as healthy. */
export function isHealthyStatus(status: number, check: HealthCheck): boolean {
  return status >= check.statusMin && status <= check.statusMax;
}

export function startActiveHealth(check: HealthCheck, upstreams: () => readonly Upstream[], log: ErrorLog): ActiveHealth {
  const intervalMs = check.interval * 1000;
  // A probe gets the interval to answer (at least a second, so a tiny interval does not fail a slow but live upstream).
  const timeoutMs = Math.max(1000, intervalMs);
  let stopped = false;

  async function probe(upstream: Checked): Promise<void> {
    upstream[kChecking] = true;
    let status = 0;
    let code: string | undefined;
    try {
      const answer = await upstream.pool.request({
        path: check.path,
        method: 'GET',
        headers: { 'user-agent': 'keel-health-check' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = answer.statusCode;
      await answer.body.dump();
    } catch (err) {
      code = (err as { code?: string }).code ?? 'error';
    } finally {
      upstream[kChecking] = false;
    }
    if (stopped) return;
    const healthy = isHealthyStatus(status, check);
    if (healthy !== upstream.healthy) {
      if (healthy) log.info({ upstream: upstream.url, status }, 'upstream passed its health check; back in rotation');
      else log.warn({ upstream: upstream.url, status: status || undefined, code, path: check.path }, 'upstream failed its health check; skipped until it passes');
    }
    upstream.healthy = healthy;
  }

  function round(): void {
    for (const upstream of upstreams() as readonly Checked[]) if (!upstream[kChecking]) void probe(upstream);
  }

  round();
  const timer = setInterval(round, intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
