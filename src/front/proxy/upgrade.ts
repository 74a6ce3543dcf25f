/**
 * Upgrade requests (WebSocket) through a proxy route: the request head goes upstream through
 * undici's upgrade support (with keel's forwarding headers); a 101 answer is passed to the client
 * as it came and the two sockets are then joined both ways, with backpressure (pipe) and each
 * side's end or failure carried to the other. Any other answer reaches the client as a normal
 * response and the connection closes. The tunnel has no idle timeout of its own: WebSocket apps
 * keep quiet connections open on purpose (Caddy's default; Nginx users raise proxy_read_timeout).
 * WebSocket over HTTP/2 (RFC 8441) is not offered, so browsers use HTTP/1.1 for it.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { sendErrorPage } from '../error-page.js';
import { peerAddressOf } from '../proxy-protocol.js';
import type { RequestContext } from '../request-context.js';
import { plainAddress } from '../trusted-proxies.js';
import { kUpgradeHead } from '../upgrade-request.js';
import { FRAMING_OK, appendForwarding, scanRequestHead, type ForwardHead } from './forward-headers.js';
import type { ProxyCore } from './proxy-exchange.js';
import { responseHeaders } from './response-head.js';
import type { Upstream } from './upstream-pool.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT', 'EACCES', 'ECONNABORTED']);

/** The 101 head as the upstream sent it (Upgrade, Connection, Sec-WebSocket-Accept…), keel's X-Request-Id added by the response class. */
export function switchingHeaders(raw: readonly Buffer[] | readonly string[]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'x-request-id') continue;
    const value = raw[i + 1].toString('latin1');
    const previous = headers[lower];
    headers[lower] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous as string, value];
  }
  return headers;
}

function join(client: Socket, upstream: Socket): void {
  const cut = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.setTimeout(0);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  upstream.on('error', cut);
  client.on('error', cut);
  upstream.on('close', cut);
  client.on('close', cut);
  upstream.pipe(client);
  client.pipe(upstream);
}

class UpgradeExchange implements ForwardHead, Dispatcher.DispatchHandler {
  headers: string[] = [];
  hasBody = false;
  lengthKnown = false;
  upgrade = '';
  host: string | undefined = undefined;
  forwarding = false;
  hashKey: string | undefined = undefined;

  private readonly core: ProxyCore;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly ctx: RequestContext;
  private upstream: Upstream | null = null;
  private tried: Upstream[] | null = null;
  private opts: Dispatcher.DispatchOptions | null = null;
  private sent = false;
  private answered = false;

  constructor(core: ProxyCore, req: IncomingMessage, res: ServerResponse) {
    this.core = core;
    this.req = req;
    this.res = res;
    this.ctx = req.keel!;
  }

  start(): void {
    const { req, res, ctx } = this;
    if (scanRequestHead(req.rawHeaders, req.httpVersionMinor === 0 ? 'http/1.0' : 'http/1.1', this.core.balancer.header, this) !== FRAMING_OK || this.upgrade === '' || this.hasBody) {
      ctx.event = 'bad-framing';
      sendErrorPage(req, res, 400, ctx.id, true);
      return;
    }
    appendForwarding(this.headers, ctx, this.host, this.forwarding ? plainAddress(peerAddressOf(req.socket) ?? 'unix') : null);
    this.opts = { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: this.headers, upgrade: this.upgrade, body: null };
    this.next();
  }

  private next(): void {
    const balancer = this.core.balancer;
    const key = balancer.hashed ? (balancer.header === null ? this.ctx.clientAddress : this.hashKey) : undefined;
    const upstream = balancer.pick(this.core.upstreams, key, this.tried, Date.now());
    if (upstream === null) {
      this.fail(this.tried === null ? 503 : 502, null);
      return;
    }
    this.upstream = upstream;
    upstream.pool.dispatch(this.opts!, this);
  }

  onConnect(): void {
    this.sent = true;
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Socket): void {
    this.answered = true;
    this.upstream!.recordSuccess();
    const { req, res, ctx } = this;
    const client = res.socket;
    if (!client || client.destroyed) {
      socket.destroy();
      return;
    }
    ctx.event = 'upgraded';
    res.writeHead(statusCode, switchingHeaders(rawHeaders ?? []));
    res.flushHeaders();
    const head = (req as IncomingMessage & { [kUpgradeHead]?: Buffer })[kUpgradeHead];
    if (head && head.length > 0) socket.write(head);
    join(client, socket);
  }

  // A refusal (any status but 101) reaches the client as a plain response; the connection then closes.
  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.answered = true;
    this.upstream!.recordSuccess();
    if (!this.res.headersSent && !this.res.destroyed) this.res.writeHead(statusCode, responseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.res.write(chunk);
    return true;
  }

  onComplete(): void {
    this.res.end();
  }

  onError(err: Error & { code?: string }): void {
    const code = err.code ?? '';
    const upstream = this.upstream;
    if (this.answered) {
      this.res.destroy();
      return;
    }
    const connectFailed = !this.sent && CONNECT_ERRORS.has(code);
    if (upstream !== null && (connectFailed || code === 'UND_ERR_HEADERS_TIMEOUT')) upstream.recordFailure(Date.now());
    if (connectFailed && upstream !== null && !this.res.destroyed) {
      (this.tried ??= []).push(upstream);
      if (this.tried.length < this.core.upstreams.length) {
        this.next();
        return;
      }
    }
    this.fail(code === 'UND_ERR_HEADERS_TIMEOUT' ? 504 : 502, code);
  }

  private fail(status: number, code: string | null): void {
    const { req, res, ctx } = this;
    ctx.event = status === 504 ? 'upstream-timeout' : 'upstream-error';
    this.core.log.error({ requestId: ctx.id, upstream: this.upstream?.url, code: code ?? undefined, upgrade: this.upgrade }, `upgrade request failed upstream; answered ${status}`);
    if (!res.headersSent && !res.destroyed) sendErrorPage(req, res, status, ctx.id, true);
  }
}

export function proxyUpgrade(core: ProxyCore, req: IncomingMessage, res: ServerResponse): void {
  new UpgradeExchange(core, req, res).start();
}
