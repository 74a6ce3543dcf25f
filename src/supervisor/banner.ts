/**
 * The start-up banner: version, app, each URL, workers, mode, warnings. One short block on stderr,
 * so stdout stays a clean access log.
 */
import type { Route } from '../config/route-types.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { isTlsBind } from '../config/tls-binds.js';
import { isLoopback } from './bind-check.js';

export function startupWarnings(config: ResolvedConfig): string[] {
  const warnings: string[] = [];
  for (const bind of config.bind) {
    if (!isLoopback(bind) && !isTlsBind(bind, config)) warnings.push(`listening on ${bind.text} without TLS: anyone on the network can read and alter this traffic`);
  }
  if (config.https === 'off' && config.hsts === null && config.bind.some((bind) => isTlsBind(bind, config) && !isLoopback(bind))) warnings.push('--hsts off: browsers may be downgraded to plain HTTP by an attacker');
  if (config.admin && !isLoopback(config.admin)) warnings.push(`the admin listener ${config.admin.text} is reachable from the network`);
  if (config.forwardedAllowIps.includes('*')) warnings.push('--forwarded-allow-ips * lets any client choose the address keel logs and the app sees');
  if (process.getuid?.() === 0 && !config.user) warnings.push('running as root; use --user to run workers unprivileged');
  return warnings;
}

function describeRoute(route: Route): string {
  if (route.kind === 'static') return `files in ${route.root}${route.spa ? ' (single-page app)' : ''}`;
  if (route.run) return `${route.run.instances} × ${route.run.command}`;
  return route.upstreams.join(', ');
}

/** Said first and loudly under `keel dev`: the rich error page shows source and stack traces to whoever asks. */
const DEVELOPMENT_NOTICE = [
  '  *** DEVELOPMENT SERVER ***  reloads on file changes and shows stack traces and source code',
  '  Do not use it in production: use keel serve.',
];

export function renderBanner(config: ResolvedConfig, version: string, shape: string, addresses: readonly string[]): string {
  const urls = addresses.map((a) => (a.startsWith('unix:') || a.startsWith('https://') ? a : `http://${a}`));
  if (config.redirectHttp) urls.push(`http://${config.redirectHttp.text} (redirects to HTTPS)`);
  const access = config.accessLogfile === 'off' ? 'off' : `${config.accessLogfile === '-' ? 'stdout' : config.accessLogfile} (${config.accessLogformat.length > 12 ? 'custom' : config.accessLogformat})`;
  const dev = config.mode === 'dev';
  const lines = [
    ...(dev ? DEVELOPMENT_NOTICE : []),
    `keel ${version} · ${dev ? 'DEVELOPMENT mode' : 'production mode'} · primary pid ${process.pid}`,
    ...(config.app ? [`  app      ${config.app.text} (${shape})`] : []),
    ...config.routeTable.map((r, i) => `  ${i === 0 ? 'routes ' : '       '}  ${r.path} → ${describeRoute(r)}`),
    ...urls.map((u, i) => `  ${i === 0 ? 'listen ' : '       '}  ${u}`),
    `  admin    ${config.admin ? `http://${config.admin.text}  (/healthz /readyz)` : 'off'}`,
    `  workers  ${config.workers}`,
    `  logs     access → ${access}; errors → ${config.errorLogfile === '-' ? 'stderr' : config.errorLogfile}`,
    ...startupWarnings(config).map((w) => `  warning  ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}
