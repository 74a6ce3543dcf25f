/**
 * The worker's listeners and connections: one net.Server per --bind (shared with the other
 * workers through the primary), feeding the protocol servers: plain HTTP/1.1, TLS with HTTP/2 and
 * HTTP/1.1 by ALPN, cleartext HTTP/2 when --h2c is on, and the --redirect-http listener. Accepting
 * and serving are separate, so that stopping to accept and closing connections are separate steps
 * of a drain.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { http as nodeHttp } from '../node-http.js';
import { createSecureServer, createServer as createH2Server, type Http2Server, type Http2SecureServer, type Http2Session, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { readClientHello } from '../tls/client-hello.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { isTlsBind } from '../config/tls-binds.js';
import type { BindAddress } from '../config/value-types.js';
import { maxHeaderSize } from '../front/request-head.js';
import { readProxyHeader } from '../front/proxy-protocol.js';
import { KeelH2Request, KeelIncomingMessage } from '../front/bodyless-request.js';
import { configureLingeringClose, lingerOnClose } from '../front/lingering-close.js';
import { KeelH2Response, KeelResponse } from '../front/response-headers.js';
import type { WorkerTls } from '../tls/worker-tls.js';
import type { UpgradeHandler } from '../front/upgrade-request.js';
import { bindFailure } from '../bind-failure.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listeners {
  readonly addresses: string[];
  /** Stops accepting new connections; open ones carry on. */
  stopAccepting(): Promise<void>;
  /** After stopAccepting: resolves once every connection the listeners accepted has closed. */
  connectionsClosed(): Promise<void>;
  /** Closes idle HTTP/1.1 connections and asks HTTP/2 clients to go away once their streams finish. */
  closeIdleConnections(): void;
  closeAllConnections(): void;
  /** New default certificate and ticket keys for the TLS server (SNI contexts are looked up per handshake). */
  updateTls(options: SecureContextOptions): void;
}

export interface ListenerOptions {
  readonly config: ResolvedConfig;
  readonly handler: Handler;
  /** For --redirect-http: the handler of the redirecting listener. */
  readonly redirectHandler: Handler | null;
  readonly onClientError: (err: NodeJS.ErrnoException, socket: Socket) => void;
  /** CONNECT requests, which keel refuses (a listener must exist, or Node closes without an answer). */
  readonly onConnect: (req: IncomingMessage, socket: Duplex) => void;
  /** The certificates and the rest the primary sent, when any bind is TLS. */
  readonly tls: WorkerTls | null;
  /** Called with each accepted connection (after any PROXY header) before it is served: --limit-conn counts them. */
  readonly onConnection?: ((socket: Socket) => void) | null;
  /** Upgrade requests (WebSocket), when a proxy route can take them; null leaves them to Node (plain requests). */
  readonly upgradeHandler?: UpgradeHandler | null;
}

/**
 * Answers ACME TLS-ALPN-01 validation handshakes (RFC 8737): the CA only checks the certificate,
 * so the connection closes once the handshake is done.
 */
function createAlpnChallengeServer(tls: WorkerTls): TlsServer {
  const server = createTlsServer({
    ALPNProtocols: ['acme-tls/1'],
    SNICallback: (servername, callback) => {
      const context = tls.alpnChallenge(servername);
      if (context) callback(null, context);
      else callback(new Error(`no TLS-ALPN-01 challenge for ${servername}`));
    },
  });
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}

/**
 * Listens on `bind`. A failure is the KeelError the primary's check gives (the port can be taken
 * between that check and this listen), so keel stops with one clear message instead of restarting.
 */
function listen(server: NetServer, bind: BindAddress, tls: boolean, setting: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => reject(bindFailure(err, bind, setting));
    server.once('error', fail);
    const onListening = (): void => {
      server.removeListener('error', fail);
      const address = server.address();
      const text = typeof address === 'string' || address === null ? `unix:${bind.kind === 'unix' ? bind.path : address}` : address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
      resolve(tls ? `https://${text}` : text);
    };
    if (bind.kind === 'unix') server.listen(bind.path, onListening);
    else server.listen({ host: bind.host, port: bind.port, backlog: 2048 }, onListening);
  });
}

/** The HTTP/1.1 settings every protocol server shares. */
type Refusals = Pick<ListenerOptions, 'onClientError' | 'onConnect'>;

function applyHttp1Limits(server: HttpServer | Http2SecureServer, config: ResolvedConfig, refusals: Refusals): void {
  const target = server as HttpServer;
  target.keepAliveTimeout = config.keepAlive * 1000;
  target.headersTimeout = config.headerTimeout * 1000;
  target.requestTimeout = Math.max(config.bodyTimeout, config.headerTimeout) * 1000;
  // How often Node checks header and request timeouts; its default of 30 s would let slow clients linger.
  (target as HttpServer & { connectionsCheckingInterval: number }).connectionsCheckingInterval = 1000;
  // One more than the limit, so the request-head stage sees that there were too many.
  target.maxHeadersCount = config.limitRequestFields + 1;
  target.on('clientError', refusals.onClientError);
  target.on('connect', refusals.onConnect);
  // Node starts its connection tracking (header and request timeouts, closeIdleConnections, closeAllConnections)
  // on 'listening', which a server fed through 'connection' never emits by itself.
  target.emit('listening');
}

/** A plain HTTP/1.1 server fed connections by keel's own listeners. */
function createHttp1Server(config: ResolvedConfig, handler: Handler, refusals: Refusals): HttpServer {
  // requireHostHeader: the request-head stage refuses a missing Host itself, with a request ID and a
  // log line (Node's own check answers a bare 400 no log sees, and builds req.headers for every request).
  const server = nodeHttp.createServer(
    { IncomingMessage: KeelIncomingMessage, ServerResponse: KeelResponse as unknown as typeof ServerResponse, maxHeaderSize: maxHeaderSize(config), requireHostHeader: false },
    handler,
  );
  server.on('connection', lingerOnClose);
  applyHttp1Limits(server, config, refusals);
  return server;
}

const H2_PREFACE = 'PRI * HTTP/2.0';

/**
 * Calls `then` with the connection's first bytes, put back so the next reader sees them too. A
 * client that sends nothing within the header timeout is cut, as it would be once a server had it.
 */
function peekFirstChunk(socket: Socket, timeoutMs: number, then: (chunk: Buffer) => void): void {
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('data', (chunk: Buffer) => {
    clearTimeout(timer);
    socket.pause();
    socket.unshift(chunk);
    then(chunk);
  });
  // A socket that came through a PROXY header is paused.
  if (socket.isPaused()) socket.resume();
}

export async function openListeners(options: ListenerOptions): Promise<Listeners> {
  const { config, handler, redirectHandler, tls, onConnection, upgradeHandler } = options;
  configureLingeringClose(config);
  const http = createHttp1Server(config, handler, options);
  if (upgradeHandler) http.on('upgrade', upgradeHandler);

  const sessions = new Set<Http2Session>();
  const keepAliveMs = config.keepAlive * 1000;
  // HTTP/2 connections get the same idle limit as HTTP/1.1 keep-alive ones (--keep-alive), counted
  // only while no stream is open, as Nginx does: Node's own session timeout would also cut a long
  // response that is merely quiet.
  const trackSession = (session: Http2Session): void => {
    sessions.add(session);
    let open = 0;
    let idle: NodeJS.Timeout | null = null;
    const arm = (): void => {
      if (keepAliveMs <= 0) return;
      idle = setTimeout(() => session.close(), keepAliveMs);
      idle.unref();
    };
    arm();
    // One listener per session, not a closure per stream: this runs for every HTTP/2 request.
    const onStreamClose = (): void => {
      if (--open === 0 && !session.closed && !session.destroyed) arm();
    };
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      if (idle) clearTimeout(idle);
      idle = null;
      // 'close' comes once per stream, so on() does what once() would without its wrapper.
      stream.on('close', onStreamClose);
    });
    session.once('close', () => {
      if (idle) clearTimeout(idle);
      sessions.delete(session);
    });
  };
  const h2Settings = { maxConcurrentStreams: 128, maxHeaderListSize: maxHeaderSize(config) };

  let secure: Http2SecureServer | null = null;
  if (tls) {
    secure = createSecureServer(
      {
        ...tls.serverOptions(),
        allowHTTP1: true,
        Http1IncomingMessage: KeelIncomingMessage,
        Http2ServerRequest: KeelH2Request,
        Http1ServerResponse: KeelResponse as unknown as typeof ServerResponse,
        Http2ServerResponse: KeelH2Response as unknown as typeof Http2ServerResponse,
        SNICallback: tls.contexts.sniCallback,
        settings: h2Settings,
        maxHeaderSize: maxHeaderSize(config),
        requireHostHeader: false,
        // A client that opens a connection and stalls the handshake holds a socket; Node waits 120 s by default.
        handshakeTimeout: config.headerTimeout * 1000,
      } as Parameters<typeof createSecureServer>[0],
      handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
    );
    secure.on('session', trackSession);
    secure.on('secureConnection', (socket: Socket) => {
      if ((socket as Socket & { alpnProtocol?: string | false }).alpnProtocol !== 'h2') lingerOnClose(socket);
    });
    // Only handshakes that ask for the certificate's status (status_request) get here.
    secure.on('OCSPRequest', (certificate: Buffer, _issuer: Buffer, callback: (err: Error | null, response?: Buffer) => void) => callback(null, tls.ocspResponse(certificate)));
    // A failed handshake (a scanner, a client that does not trust the certificate) is the client's business.
    secure.on('tlsClientError', (_err, socket) => socket.destroy());
    applyHttp1Limits(secure, config, options);
    // HTTP/1.1 over TLS: WebSocket upgrades come to the secure server.
    if (upgradeHandler) secure.on('upgrade', upgradeHandler);
  }

  let h2c: Http2Server | null = null;
  if (config.h2c) {
    h2c = createH2Server({ Http2ServerRequest: KeelH2Request, Http2ServerResponse: KeelH2Response as unknown as typeof Http2ServerResponse, settings: h2Settings }, handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
    h2c.on('session', trackSession);
  }

  const toHttp = (socket: Socket): void => {
    http.emit('connection', socket);
    // Paused only after a PROXY header; the HTTP/1.1 parser reads through 'data'.
    if (socket.isPaused()) socket.resume();
  };
  let alpnServer: TlsServer | null = null;
  const toSecure = (socket: Socket): void => {
    if (!tls!.hasAlpnChallenges()) {
      secure!.emit('connection', socket);
      return;
    }
    // TLS takes over what the socket has buffered (Node's TLSSocket reads it first), so the bytes read here are not lost.
    peekFirstChunk(socket, config.headerTimeout * 1000, (chunk) => {
      const hello = readClientHello(chunk);
      if (hello?.servername && hello.alpn.includes('acme-tls/1') && tls!.alpnChallenge(hello.servername)) {
        alpnServer ??= createAlpnChallengeServer(tls!);
        alpnServer.emit('connection', socket);
      } else {
        secure!.emit('connection', socket);
      }
    });
  };
  // Cleartext HTTP/2 has no ALPN: the client's first bytes tell (the HTTP/2 connection preface).
  const sniffH2c = (socket: Socket): void => {
    peekFirstChunk(socket, config.headerTimeout * 1000, (chunk) => {
      // The HTTP/2 session takes what the socket has buffered when it starts; resuming here would
      // emit that chunk to nobody. The HTTP/1.1 parser reads through 'data' and needs the resume (toHttp).
      if (chunk.toString('latin1', 0, H2_PREFACE.length) === H2_PREFACE) h2c!.emit('connection', socket);
      else toHttp(socket);
    });
  };

  const servers: NetServer[] = [];
  const addresses: string[] = [];
  const accept = (bind: BindAddress, handOn: (socket: Socket) => void, tls: boolean): Promise<string> => {
    const hand = onConnection
      ? (socket: Socket): void => {
          onConnection(socket);
          handOn(socket);
        }
      : handOn;
    const server = createNetServer({ noDelay: true });
    server.on('connection', config.proxyProtocol ? (socket: Socket) => readProxyHeader(socket, config.headerTimeout * 1000, hand) : hand);
    servers.push(server);
    return listen(server, bind, tls, '--bind');
  };
  for (const bind of config.bind) {
    const tls = isTlsBind(bind, config) && secure !== null;
    addresses.push(await accept(bind, tls ? toSecure : h2c ? sniffH2c : toHttp, tls));
  }

  let redirect: HttpServer | null = null;
  if (config.redirectHttp && redirectHandler) {
    redirect = createHttp1Server(config, redirectHandler, options);
    const hand = (socket: Socket): void => {
      redirect!.emit('connection', socket);
    };
    const server = createNetServer({ noDelay: true }, hand);
    servers.push(server);
    await listen(server, config.redirectHttp, false, '--redirect-http');
  }

  const httpServers = [http, secure as unknown as HttpServer | null, redirect].filter((s): s is HttpServer => s !== null);
  let closed: Promise<void> = Promise.resolve();
  return {
    addresses,
    // net.Server#close waits for every connection it ever accepted; only the refusal of new ones matters here.
    stopAccepting: () => {
      closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => {});
      return Promise.resolve();
    },
    connectionsClosed: () => closed,
    closeIdleConnections: () => {
      // http.Server's methods, also for the TLS server: its HTTP/1.1 connections are tracked the same way.
      for (const server of httpServers) nodeHttp.Server.prototype.closeIdleConnections.call(server);
      // GOAWAY: the client opens no new streams here; the session closes when its streams are done.
      for (const session of sessions) if (!session.closed) session.close();
    },
    updateTls: (tlsOptions) => secure?.setSecureContext(tlsOptions),
    closeAllConnections: () => {
      for (const server of httpServers) nodeHttp.Server.prototype.closeAllConnections.call(server);
      for (const session of sessions) session.destroy();
    },
  };
}
