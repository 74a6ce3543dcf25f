/**
 * The admin listener, in the primary: /healthz (the primary is alive) and /readyz (every worker
 * is up and none is draining). Later: metrics and the status page.
 */
import { createServer, type Server } from 'node:http';
import type { BindAddress } from '../config/value-types.js';

export interface AdminState {
  readonly ready: () => boolean;
  readonly describe: () => Record<string, unknown>;
}

export function startAdminServer(bind: BindAddress, state: AdminState): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let status = 404;
    let body: Record<string, unknown> = { error: 'Not Found' };
    if (path === '/healthz') {
      status = 200;
      body = { status: 'ok' };
    } else if (path === '/readyz') {
      const ready = state.ready();
      status = ready ? 200 : 503;
      body = { status: ready ? 'ready' : 'not ready', ...state.describe() };
    }
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
  server.keepAliveTimeout = 5000;
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
