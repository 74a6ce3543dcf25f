/**
 * Fetch-API apps (Hono and others): an object with fetch(Request) => Response. The conversion
 * between Node's request/response and Request/Response, streaming included, is @hono/node-server's
 * getRequestListener, which is made for exactly this. The app gets { incoming, outgoing } as its
 * second argument, as under @hono/node-server, so incoming.keel carries the client address.
 */
import { getRequestListener } from '@hono/node-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AdaptedApp, BrokenReturnError, type FailRequest } from './types.js';

type FetchHandler = (request: Request, env: { incoming: IncomingMessage; outgoing: ServerResponse }) => unknown;

export function isFetchApp(app: unknown): app is { fetch: FetchHandler } {
  return typeof app === 'object' && app !== null && typeof (app as { fetch?: unknown }).fetch === 'function';
}

function isResponse(value: unknown): value is Response {
  return typeof value === 'object' && value !== null && typeof (value as Response).status === 'number' && typeof (value as Response).headers === 'object';
}

export function adaptFetch(app: { fetch: FetchHandler }, fail: FailRequest): AdaptedApp {
  const handled = Symbol('keel.fetchFailed');
  const listener = getRequestListener(async (request, bindings) => {
    const env = bindings as { incoming: IncomingMessage; outgoing: ServerResponse };
    try {
      const response = await app.fetch(request, env);
      if (!isResponse(response)) throw new BrokenReturnError(`fetch() returned ${response === null ? 'null' : typeof response}, not a Response`);
      return response;
    } catch (err) {
      fail(env.incoming, env.outgoing, err);
      // Tells the listener the answer was already written.
      return handled as unknown as Response;
    }
  }, {
    errorHandler: (err) => {
      if (err === handled) return;
      throw err;
    },
  });
  return { shape: 'fetch', handle: listener };
}
