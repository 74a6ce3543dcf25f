/**
 * Fetch-API apps (Hono and others): an object with fetch(Request) => Response. The conversion
 * between Node's request/response and Request/Response, streaming included, is @hono/node-server's
 * getRequestListener, which is made for exactly this. The app gets { incoming, outgoing } as its
 * second argument, as under @hono/node-server, so incoming.keel carries the client address.
 */
import { getRequestListener } from '@hono/node-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FetchHandler } from './fetch-shape.js';
import { type AdaptedApp, BrokenReturnError, type FailRequest } from './types.js';

function isResponse(value: unknown): value is Response {
  return typeof value === 'object' && value !== null && typeof (value as Response).status === 'number' && typeof (value as Response).headers === 'object';
}

/**
 * Hono answers a throw itself: console.error and a bare 500 without the request ID, out of the
 * error log. Unless the app set its own onError, throws go on to keel's boundary; an
 * HTTPException below 500 keeps its own answer, as under Hono's default handler.
 */
function rethrowHonoErrors(app: object): void {
  const hono = app as { onError?: unknown; errorHandler?: { name?: string } };
  if (typeof hono.onError !== 'function' || typeof hono.errorHandler !== 'function' || hono.errorHandler.name !== 'errorHandler') return;
  (hono.onError as (handler: (err: Error) => Response) => unknown)(function keelErrorBoundary(err) {
    const exception = err as Error & { getResponse?: () => Response; status?: number };
    if (typeof exception.getResponse === 'function' && typeof exception.status === 'number' && exception.status < 500) return exception.getResponse();
    throw err;
  });
}

export function adaptFetch(app: { fetch: FetchHandler }, fail: FailRequest): AdaptedApp {
  rethrowHonoErrors(app);
  const handled = Symbol('keel.fetchFailed');
  const listener = getRequestListener(async (request, bindings) => {
    const env = bindings as { incoming: IncomingMessage; outgoing: ServerResponse };
    try {
      const response = await app.fetch(request, env);
      if (!isResponse(response)) throw new BrokenReturnError(`fetch() returned ${response === null ? 'null' : typeof response}, not a Response`);
      return response;
    } catch (err) {
      fail(env.incoming, env.outgoing, err);
      // Tells the listener the answer was already written: its errorHandler sees only rejections
      // (a returned non-Response would make it log a TypeError and destroy the socket).
      throw handled;
    }
  }, {
    errorHandler: (err) => {
      if (err === handled) return;
      throw err;
    },
  });
  return { shape: 'fetch', handle: listener };
}
