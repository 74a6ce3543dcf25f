/**
 * --redirect-http: every request on the plain listener gets a 308 to the same URL on HTTPS (308,
 * not 301, so a POST stays a POST), except ACME HTTP-01 challenges, which are answered here.
 * It runs through the same front pipeline as the app, so it gets request IDs, limits and log lines.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdaptedApp } from '../worker/adapters/types.js';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** Host without its port, or null when it is not a plausible host name or address. */
function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d*$/, '');
  return /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(name) ? name : null;
}

export function createRedirectApp(httpsPort: number, challenges: () => Readonly<Record<string, string>>): AdaptedApp {
  return {
    shape: 'listener',
    handle(req: IncomingMessage, res: ServerResponse): void {
      const url = req.url ?? '/';
      if (url.startsWith(CHALLENGE_PREFIX)) {
        const answer = challenges()[url.slice(CHALLENGE_PREFIX.length)];
        const body = answer === undefined ? 'Not Found\n' : answer;
        res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const host = hostName(req.headers.host);
      if (host === null) {
        const body = 'Bad Request: a Host header is needed to redirect to HTTPS\n';
        res.writeHead(400, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const location = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${url.startsWith('/') ? url : `/${url}`}`;
      res.writeHead(308, { location, 'content-length': 0 });
      res.end();
    },
  };
}
