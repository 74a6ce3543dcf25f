/**
 * The worker's listeners and connections: one net.Server per --bind (shared with the other
 * workers through the primary), all feeding one HTTP server, so that stopping to accept and
 * closing connections are separate steps of a drain.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { ResolvedConfig } from '../config/resolve.js';
import type { BindAddress } from '../config/value-types.js';
import { maxHeaderSize } from '../front/request-head.js';
import { readProxyHeader } from '../front/proxy-protocol.js';
import { KeelResponse } from '../front/response-headers.js';

export interface Listeners {
  readonly http: HttpServer;
  readonly addresses: string[];
  /** Stops accepting new connections; open ones carry on. */
  stopAccepting(): Promise<void>;
  /** After stopAccepting: resolves once every connection the listeners accepted has closed. */
  connectionsClosed(): Promise<void>;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

function listen(server: NetServer, bind: BindAddress): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = (): void => {
      server.removeListener('error', reject);
      const address = server.address();
      resolve(typeof address === 'string' || address === null ? `unix:${bind.kind === 'unix' ? bind.path : address}` : address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`);
    };
    if (bind.kind === 'unix') server.listen(bind.path, onListening);
    else server.listen({ host: bind.host, port: bind.port, backlog: 2048 }, onListening);
  });
}

export async function openListeners(
  config: ResolvedConfig,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onClientError: (err: NodeJS.ErrnoException, socket: Socket) => void,
): Promise<Listeners> {
  const http = createHttpServer(
    {
      ServerResponse: KeelResponse as unknown as typeof ServerResponse,
      keepAliveTimeout: config.keepAlive * 1000,
      headersTimeout: config.headerTimeout * 1000,
      requestTimeout: Math.max(config.bodyTimeout, config.headerTimeout) * 1000,
      maxHeaderSize: maxHeaderSize(config),
      // How often Node checks header and request timeouts; its default of 30 s would let slow clients linger.
      connectionsCheckingInterval: 1000,
    },
    handler,
  );
  // One more than the limit, so the request-head stage sees that there were too many.
  http.maxHeadersCount = config.limitRequestFields + 1;
  http.on('clientError', onClientError);
  // Node starts its connection tracking (header and request timeouts, closeIdleConnections, closeAllConnections)
  // on 'listening', which a server fed through 'connection' never emits by itself.
  http.emit('listening');

  const hand = (socket: Socket): void => {
    http.emit('connection', socket);
  };
  const servers: NetServer[] = [];
  const addresses: string[] = [];
  for (const bind of config.bind) {
    const server = createNetServer({ noDelay: true });
    server.on('connection', config.proxyProtocol ? (socket: Socket) => readProxyHeader(socket, config.headerTimeout * 1000, hand) : hand);
    addresses.push(await listen(server, bind));
    servers.push(server);
  }

  let closed: Promise<void> = Promise.resolve();
  return {
    http,
    addresses,
    // net.Server#close waits for every connection it ever accepted; only the refusal of new ones matters here.
    stopAccepting: () => {
      closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => {});
      return Promise.resolve();
    },
    connectionsClosed: () => closed,
    closeIdleConnections: () => http.closeIdleConnections(),
    closeAllConnections: () => http.closeAllConnections(),
  };
}
