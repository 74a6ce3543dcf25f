/** Plain (req, res) listeners, and Express/Connect apps, which are listeners with a `handle` and a `next`. */
import { ServerResponse, type IncomingMessage } from 'node:http';
import { KeelResponse } from '../../front/response-headers.js';
import type { AdaptedApp, FailRequest } from './types.js';

export function isExpressLike(app: unknown): app is ((req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void) & { handle: unknown } {
  return typeof app === 'function' && typeof (app as { handle?: unknown }).handle === 'function' && typeof (app as { use?: unknown }).use === 'function';
}

export function adaptListener(app: (req: IncomingMessage, res: ServerResponse) => unknown): AdaptedApp {
  return { shape: 'listener', handle: app };
}

/**
 * Express and Connect end a request with their own final handler, which prints the stack to
 * stderr and, outside production, into the page. Passing our own `next` routes those errors to
 * keel's error boundary instead, and unmatched routes to a plain 404.
 */
export function adaptExpress(app: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void, fail: FailRequest): AdaptedApp {
  keepKeelResponse(app);
  return {
    shape: 'express',
    handle(req, res) {
      app(req, res, (err?: unknown) => {
        if (err !== undefined && err !== null && err !== 'route' && err !== 'router') {
          const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
          if (typeof status === 'number' && status >= 400 && status < 500) return sendStatus(res, status);
          return fail(req, res, err);
        }
        sendStatus(res, 404);
      });
    },
  };
}

function sendStatus(res: ServerResponse, status: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = status === 404 ? 'Not Found\n' : `${status}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Express swaps each response's prototype for its own (built on http.ServerResponse), which would
 * bypass KeelResponse and let a route set Server or X-Powered-By; its chain is rebased on KeelResponse.
 */
function keepKeelResponse(app: unknown): void {
  let proto = (app as { response?: object }).response;
  while (proto && Object.getPrototypeOf(proto) !== ServerResponse.prototype) {
    if (Object.getPrototypeOf(proto) === KeelResponse.prototype || Object.getPrototypeOf(proto) === null) return;
    proto = Object.getPrototypeOf(proto) as object;
  }
  if (proto) Object.setPrototypeOf(proto, KeelResponse.prototype);
}
