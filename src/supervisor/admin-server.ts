/**
 * The admin listener, in the primary: /healthz (the primary is alive), /readyz (every worker is up
 * and none is draining), /metrics (Prometheus text, all workers aggregated) and the live status
 * page at / with its script and style sheet and its event stream at /events.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../node-http.js';
import type { BindAddress } from '../config/value-types.js';
import { createStatusPage } from '../observe/status-page.js';
import type { StatusSnapshot } from '../observe/status-snapshot.js';
import { createAdminAuth } from './admin-auth.js';

export interface AdminState {
  readonly ready: () => boolean;
  readonly describe: () => Record<string, unknown>;
  /** Prometheus text exposition of every metric, aggregated over the workers. */
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  readonly snapshot: () => StatusSnapshot;
  /** --admin-token: /, /events and /metrics need it; /healthz and /readyz stay open for probes. */
  readonly token?: string | null;
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

export function startAdminServer(bind: BindAddress, state: AdminState): Promise<Server> {
  const statusPage = createStatusPage(state.snapshot);
  const allowed = createAdminAuth(state.token ?? null);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return sendJson(req, res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ready = state.ready();
      return sendJson(req, res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...state.describe() });
    }
    // The page's script and style sheet hold no data, and a <script src> cannot carry the token.
    if (path === '/status.js') return statusPage.script(req, res);
    if (path === '/status.css') return statusPage.styles(req, res);
    if (path !== '/metrics' && path !== '/' && path !== '/events') return sendJson(req, res, 404, { error: 'Not Found' });
    if (!allowed(req, res)) return;
    if (path === '/metrics') {
      state.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        () => sendJson(req, res, 500, { error: 'metrics unavailable' }),
      );
      return;
    }
    if (path === '/') return statusPage.page(req, res);
    return statusPage.events(req, res);
  });
  server.keepAliveTimeout = 5000;
  // close() waits for every open connection, and an event stream never ends by itself: end the
  // streams first, or the admin listener would never finish closing.
  const closeServer = server.close.bind(server);
  server.close = (callback?: (err?: Error) => void) => {
    statusPage.close();
    return closeServer(callback);
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.removeListener('error', reject);
      resolve(server);
    };
    if (bind.kind === 'unix') server.listen(bind.path, done);
    else server.listen({ host: bind.host, port: bind.port }, done);
  });
}
