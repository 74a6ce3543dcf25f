/**
 * One proxied request: an undici dispatch handler (the core callback interface, no wrapping) that
 * writes the upstream's answer straight into keel's response, with backpressure both ways: undici
 * reads the request body only as fast as the upstream takes it, and pauses the upstream whenever
 * the client's socket is full. One object per request, methods on the prototype: no closures.
 *
 * Failures, Nginx-style:
 * - connect refused/timed out, or the connection reset before any response head: counted against
 *   the upstream (passive health) and retried on another one when the method is idempotent and no
 *   body has gone out; otherwise 502;
 * - no response head within --proxy-header-timeout: 504;
 * - the body stalls past --proxy-idle-timeout, or breaks off: the client's response is cut (its
 *   head is already out), so the client sees a truncated body, never a complete-looking one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { ErrorLog } from '../../observe/error-log.js';
import { sendErrorPage } from '../error-page.js';
import { peerAddressOf } from '../proxy-protocol.js';
import type { RequestContext } from '../request-context.js';
import { plainAddress } from '../trusted-proxies.js';
import type { Balancer } from './balancer.js';
import { FRAMING_OK, appendForwarding, scanRequestHead, type ForwardHead } from './forward-headers.js';
import { responseHeaders } from './response-head.js';
import { type BufferedBody, readRequestBody } from './request-buffer.js';
import { MEMORY_BYTES, ResponseSpool } from './response-spool.js';
import { skipStacksForRestOfTurn } from './reset-without-stack.js';
import type { Upstream } from './upstream-pool.js';

/** What an exchange needs of its route; the route object itself. */
export interface ProxyCore {
  readonly log: ErrorLog;
  readonly intercept: boolean;
  readonly balancer: Balancer<Upstream>;
  readonly upstreams: readonly Upstream[];
  /** --proxy-request-buffering: read a body whole before the upstream sees the request. */
  readonly bufferRequests: boolean;
  /** --proxy-response-buffer: how much of a response a client that falls behind may owe (0: none, pure backpressure). */
  readonly responseBuffer: number;
}

/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Errors that mean the connection never carried the request (or was refused outright). */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT', 'EACCES', 'ECONNABORTED']);
/** Errors of a connection that broke before the answer: a reused keep-alive connection the upstream had just closed, typically. */
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * When the client leaves before the answer, an answer up to this size is read to its end and
 * dropped rather than aborted. Aborting closes the upstream connection, and undici then opens a
 * fresh one for the aborted request that nobody uses: an idle connection that pins a worker of a
 * one-connection-at-a-time upstream (Gunicorn's sync workers) until undici's keep-alive timeout,
 * seconds in which every other request to that upstream waits. Nginx, which never opens an
 * upstream connection without a request to send, does not have that problem; reading a small
 * answer to its end keeps keel the same.
 */
const DRAIN_LIMIT = 256 * 1024;

/** How many bytes of an intercepted 5xx body go to the error log. */
const INTERCEPT_LOG_BYTES = 1024;

const kExchange = Symbol('keel.proxyExchange');
type Tagged = ServerResponse & { [kExchange]?: ProxyExchange };

const NO_HEADERS: string[] = [];

function onClientClose(this: Tagged): void {
  this[kExchange]?.clientClosed();
}

function onClientDrain(this: Tagged): void {
  this[kExchange]?.clientDrained();
}

function peerOf(req: IncomingMessage): string | null {
  const stream = (req as IncomingMessage & { stream?: ServerHttp2Stream }).stream;
  const socket = (stream ? stream.session?.socket : req.socket) as Socket | undefined;
  if (!socket) return null;
  const peer = peerAddressOf(socket);
  return peer === undefined ? 'unix' : plainAddress(peer);
}

export class ProxyExchange implements ForwardHead, Dispatcher.DispatchHandler {
  // ForwardHead, filled by scanRequestHead.
  headers = NO_HEADERS;
  hasBody = false;
  lengthKnown = false;
  upgrade = '';
  host: string | undefined = undefined;
  forwarding = false;
  hashKey: string | undefined = undefined;

  readonly core: ProxyCore;
  readonly req: IncomingMessage;
  readonly res: Tagged;
  readonly ctx: RequestContext;
  upstream: Upstream | null = null;
  private tried: Upstream[] | null = null;
  private opts: Dispatcher.DispatchOptions | null = null;
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  /** undici began writing the request on a connection: the upstream may have it. */
  private sent = false;
  /** The upstream's response head arrived. */
  private answered = false;
  private finished = false;
  /** Counted in the upstream's in-flight number (least-conn). */
  private holding = false;
  private clientGone = false;
  private status = 0;
  /** The first bytes of an intercepted 5xx body, for the log; null when not intercepting. */
  private intercepted: Buffer[] | null = null;
  private interceptedBytes = 0;
  /** Bytes of an answer read and dropped after the client left. */
  private drained = 0;
  /** The request body, read whole first (--proxy-request-buffering); null while streamed or absent. */
  private body: BufferedBody | null = null;
  /** The backlog of a client that fell behind, once past MEMORY_BYTES (response-spool.ts). */
  private spool: ResponseSpool | null = null;

  constructor(core: ProxyCore, req: IncomingMessage, res: ServerResponse) {
    this.core = core;
    this.req = req;
    this.res = res as Tagged;
    this.ctx = req.keel!;
  }

  /** Checks the request, builds the upstream head and sends it to the first upstream the balancer picks. */
  start(): void {
    const { req, res } = this;
    const http2 = (req as IncomingMessage & { stream?: unknown }).stream !== undefined;
    const version = http2 ? 'h2' : req.httpVersionMinor === 0 ? 'http/1.0' : 'http/1.1';
    // Origin-form only (`/path?query`): `OPTIONS *` and absolute-form targets are nothing to forward.
    if (req.url!.charCodeAt(0) !== 47 || scanRequestHead(req.rawHeaders, version, this.core.balancer.header, this) !== FRAMING_OK) {
      this.ctx.event = 'bad-framing';
      sendErrorPage(req, res, 400, this.ctx.id, true);
      return;
    }
    appendForwarding(this.headers, this.ctx, this.host, this.forwarding ? peerOf(req) : null);
    // HTTP/2 has no framing headers: a body is whatever DATA frames follow the head.
    if (http2) this.hasBody = !(req as IncomingMessage & { stream: ServerHttp2Stream }).stream.endAfterHeaders && req.method !== 'GET' && req.method !== 'HEAD';
    this.opts = { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: this.headers, body: null };
    res[kExchange] = this;
    res.once('close', onClientClose);
    if (this.hasBody && this.core.bufferRequests) this.bufferThenSend();
    else this.next();
  }

  /** Reads the body whole, then sends the request; nothing goes upstream for a client that left meanwhile. */
  private bufferThenSend(): void {
    const onBody = (body: BufferedBody | null): void => {
      if (body === null || this.clientGone || this.res.headersSent || this.res.destroyed) {
        body?.release();
        this.done();
        return;
      }
      this.body = body;
      // A chunked (or HTTP/2) body now has a length: the upstream gets it framed plainly, as Nginx sends it.
      if (!this.lengthKnown) this.headers.push('content-length', String(body.size));
      this.next();
    };
    readRequestBody(this.req).then(onBody, (err: NodeJS.ErrnoException) => {
      if (this.clientGone || this.res.headersSent || this.res.destroyed) return this.done();
      // As Nginx answers when it cannot write a client body temp file.
      this.fail(500, 'buffer-error', null, `could not buffer the request body (--proxy-request-buffering): ${err.message}`, err.code);
    });
  }

  /** Sends the request to the next upstream, or answers 502 when none is left to try. */
  private next(): void {
    const key = this.core.balancer.hashed ? (this.core.balancer.header === null ? this.ctx.clientAddress : this.hashKey) : undefined;
    const upstream = this.core.balancer.pick(this.core.upstreams, key, this.tried, Date.now());
    if (upstream === null) {
      this.fail(this.tried === null ? 503 : 502, 'upstream-error', null, this.tried === null ? 'no upstream to proxy to' : '');
      return;
    }
    this.upstream = upstream;
    upstream.inflight++;
    this.holding = true;
    // The body as an async iterator that leaves the request alone when done: handed the stream
    // itself, undici destroys it at the end and unhooks its socket (req.socket = null), which the
    // access log and the server still need. Made per attempt: a retry reads from the start.
    // (undici takes async iterables, though its DispatchOptions type leaves them out.)
    if (this.body !== null) this.opts!.body = this.body.source();
    else if (this.hasBody) this.opts!.body = this.req.iterator({ destroyOnReturn: false }) as unknown as Dispatcher.DispatchOptions['body'];
    upstream.pool.dispatch(this.opts!, this);
  }

  // --- undici's handler interface ---

  onConnect(abort: (err?: Error) => void): void {
    this.sent = true;
    this.abortUpstream = abort;
    // A bodyless request whose client already left goes out anyway and its answer is dropped (see DRAIN_LIMIT).
    if (this.clientGone && this.hasBody) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (103 Early Hints): informational, the real answer follows.
    if (statusCode < 200) return true;
    this.answered = true;
    this.status = statusCode;
    this.upstream!.recordSuccess();
    const res = this.res;
    if (this.clientGone || res.headersSent || res.destroyed) {
      // The client left, or keel already answered (a refused upload, a request timeout): the
      // upstream's answer goes nowhere. A small one is read to its end (see DRAIN_LIMIT).
      this.clientGone = true;
      if (this.drainable(rawHeaders)) return true;
      this.abortUpstream?.();
      return false;
    }
    if (statusCode >= 500 && this.core.intercept) {
      this.intercepted = [];
      return true;
    }
    this.resumeUpstream = resume;
    res.writeHead(statusCode, responseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.clientGone) {
      this.drained += chunk.length;
      if (this.drained > DRAIN_LIMIT) this.abortUpstream?.();
      return true;
    }
    if (this.intercepted !== null) {
      if (this.interceptedBytes < INTERCEPT_LOG_BYTES) {
        this.intercepted.push(chunk);
        this.interceptedBytes += chunk.length;
      }
      return true;
    }
    const res = this.res;
    if (this.spool !== null) return this.spool.push(chunk);
    if (res.write(chunk)) return true;
    // The client fell behind. The upstream goes on sending while the backlog fits what the client
    // may owe (see response-spool.ts): up to MEMORY_BYTES in the response's own buffer, then a spool.
    const owed = this.core.responseBuffer;
    if (res.writableLength < Math.min(owed, MEMORY_BYTES)) return true;
    if (owed > MEMORY_BYTES) {
      this.spool = this.startSpool(owed - MEMORY_BYTES);
      return true;
    }
    // Nothing more may be held: undici stops reading the upstream until the client drains.
    res.once('drain', onClientDrain);
    return false;
  }

  private startSpool(max: number): ResponseSpool {
    const res = this.res;
    return new ResponseSpool(res, max, {
      resume: () => this.resumeUpstream?.(),
      drained: () => res.end(),
      failed: (err) => {
        this.core.log.error({ requestId: this.ctx.id, upstream: this.upstream?.url, err }, 'could not hold the response for a slow client (--proxy-response-buffer); response cut');
        this.ctx.event = 'upstream-error';
        // The upstream may still be sending what can no longer be held.
        if (!this.finished) this.abortUpstream?.();
        res.destroy();
      },
    });
  }

  onComplete(): void {
    this.done();
    if (!this.clientGone) {
      if (this.intercepted !== null) this.replaceErrorBody();
      // The upstream is released now; the client gets the rest from the spool, then the end.
      else if (this.spool !== null) this.spool.finish();
      else this.res.end();
    }
    // Last, so keel's own code above keeps its stacks: undici's reset, if any, follows as this returns.
    skipStacksForRestOfTurn();
  }

  onError(err: Error & { code?: string }): void {
    const upstream = this.upstream;
    this.release();
    if (this.clientGone) {
      this.done();
      return;
    }
    const code = err.code ?? '';
    const now = Date.now();
    if (this.answered && !this.res.headersSent && this.intercepted === null) {
      // The head came but could not be written (a header Node refuses): the client has nothing yet.
      this.fail(502, 'upstream-error', upstream, 'upstream sent a response head keel cannot pass on', code);
      return;
    }
    if (this.answered) {
      // The head is out: only cutting the connection tells the client the body is incomplete.
      this.done();
      if (code !== 'UND_ERR_ABORTED') {
        const timeout = code === 'UND_ERR_BODY_TIMEOUT';
        this.ctx.event = timeout ? 'upstream-timeout' : 'upstream-error';
        this.core.log.error({ requestId: this.ctx.id, upstream: upstream?.url, code, status: this.status }, timeout ? 'upstream response body stalled (--proxy-idle-timeout); response cut' : 'upstream response broke off; response cut');
      }
      this.spool?.close();
      if (this.intercepted !== null) this.replaceErrorBody();
      else this.res.destroy();
      return;
    }
    const connectFailed = !this.sent && CONNECT_ERRORS.has(code);
    const reset = RESET_ERRORS.has(code);
    const headerTimeout = code === 'UND_ERR_HEADERS_TIMEOUT';
    if (upstream !== null && (connectFailed || reset || headerTimeout)) upstream.recordFailure(now);
    // A retry is safe when the upstream cannot have acted on the request: an idempotent method,
    // and a body that can be sent again (none, buffered, or not yet read: undici reads it only once connected).
    const retryable = (connectFailed || reset) && IDEMPOTENT.has(this.req.method!) && (!this.hasBody || this.body !== null || !this.sent) && !this.res.headersSent;
    if (retryable && upstream !== null) {
      (this.tried ??= []).push(upstream);
      // Not a count: a managed (--run) upstream that died is dropped from the list while its requests
      // are in flight, so `tried` may hold one the list no longer has.
      const tried = this.tried;
      if (this.core.upstreams.some((u) => !tried.includes(u))) {
        this.core.log.warn({ requestId: this.ctx.id, upstream: upstream.url, code }, 'upstream failed; retrying on another');
        this.sent = false;
        this.abortUpstream = null;
        this.next();
        return;
      }
    }
    if (headerTimeout) this.fail(504, 'upstream-timeout', upstream, 'upstream sent no response head in time (--proxy-header-timeout)', code);
    else this.fail(502, 'upstream-error', upstream, connectFailed ? 'could not connect to the upstream' : 'upstream failed before answering', code);
  }

  // --- the client's side ---

  clientClosed(): void {
    if (this.finished) return;
    this.clientGone = true;
    // Before the answer's head, a bodyless request is left to finish (see DRAIN_LIMIT); the head decides.
    if (this.answered || this.hasBody) this.abortUpstream?.();
  }

  /** Whether an answer nobody will read is small enough to read to its end instead of aborting. */
  private drainable(rawHeaders: Buffer[]): boolean {
    if (this.req.method === 'HEAD') return true;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') return Number(rawHeaders[i + 1]!.toString('latin1')) <= DRAIN_LIMIT;
    }
    // No length: chunked or until close, possibly endless (an event stream).
    return false;
  }

  clientDrained(): void {
    this.resumeUpstream?.();
  }

  private release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.upstream!.inflight--;
  }

  private done(): void {
    this.release();
    this.body?.release();
    if (this.finished) return;
    this.finished = true;
    this.res[kExchange] = undefined;
  }

  /** Answers with keel's error page; logs with the request ID and upstream, never telling the client why. */
  private fail(status: number, event: string, upstream: Upstream | null, message: string, code?: string): void {
    this.done();
    const { req, res, ctx } = this;
    ctx.event = event;
    this.core.log.error({ requestId: ctx.id, upstream: upstream?.url, code, tried: this.tried?.map((u) => u.url) }, `${message || 'every upstream failed'}; answered ${status}`);
    if (res.headersSent || res.destroyed) return;
    // An upload not read to its end would have to be read (and thrown away) before the next request.
    sendErrorPage(req, res, status, ctx.id, this.hasBody && !req.readableEnded);
  }

  /** --intercept-errors: the upstream's 5xx body is logged (its start) and replaced by keel's page, same status. */
  private replaceErrorBody(): void {
    const { req, res, ctx } = this;
    const body = Buffer.concat(this.intercepted!).subarray(0, INTERCEPT_LOG_BYTES).toString('utf8');
    this.intercepted = null;
    ctx.event = 'upstream-5xx';
    this.core.log.error({ requestId: ctx.id, upstream: this.upstream?.url, status: this.status, body }, 'upstream answered with an error; its body was replaced by the error page');
    if (!res.headersSent && !res.destroyed) sendErrorPage(req, res, this.status, ctx.id);
  }
}
