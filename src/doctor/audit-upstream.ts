/**
 * Findings where keel's limits disagree with those of an upstream it runs (--run, routes with run):
 * a request keel lets through that the upstream refuses or kills, so the client gets the upstream's
 * bare 400 or a 502 instead of keel's answer and log line.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { ProxyRoute } from '../config/route-types.js';
import type { Finding } from './finding.js';
import { upstreamLimits } from './upstream-command.js';

/**
 * Fields keel adds to a proxied request at most: X-Forwarded-For, -Proto and -Host, Forwarded and
 * X-Request-Id (a client's own copies are dropped first).
 */
const ADDED_FIELDS = 5;

const formatBytes = (n: number): string => (n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)}m` : n % 1024 === 0 ? `${n / 1024}k` : String(n));

function runFlag(route: ProxyRoute): string {
  return route.path === '/' ? '--run' : `routes ${route.path}`;
}

export function auditUpstream(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  for (const route of config.routeTable) {
    if (route.kind !== 'proxy' || !route.run) continue;
    const limits = upstreamLimits(route.run.command);
    if (!limits) continue;
    const where = runFlag(route);
    const name = limits.server === 'gunicorn' ? 'Gunicorn' : 'Waitress';
    if (limits.timeout !== null && limits.timeout < config.proxyHeaderTimeout) {
      findings.push({
        id: 'upstream-timeout-shorter',
        severity: 'warning',
        title: `${name} kills a worker after --timeout ${limits.timeout} s, but keel waits --proxy-header-timeout ${config.proxyHeaderTimeout} s for it`,
        why: `A request slower than ${limits.timeout} s has its Gunicorn worker killed mid-request: the client gets a 502 instead of keel's 504, the worker restarts, and keel's timeout never fires.`,
        fix: `--proxy-header-timeout ${Math.max(1, limits.timeout - 1)} (below ${name}'s), or raise ${name}'s timeout in ${where}: --timeout ${Math.ceil(config.proxyHeaderTimeout) + 5}`,
        where,
      });
    }
    if (limits.oneRequestPerWorker) {
      const off = [
        ...(!config.proxyRequestBuffering ? [{ flag: '--proxy-request-buffering', now: 'false', fix: 'true' }] : []),
        ...(config.proxyResponseBuffer === 0 ? [{ flag: '--proxy-response-buffer', now: '0', fix: '64m' }] : []),
      ];
      if (off.length > 0) {
        findings.push({
          id: 'upstream-unbuffered',
          severity: 'warning',
          title: `Gunicorn's sync workers behind keel without buffering (${off.map((o) => `${o.flag} ${o.now}`).join(', ')})`,
          why: 'A sync worker serves one request at a time. Without buffering, a client that sends its body slowly, or reads its response slowly, holds a worker for as long as it likes, and a few such clients stop the app; Gunicorn\'s deployment guide asks for a buffering proxy in front for this reason.',
          fix: `${off.map((o) => `${o.flag} ${o.fix}`).join(' and ')} (keel's defaults), or a worker class that serves several requests at once in ${where} (-k gthread --threads 4)`,
          where: off[0].flag,
        });
      }
    }
    const keelLine = config.limitRequestLine === 0 ? 65_535 : config.limitRequestLine;
    if (limits.limitRequestLine !== null && keelLine > limits.limitRequestLine) {
      findings.push({
        id: 'upstream-request-line-limit',
        severity: 'warning',
        title: `keel accepts request lines up to ${keelLine} bytes, ${name} only ${limits.limitRequestLine}`,
        why: `Requests between the two limits pass keel and get a bare 400 from ${name}, unlogged by keel as a limit and without its 414 page.`,
        fix: `--limit-request-line ${limits.limitRequestLine} (or raise ${name}'s --limit-request-line in ${where})`,
        where: '--limit-request-line',
      });
    }
    if (limits.limitRequestFields !== null && config.limitRequestFields + ADDED_FIELDS > limits.limitRequestFields) {
      findings.push({
        id: 'upstream-request-fields-limit',
        severity: 'warning',
        title: `keel passes up to ${config.limitRequestFields} header fields plus the ${ADDED_FIELDS} it adds; ${name} accepts ${limits.limitRequestFields}`,
        why: `A request with many headers passes keel (X-Forwarded-For, -Proto, -Host, Forwarded and X-Request-Id are added on the way) and gets a bare 400 from ${name} instead of keel's 431.`,
        fix: `--limit-request-fields ${Math.max(1, limits.limitRequestFields - ADDED_FIELDS)} (or ${name}'s --limit-request-fields ${config.limitRequestFields + ADDED_FIELDS} in ${where})`,
        where: '--limit-request-fields',
      });
    }
    if (limits.limitRequestFieldSize !== null && config.limitRequestFieldSize > limits.limitRequestFieldSize) {
      findings.push({
        id: 'upstream-field-size-limit',
        severity: 'warning',
        title: `keel accepts header fields up to ${config.limitRequestFieldSize} bytes, ${name} only ${limits.limitRequestFieldSize}`,
        why: `A large cookie or token passes keel and gets a bare 400 from ${name} instead of keel's 431.`,
        fix: `--limit-request-field-size ${limits.limitRequestFieldSize} (or raise ${name}'s --limit-request-field_size in ${where})`,
        where: '--limit-request-field-size',
      });
    }
    if (limits.maxBody !== null && (config.maxBody === 0 || config.maxBody > limits.maxBody)) {
      findings.push({
        id: 'upstream-max-body-limit',
        severity: 'warning',
        title: `keel accepts request bodies ${config.maxBody === 0 ? 'of any size' : `up to ${formatBytes(config.maxBody)}`}, ${name} only ${formatBytes(limits.maxBody)}`,
        why: `Larger uploads are read and forwarded by keel only for ${name} to refuse them, after the client has sent them whole.`,
        fix: `--max-body ${formatBytes(limits.maxBody)}`,
        where: '--max-body',
      });
    }
  }
  return findings;
}
