/**
 * Findings about timeouts that are off or cannot fire: no worker heartbeat timeout, no request
 * timeout, and a proxy header timeout the request timeout always beats.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { Finding } from './finding.js';

export function auditTimeouts(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  if (config.timeout === 0) {
    findings.push({
      id: 'worker-timeout-off',
      severity: 'warning',
      title: 'The worker heartbeat timeout is off (--timeout 0)',
      why: 'A worker stuck in an endless loop or a blocking call is never killed and replaced: it keeps its share of connections and answers none of them.',
      fix: '--timeout 30',
      where: '--timeout',
    });
  }
  if (config.requestTimeout === 0) {
    findings.push({
      id: 'request-timeout-off',
      severity: 'warning',
      title: 'Requests have no time limit (--request-timeout 0)',
      why: 'A request the app never answers holds its connection and memory until the client gives up; enough of them (a slow database, a lost promise) exhaust the worker.',
      fix: '--request-timeout 60',
      where: '--request-timeout',
    });
  }
  const proxied = config.routeTable.some((r) => r.kind === 'proxy');
  if (proxied && config.requestTimeout > 0 && config.proxyHeaderTimeout > config.requestTimeout) {
    findings.push({
      id: 'proxy-timeout-exceeds-request-timeout',
      severity: 'warning',
      title: `--proxy-header-timeout ${config.proxyHeaderTimeout} s is longer than --request-timeout ${config.requestTimeout} s`,
      why: 'The request timeout ends every proxied request first, so the proxy header timeout never fires: whoever raised it to let a slow upstream finish gets 504s at the request timeout anyway.',
      fix: `--proxy-header-timeout ${config.requestTimeout} (or raise --request-timeout to ${config.proxyHeaderTimeout} if the upstream really needs that long)`,
      where: '--proxy-header-timeout',
    });
  }
  return findings;
}
