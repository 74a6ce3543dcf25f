/** Plain (req, res) listeners, and Express/Connect apps, which are listeners with a `handle` and a `next`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../../node-http.js';
import { Http2ServerRequest } from 'node:http2';
import { KeelH2Response, KeelResponse } from '../../front/response-headers.js';
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
  const overHttp2 = http2View(app);
  return {
    shape: 'express',
    handle(req, res) {
      const next = (err?: unknown): void => {
        if (err !== undefined && err !== null && err !== 'route' && err !== 'router') {
          const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
          if (typeof status === 'number' && status >= 400 && status < 500) return sendStatus(res, status);
          return fail(req, res, err);
        }
        sendStatus(res, 404);
      };
      if (overHttp2 && req instanceof Http2ServerRequest) overHttp2.handle(req, res, next);
      else app(req, res, next);
    },
  };
}

/** Every own property of a prototype chain up to (not including) `stop`, flattened into one object on `base`. */
function rebase(proto: object, stop: object, base: object): object {
  const levels: object[] = [];
  for (let level: object | null = proto; level && level !== stop; level = Object.getPrototypeOf(level) as object | null) levels.push(level);
  const flat = Object.create(base) as object;
  for (const level of levels.reverse()) Object.defineProperties(flat, Object.getOwnPropertyDescriptors(level));
  return flat;
}

/**
 * Express gives every request and response its own prototypes, built on http.IncomingMessage and
 * http.ServerResponse; an HTTP/2 request put on those loses what makes it work (its headers, its
 * stream). For HTTP/2, the app runs with the same Express methods rebased on Node's HTTP/2
 * compatibility classes, as bridges such as http2-express-bridge do.
 */
function http2View(app: unknown): { handle: (req: unknown, res: unknown, next: (err?: unknown) => void) => void } | null {
  const express = app as { request?: object; response?: object; handle?: (req: unknown, res: unknown, next: unknown) => void };
  if (!express.request || !express.response || typeof express.handle !== 'function') return null;
  const view = Object.create(express, {
    request: { value: rebase(express.request, http.IncomingMessage.prototype, Http2ServerRequest.prototype) },
    response: { value: rebase(express.response, KeelResponse.prototype, KeelH2Response.prototype) },
  }) as typeof express;
  return { handle: (req, res, next) => express.handle!.call(view, req, res, next) };
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
  while (proto && Object.getPrototypeOf(proto) !== http.ServerResponse.prototype) {
    if (Object.getPrototypeOf(proto) === KeelResponse.prototype || Object.getPrototypeOf(proto) === null) return;
    proto = Object.getPrototypeOf(proto) as object;
  }
  if (proto) Object.setPrototypeOf(proto, KeelResponse.prototype);
}
