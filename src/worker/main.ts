/**
 * A worker process: receives the resolved config, loads the app, builds the front pipeline,
 * listens on the shared sockets, and serves until told to drain. It keeps no state that matters
 * beyond a request: it can die at any time and the primary replaces it.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { isKeelError, EXIT } from '../errors.js';
import { createAccessLog } from '../front/access-log.js';
import { createClientErrorHandler, createConnectRefusal } from '../front/client-errors.js';
import { createErrorBoundary } from '../front/error-boundary.js';
import { createDevErrorPage } from '../front/dev-error-page.js';
import { neutralizeResponse, sendErrorPage } from '../front/error-page.js';
import { buildPipeline } from '../front/pipeline.js';
import { startRequestTimeouts } from '../front/request-timeout.js';
import { type ConfigMessage, type FromWorker, type TlsMessage, type UpstreamsMessage, MSG, isMessage } from '../ipc.js';
import type { Route } from '../config/route-types.js';
import { createCacheStage } from '../front/cache/cache-stage.js';
import { createCompression } from '../front/compression.js';
import type { ProxyHandler } from '../front/proxy/proxy-route.js';
import { createRateLimitStage } from '../front/ratelimit/rate-limit-stage.js';
import { createRouter } from '../front/router.js';
import { createUpgradeHandler } from '../front/upgrade-request.js';
import type { AdaptedApp } from './adapters/types.js';
import { PrimaryChannel } from './primary-channel.js';
import { httpsPort } from '../config/tls-binds.js';
import { createRedirectApp } from '../tls/redirect-app.js';
import { createWorkerTls } from '../tls/worker-tls.js';
import { createAccessFormatter } from '../observe/access-log-format.js';
import { BufferedLogWriter } from '../observe/buffered-log-writer.js';
import { createErrorLog, flushErrorLog, reopenErrorLog, type ErrorLog } from '../observe/error-log.js';
import { createRedactor } from '../observe/redact.js';
import { adaptApp } from './adapters/detect.js';
import { drainWorker } from './drain.js';
import { InflightRequests } from './inflight.js';
import { type Listeners, openListeners } from './listeners.js';
import { describeDevLoadError, describeLoadError, loadApp, loadErrorApp } from './load-app.js';
import { startWatchdog, watchdogSupported } from './watchdog.js';
import { addSyntaxLocation } from './syntax-location.js';
import { RequestCounters } from './request-counters.js';
import { TelemetryReporter } from './telemetry-reporter.js';
import { ROUTE_NONE, routeLabels } from '../observe/metric-names.js';


function send(message: FromWorker): void {
  if (process.connected) process.send!(message);
}

function receiveConfig(): Promise<ConfigMessage> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (!isMessage<ConfigMessage>(message, MSG.config)) return;
      process.removeListener('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
    send({ type: MSG.wantConfig });
  });
}

export async function runWorker(): Promise<void> {
  // The primary orchestrates shutdown; a terminal's Ctrl-C reaches the whole process group, so workers ignore it.
  process.on('SIGINT', () => {});
  const { config, tls: firstTls, upstreams: firstUpstreams } = await receiveConfig();
  // Managed (--run) upstreams can move while the app loads; a message with no listener is lost, so
  // this one listens from the start and keeps the latest addresses for the proxies built later.
  const proxies = new Map<string, ProxyHandler>();
  let managedUpstreams = firstUpstreams;
  process.on('message', (message: unknown) => {
    if (!isMessage<UpstreamsMessage>(message, MSG.upstreams)) return;
    managedUpstreams = message.upstreams;
    for (const [path, upstreams] of Object.entries(message.upstreams)) proxies.get(path)?.setUpstreams(upstreams);
  });
  const log = createErrorLog({ errorLogfile: config.errorLogfile, logLevel: config.logLevel, secrets: config.secrets, role: 'worker' });
  const redact = createRedactor(config.secrets);
  const format = config.accessLogfile === 'off' ? null : createAccessFormatter(config.accessLogformat);
  const writer = format ? new BufferedLogWriter(config.accessLogfile) : null;
  const inflight = new InflightRequests();
  // The rich page exists only under `keel dev` (mode is set by the command, never by env or flags).
  const dev = config.mode === 'dev';
  const counters = new RequestCounters(routeLabels(config.routeTable));
  const telemetry = new TelemetryReporter({ counters, inflight: () => inflight.size, proxies, redact });
  const boundary = createErrorBoundary(log, dev ? createDevErrorPage(config) : undefined, (err, requestId) => telemetry.reportError(err, requestId));

  const flushLogs = (): void => {
    writer?.flushSync();
    flushErrorLog();
  };
  /** A failure every worker would meet: the primary stops keel with this message and exit code instead of restarting workers. */
  const failBoot = (code: string, message: string, stack: string, exitCode: number): never => {
    send({ type: MSG.bootFailed, code, message, stack, exitCode });
    flushLogs();
    process.exit(exitCode);
  };

  let app: AdaptedApp | null = null;
  let loadError: string | undefined;
  try {
    if (config.app) app = await adaptApp(await loadApp(config.app), boundary.failRequest);
  } catch (err) {
    if (dev) {
      // keel dev stays up: this worker shows the load error until a change brings code that loads.
      if (config.app) await addSyntaxLocation(err, config.app.file);
      loadError = describeDevLoadError(err);
      app = loadErrorApp(err, boundary.sendFailure);
    } else {
      const keelErr = isKeelError(err) ? err : null;
      failBoot(
        keelErr?.code ?? 'KEEL_ERR_APP_LOAD',
        keelErr ? keelErr.message : `APP: ${config.app!.text} failed to load: ${describeLoadError(err)}`,
        (err as Error)?.stack ?? '',
        keelErr?.exitCode ?? EXIT.appLoad,
      );
    }
  }

  let draining = false;
  let requests = 0;
  const accessLog = createAccessLog({ format, writer, redact, hasSecrets: config.secrets.length > 0, inflight, onRequestDone: () => requests++, counters });
  const primary = new PrimaryChannel();
  // Route kinds load only when the config has them: the proxy's undici and the static files'
  // MIME table would otherwise cost every worker start-up time and memory for nothing.
  const hasRoute = (kind: Route['kind']): boolean => config.routeTable.some((route) => route.kind === kind);
  const { createStaticRoute } = hasRoute('static') ? await import('../front/static/static-route.js') : { createStaticRoute: null };
  const { createProxyRoute } = hasRoute('proxy') ? await import('../front/proxy/proxy-route.js') : { createProxyRoute: null };
  const handlerFor = (route: Route): AdaptedApp => {
    if (route.kind === 'static') return createStaticRoute!(route, config);
    const proxy = createProxyRoute!(route, config, log);
    const managed = managedUpstreams[route.path];
    if (route.run && managed) proxy.setUpstreams(managed);
    proxies.set(route.path, proxy);
    return proxy;
  };
  const stages = {
    rateLimit: await createRateLimitStage(config, primary, log),
    compress: createCompression(config),
    cache: await createCacheStage(config, primary, log),
  };
  const router = createRouter(config.routeTable, handlerFor, app);
  const pipeline = buildPipeline({ config, route: router, ...stages, boundary, accessLog, inflight, isDraining: () => draining });
  // Upgrade requests (WebSocket) take the same path without compression or cache (nothing to
  // compress or keep in a tunnel); only proxy routes can carry them, so with none Node keeps them.
  const upgradeHandler =
    proxies.size > 0
      ? createUpgradeHandler(buildPipeline({ config, route: router, rateLimit: stages.rateLimit, compress: null, cache: null, boundary, accessLog, inflight, isDraining: () => draining }))
      : null;
  const tls = createWorkerTls(config, firstTls);
  // --redirect-http needs a TLS bind (checked in the primary), so `tls` exists when it is set.
  const redirectTarget = tls && config.redirectHttp ? { route: null, handler: createRedirectApp(httpsPort(config), tls.http01), cacheable: false, status: 404, routeId: ROUTE_NONE } : null;
  const redirectHandler = redirectTarget
    ? buildPipeline({ config, route: () => redirectTarget, rateLimit: null, compress: null, cache: null, boundary, accessLog, inflight, isDraining: () => draining })
    : null;
  const listeners: Listeners = await openListeners({
    config,
    handler: pipeline,
    redirectHandler,
    onClientError: createClientErrorHandler(config, accessLog.logRefusal),
    onConnect: createConnectRefusal(accessLog.logRefusal),
    tls,
    onConnection: stages.rateLimit?.onConnection ?? null,
    upgradeHandler,
  }).catch((err: Error) => {
    log.fatal({ err }, 'worker could not listen');
    // Every worker would fail the same way (a port taken since the primary's check): stop keel, not a crash loop.
    if (isKeelError(err)) failBoot(err.code, err.message, err.stack ?? '', err.exitCode);
    flushLogs();
    process.exit(EXIT.usage);
  });
  const stopTimeouts = startRequestTimeouts(config.requestTimeout, inflight, log);
  // Only a worker with an access log has lines to save when it is stuck.
  let stopWatchdog = (): void => {};
  if (config.timeout > 0 && writer !== null) {
    if (watchdogSupported()) stopWatchdog = startWatchdog(config.timeout, accessLog.logStuckRequests);
    else log.warn('this Node has no inspector: the requests of a stuck worker will get no access-log lines');
  }

  async function drain(reason: string): Promise<void> {
    if (draining) return;
    draining = true;
    log.info({ reason, inflight: inflight.size }, 'worker draining');
    const outcome = await drainWorker({ listeners, inflight, gracefulTimeoutSeconds: config.gracefulTimeout, send });
    if (outcome === 'timeout') log.warn({ cut: inflight.size }, 'graceful timeout reached; closing the requests still in progress');
    listeners.closeAllConnections();
    await Promise.allSettled([...[...proxies.values()].map((p) => p.close()), stages.rateLimit?.close(), stages.cache?.close()]);
    stopTimeouts();
    stopWatchdog();
    // What this worker counted since its last report stays in the primary's totals.
    await telemetry.flush();
    writer?.close();
    flushErrorLog();
    process.exit(0);
  }

  function onFatal(kind: string, err: unknown): void {
    const ctx = boundary.currentRequest() ?? (inflight.size === 1 ? [...inflight][0] : undefined);
    log.error({ err, requestId: ctx?.id }, `${kind} in worker; it stops accepting and will be replaced`);
    telemetry.reportError(err, ctx?.id);
    if (ctx && !ctx.res.headersSent) {
      ctx.event = 'app-error';
      if (dev) {
        boundary.sendFailure(ctx.req, ctx.res, err, ctx.id);
      } else {
        sendErrorPage(ctx.req, ctx.res, 500, ctx.id, true);
        neutralizeResponse(ctx.res);
      }
    }
    send({ type: MSG.retiring, cause: `${kind}: ${describeLoadError(err)}` });
    void drain('crash');
  }
  process.on('uncaughtException', (err) => onFatal('uncaught exception', err));
  process.on('unhandledRejection', (err) => onFatal('unhandled rejection', err));

  process.on('message', (message: unknown) => {
    if (isMessage(message, MSG.drain)) void drain('asked by primary');
    else if (isMessage<TlsMessage>(message, MSG.tls)) {
      if (tls?.update(message.tls)) listeners.updateTls(tls.serverOptions());
    }
    else if (isMessage(message, MSG.reopenLogs)) {
      writer?.reopen();
      reopenErrorLog();
    }
  });
  // If the primary goes away, nobody will replace or stop this worker: finish and leave.
  process.on('disconnect', () => void drain('primary gone'));
  process.on('SIGTERM', () => void drain('SIGTERM'));
  process.on('SIGQUIT', () => {
    flushLogs();
    process.exit(0);
  });

  const heartbeatMs = Math.max(100, Math.min(1000, (config.timeout * 1000) / 4 || 1000));
  setInterval(() => send({ type: MSG.heartbeat, requests, rss: process.memoryUsage.rss() }), heartbeatMs).unref();
  telemetry.start();
  send({ type: MSG.ready, shape: app?.shape ?? 'routes', addresses: listeners.addresses, ...(loadError === undefined ? {} : { loadError }) });
}
