/**
 * `keel serve APP`: resolve and check the config, check the addresses are free, then hand over to
 * the arbiter. Any failure before that is one clear line and exit status 2.
 */
import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { duplicatePrefix } from '../config/route-table.js';
import type { Server } from 'node:http';
import { renderConfig } from '../config/print-config.js';
import { type Mode, type ResolvedConfig, resolveConfig } from '../config/resolve.js';
import { keelError } from '../errors.js';
import { createAccessFormatter } from '../observe/access-log-format.js';
import { type ErrorLog, createErrorLog, flushErrorLog, reopenErrorLog } from '../observe/error-log.js';
import { startAdminServer } from '../supervisor/admin-server.js';
import { Arbiter } from '../supervisor/arbiter.js';
import type { WorkerRecord } from '../supervisor/worker-record.js';
import { renderBanner } from '../supervisor/banner.js';
import { checkBindable, isLoopback } from '../supervisor/bind-check.js';
import { resolvePrivileges } from '../supervisor/privileges.js';
import { createServiceNotifier } from '../supervisor/service-notify.js';
import { TlsSource } from '../tls/tls-source.js';
import { PrimaryServices } from '../supervisor/primary-services.js';
import { checkLimitRules } from '../front/ratelimit/limit-rules.js';
import { registerCounterServices } from '../front/ratelimit/primary-counters.js';
import { registerCacheServices } from '../front/cache/memory-store.js';
import { checkCacheConfig } from '../front/cache/cache-config.js';
import { UpstreamApps } from '../supervisor/upstream-apps.js';
import { KEEL_VERSION } from './version.js';
import { Telemetry } from '../observe/telemetry.js';

/** How long an exit waits for systemd-notify to deliver what is queued (STOPPING=1). */
const NOTIFY_SETTLE_MS = 3000;

export interface ServeInput {
  readonly appArg: string | null;
  readonly cli: Record<string, string | string[] | boolean>;
  /** Set by the command: `dev` only from `keel dev`, which also passes its hooks. */
  readonly mode?: Mode;
  readonly dev?: DevHooks;
}

/** What `keel dev` adds to serving: its own checks (at start and on each reload), and the file watcher. */
export interface DevHooks {
  /** Throws a KeelError when the config is not allowed in dev (a public address). */
  readonly check: (config: ResolvedConfig) => void;
  /** The arbiter has started: watch files and reload through it. */
  readonly started: (arbiter: Arbiter, config: ResolvedConfig, log: ErrorLog) => Promise<void>;
  /** The first workers are ready (one may only show a load error). */
  readonly firstReady: (workers: readonly WorkerRecord[]) => void;
}

/** Routes that cannot work are found before anything listens, like a bad flag. */
function checkRoutes(config: ResolvedConfig): void {
  const repeated = duplicatePrefix(config.routeTable);
  if (repeated) throw keelError('KEEL_ERR_USAGE', { text: `routes: the prefix ${repeated} is declared twice; each prefix may have one route` });
  if (config.run && config.app) {
    throw keelError('KEEL_ERR_USAGE', { text: '--run: it takes / and so would hide APP; mount it under a prefix with routes: [{ path: "/py", run: "…" }]' });
  }
  for (const route of config.routeTable) {
    if (route.kind !== 'static') continue;
    let isDir = false;
    try {
      isDir = statSync(route.root).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw keelError('KEEL_ERR_USAGE', { text: `--static ${route.path}: ${route.root} is not a directory` });
  }
}

/** The status page and /metrics show request IDs, error stacks and upstream addresses: off loopback they need a token. */
function checkAdminExposure(config: ResolvedConfig): void {
  const admin = config.admin;
  if (!admin || config.adminToken !== null || isLoopback(admin)) return;
  throw keelError('KEEL_ERR_USAGE', {
    text: `--admin ${admin.text} is not loopback: set --admin-token (or KEEL_ADMIN_TOKEN) so /metrics and the status page need it, or bind it to 127.0.0.1`,
  });
}

/** Checks that need more than one setting, or more than the value itself (also run by keel init). */
export function checkServeConfig(config: ResolvedConfig): void {
  if (!config.app && config.routeTable.length === 0) {
    throw keelError('KEEL_ERR_USAGE', { text: `APP: missing; usage: keel ${config.mode} path/to/app.ts[:export] [options], or routes only with --static, --proxy or --run (see keel ${config.mode} --help)` });
  }
  checkRoutes(config);
  checkLimitRules(config);
  checkCacheConfig(config);
  if (config.accessLogfile !== 'off' && !createAccessFormatter(config.accessLogformat)) {
    throw keelError('KEEL_ERR_CONFIG_VALUE', {
      setting: '--access-logformat',
      value: config.accessLogformat,
      allowed: 'combined, json, or Gunicorn atoms such as %(h)s %(r)s %(s)s %(b)s %(a)s %({header}i)s',
    });
  }
}

export async function serve(input: ServeInput): Promise<void> {
  const load = (): Promise<ResolvedConfig> => resolveConfig({ cli: input.cli, appArg: input.appArg, env: process.env, cwd: process.cwd(), mode: input.mode ?? 'serve' });
  const config = await load();
  if (config.printConfig) {
    process.stdout.write(renderConfig(config));
    return;
  }
  checkServeConfig(config);
  input.dev?.check(config);
  // After the dev checks, whose loopback-only message says more; not in checkServeConfig, since
  // keel init writes a token into what it generates for a public admin listener.
  checkAdminExposure(config);
  const privileges = resolvePrivileges(config.user, config.group);
  for (const bind of config.bind) await checkBindable(bind, '--bind');
  if (config.admin) await checkBindable(config.admin, '--admin');
  if (config.redirectHttp) await checkBindable(config.redirectHttp, '--redirect-http');

  const log = createErrorLog({ errorLogfile: config.errorLogfile, logLevel: config.logLevel, secrets: config.secrets, role: 'primary' });
  const notice = (text: string): void => {
    process.stderr.write(text);
  };
  // Certificates are checked before anything listens: a bad one is exit status 2, like a bad flag.
  let tls = await TlsSource.create(config, log, notice);
  let admin: Server | null = null;
  // Shared state workers reach over IPC (rate-limit counters, cache entries) lives here, in one process.
  const services = new PrimaryServices();
  registerCounterServices(services);
  // The in-memory response cache is one LRU here for every worker (not with --cache-redis).
  const primaryCache = registerCacheServices(services, config);
  // Managed upstreams listen before any worker proxies to them; one that cannot start is exit status 2
  // (start() has stopped the others by then), so the pid file is written only after.
  const apps = UpstreamApps.create(config, log);
  await apps.start().catch((err: unknown) => {
    // The instance's own output lines explain the failure: they reach the log before keel exits.
    flushErrorLog();
    throw err;
  });
  if (config.pid) writeFileSync(config.pid, `${process.pid}\n`);

  // Under systemd (Type=notify), READY=1 once the first workers serve, and the reload and stop phases.
  const notifier = createServiceNotifier(config.env, log);
  // Workers' reports and the arbiter's worker lifecycle, folded for /metrics and the status page.
  let current = config;
  const telemetry: Telemetry = new Telemetry({
    version: KEEL_VERSION,
    phase: (): string => String(arbiter.describe().phase),
    tls: () => ({ material: tls.current(), config: current }),
    cacheEnabled: config.cache > 0 || config.cacheRedis !== null,
  });
  const arbiter: Arbiter = new Arbiter(config, {
    log,
    telemetry,
    onPhase: (phase) => notifier?.phase(phase),
    privileges,
    reloadConfig: async () => {
      const next = await load();
      checkServeConfig(next);
      input.dev?.check(next);
      checkAdminExposure(next);
      // HUP re-reads the certificates too; bad ones fail the reload and the old workers keep serving.
      const nextTls = await TlsSource.create(next, log, notice);
      await apps.reload(next);
      primaryCache.reconfigure(next);
      current = next;
      telemetry.cacheEnabled ||= next.cache > 0 || next.cacheRedis !== null;
      tls.stop();
      tls = nextTls;
      watchTls();
      tls.start();
      return next;
    },
    tlsMaterial: () => tls.current(),
    upstreams: () => apps.targets(),
    services,
    onReopenLogs: reopenErrorLog,
    onFirstReady: (workers) => {
      // ACME challenges are answered by the workers, so the CA is asked only once they listen.
      tls.start();
      const first = workers[0];
      process.stderr.write(renderBanner(config, KEEL_VERSION, first?.shape ?? '?', first?.addresses ?? config.bind.map((b) => b.text)));
      log.info({ workers: workers.length, addresses: first?.addresses }, 'keel is serving');
      input.dev?.firstReady(workers);
    },
    onExit: (code, failure) => {
      // Workers have drained, so no request still needs the managed upstreams; systemd hears STOPPING=1 before the main PID goes.
      void apps
        .stop()
        .then(() => notifier?.settled(NOTIFY_SETTLE_MS))
        .finally(() => finish(code, failure));
    },
  });
  function finish(code: number, failure: string | null): void {
    if (failure) {
      process.stderr.write(`keel: ${failure}\n`);
      if (config.errorLogfile !== '-') log.fatal(failure);
    } else {
      log.info('keel stopped');
    }
    admin?.close();
    if (config.pid) {
      try {
        unlinkSync(config.pid);
      } catch {
        // already removed
      }
    }
    flushErrorLog();
    process.exit(code);
  }
  telemetry.start();
  if (config.admin) {
    // prom-client loads only with the admin listener on, the one place /metrics is served.
    const { createMetricsRegistry } = await import('../observe/metrics-registry.js');
    const registry = createMetricsRegistry(telemetry);
    admin = await startAdminServer(config.admin, {
      ready: () => arbiter.isReady(),
      describe: () => arbiter.describe(),
      metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
      snapshot: () => telemetry.snapshot(),
      token: config.adminToken,
    }).catch((err: Error) => {
      throw keelError('KEEL_ERR_BIND_FAILED', { setting: '--admin', address: config.admin!.text, reason: err.message });
    });
  }
  apps.onChange((targets) => arbiter.pushUpstreams(targets));
  function watchTls(): void {
    tls.onChange((material) => arbiter.pushTls(material));
  }
  watchTls();
  arbiter.start();
  await input.dev?.started(arbiter, config, log);
}
