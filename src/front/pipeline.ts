/**
 * The front pipeline, assembled in exactly one function, in order. It runs for every request
 * before the app: everything it needs is computed here, once per worker.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config/resolve.js';
import { type InflightRequests, kNext, kPrev } from '../worker/inflight.js';
import type { AccessLogStage } from './access-log.js';
import type { CacheStage } from './cache/cache-stage.js';
import type { Compress } from './compression.js';
import type { RateLimitStage } from './ratelimit/rate-limit-stage.js';
import type { Target } from './router.js';
import { createBodyLimit } from './body-limit.js';
import { skipBodyLifecycle, skipH2BodyLifecycle } from './bodyless-request.js';
import type { ErrorBoundary } from './error-boundary.js';
import { sendErrorPage } from './error-page.js';
import { createForwardedResolver } from './forwarded.js';
import { peerAddressOf } from './proxy-protocol.js';
import type { RequestContext } from './request-context.js';
import { createHeadReader } from './request-head.js';
import { pickRequestId } from './request-id.js';
import { watchH2Trailers } from './request-trailers.js';
import type { KeelResponse } from './response-headers.js';
import { compileTrust } from './trusted-proxies.js';
import { ROUTE_NONE } from '../observe/metric-names.js';

export interface PipelineDeps {
  readonly config: ResolvedConfig;
  /** Which route (or the app) answers a URL: see router.ts. */
  readonly route: (url: string) => Target;
  /** Each null when its feature is off, so an unused stage costs nothing. */
  readonly rateLimit: RateLimitStage | null;
  readonly compress: Compress | null;
  readonly cache: CacheStage | null;
  readonly boundary: ErrorBoundary;
  readonly accessLog: AccessLogStage;
  readonly inflight: InflightRequests;
  /** True once the worker drains: responses then carry Connection: close. */
  readonly isDraining: () => boolean;
}

/** Facts about a connection, the same for each of its requests: decided once, not per request. */
interface Connection {
  readonly peer: string | undefined;
  readonly trusted: boolean;
  readonly encrypted: boolean;
  readonly http2: boolean;
  /** The last Host seen on the connection and whether it is local: a connection rarely changes names. */
  lastHost: string | undefined;
  lastHostLocal: boolean;
}
const kConnection = Symbol('keel.connection');

/** localhost, *.localhost and loopback addresses, with or without a port: no HSTS for those. */
export function isLocalHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  const lower = name.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost') || lower === '::1' || /^127\.\d+\.\d+\.\d+$/.test(lower);
}

/** isLocalHost, remembered per connection. */
function isLocalHostOn(connection: Connection, host: string | undefined): boolean {
  if (host !== connection.lastHost) {
    connection.lastHost = host;
    connection.lastHostLocal = isLocalHost(host);
  }
  return connection.lastHostLocal;
}

export function buildPipeline(deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, route, rateLimit, compress, cache, boundary, accessLog, inflight, isDraining } = deps;
  const isTrusted = compileTrust(config.forwardedAllowIps);
  const resolveHttp = createForwardedResolver(isTrusted, 'http');
  const resolveHttps = createForwardedResolver(isTrusted, 'https');
  const hsts = config.hsts ?? '';
  const readRequestHead = createHeadReader(config);
  const checkBodyLimit = createBodyLimit(config);
  const { logResponseClose } = accessLog;

  /** What keel needs of a connection, worked out on its first request. */
  function connectionOf(req: IncomingMessage): Connection {
    const stream = (req as IncomingMessage & { stream?: ServerHttp2Stream }).stream;
    // HTTP/2: req.socket is a Proxy over the session's socket, slow to read through on every
    // request; the session object itself carries the record.
    const holder = (stream ? stream.session : req.socket) as { [kConnection]?: Connection } | undefined;
    const known = holder?.[kConnection];
    if (known) return known;
    const socket = req.socket as Socket & { encrypted?: boolean };
    const peer = peerAddressOf(socket);
    const connection: Connection = { peer, trusted: isTrusted(peer), encrypted: socket.encrypted === true, http2: stream !== undefined, lastHost: undefined, lastHostLocal: true };
    if (holder) holder[kConnection] = connection;
    return connection;
  }

  return function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const connection = connectionOf(req);
    const { peer, trusted: peerTrusted, encrypted, http2 } = connection;

    // 1. One pass over the head: the limits, and the few headers keel reads.
    const head = readRequestHead(req);

    // 2. Client address, scheme and request ID: every later stage and every log line uses them.
    const client = (encrypted ? resolveHttps : resolveHttp)(req, head, peer, peerTrusted);
    const ctx: RequestContext = {
      id: pickRequestId(head.requestId, peerTrusted),
      clientAddress: client.clientAddress,
      scheme: client.scheme,
      method: req.method!,
      url: req.url!,
      httpVersion: req.httpVersion,
      status: 0,
      bytes: 0,
      durationMs: 0,
      userAgent: head.userAgent,
      referrer: head.referrer,
      startTime: Date.now(),
      startMark: performance.now(),
      // HTTP/2 responses count their own bytes (the connection's count is shared by its streams).
      // (Not req.socket over HTTP/2: each read of it there builds a Proxy.)
      bytesAtStart: http2 ? 0 : req.socket.bytesWritten,
      event: '',
      routeId: ROUTE_NONE,
      cacheResult: 0,
      requestBytes: head.contentLength === undefined ? 0 : Number(head.contentLength) || 0,
      req,
      res,
      [kPrev]: null,
      [kNext]: null,
    };
    req.keel = ctx;
    (res as KeelResponse).requestId = ctx.id;
    (res as KeelResponse).onClose = logResponseClose;
    // HSTS only where it can mean something: over TLS, to a name a browser would pin.
    if (encrypted && hsts !== '' && !isLocalHostOn(connection, head.host)) (res as KeelResponse).hsts = hsts;

    // 3. In-flight registration, and the access-log line (the close hook set above), before anything can refuse the request, so every request gets a line.
    inflight.add(ctx);

    // 4. Draining: the client learns not to reuse this connection.
    if (isDraining()) res.shouldKeepAlive = false;

    // 5. Limits the parser does not enforce itself: request line, header count and size, body size.
    if (head.refusal !== 0) {
      ctx.event = 'refused';
      sendErrorPage(req, res, head.refusal, ctx.id, true);
      return;
    }
    if (checkBodyLimit(req, res, head)) return;
    if (http2) {
      const h2req = req as unknown as Http2ServerRequest;
      if (h2req.stream.endAfterHeaders) skipH2BodyLifecycle(h2req);
      else watchH2Trailers(h2req);
    } else if (head.contentLength === undefined && head.transferEncoding === undefined) skipBodyLifecycle(req);

    // 6. Which route answers, from the path alone: the later stages depend on it.
    const target = route(ctx.url);
    ctx.routeId = target.routeId;

    // 7. Rate limits, counted across workers, before any upstream or app work is spent.
    if (rateLimit !== null) rateLimit.check(req, res, target, dispatch);
    else dispatch(req, res, target);
  };

  function dispatch(req: IncomingMessage, res: ServerResponse, target: Target): void {
    // 8. Compression wraps the response before anyone writes to it; a cache hit is compressed like a fresh answer.
    if (compress !== null) compress(req, res);
    // 9. The response cache answers from its store, or records what the route or app sends.
    if (cache !== null && target.cacheable) cache.serve(req, res, target, callTarget);
    else callTarget(req, res, target);
  }

  /** 10. The route's handler or the app, inside the error boundary; 404 when nothing serves the path. */
  function callTarget(req: IncomingMessage, res: ServerResponse, target: Target): void {
    if (target.handler !== null) boundary.callApp(target.handler, req, res);
    else sendErrorPage(req, res, target.status, req.keel!.id);
  }
}
