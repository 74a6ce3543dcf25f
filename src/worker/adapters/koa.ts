/**
 * Koa apps: a first middleware catches what the app throws, so 5xx failures reach keel's error
 * boundary (generic page, request ID, full error in the error log) and Koa never prints them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdaptedApp, FailRequest } from './types.js';

interface KoaLike {
  callback(): (req: IncomingMessage, res: ServerResponse) => unknown;
  middleware: unknown[];
  silent?: boolean;
}

interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  respond?: boolean;
}

export function isKoa(app: unknown): app is KoaLike {
  return typeof app === 'object' && app !== null && typeof (app as KoaLike).callback === 'function' && Array.isArray((app as KoaLike).middleware) && 'context' in app;
}

export function adaptKoa(app: KoaLike, fail: FailRequest): AdaptedApp {
  app.silent = true;
  app.middleware.unshift(async function keelErrorBoundary(ctx: KoaContext, next: () => Promise<unknown>) {
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number }).status ?? (err as { statusCode?: number }).statusCode;
      if (typeof status === 'number' && status < 500) throw err;
      ctx.respond = false;
      fail(ctx.req, ctx.res, err);
    }
  });
  return { shape: 'koa', handle: app.callback() };
}
