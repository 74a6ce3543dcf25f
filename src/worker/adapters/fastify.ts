/**
 * Fastify instances: routed through fastify.routing, after ready(). Fastify's default error
 * handler puts the error message in 500 answers, so unless the app set its own handler, keel's
 * boundary answers 5xx failures; 4xx (validation, not found) keep Fastify's answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdaptedApp, FailRequest } from './types.js';

interface FastifyLike {
  routing(req: IncomingMessage, res: ServerResponse): void;
  ready(): Promise<unknown>;
  setErrorHandler(handler: (err: unknown, request: { raw: IncomingMessage }, reply: FastifyReply) => unknown): unknown;
  addHook(name: 'onError', hook: (request: FastifyRequest, reply: FastifyReply, err: unknown) => Promise<void>): unknown;
  errorHandler?: { name?: string };
}

interface FastifyRequest {
  raw: IncomingMessage;
  /** The (encapsulated) instance the route belongs to. */
  server: { errorHandler?: { name?: string } };
}

interface FastifyReply {
  raw: ServerResponse;
  send(payload: unknown): unknown;
  hijack(): unknown;
}

export function isFastify(app: unknown): app is FastifyLike {
  return (
    (typeof app === 'object' || typeof app === 'function') &&
    app !== null &&
    typeof (app as FastifyLike).routing === 'function' &&
    typeof (app as FastifyLike).ready === 'function' &&
    typeof (app as FastifyLike).setErrorHandler === 'function'
  );
}

export async function adaptFastify(app: FastifyLike, fail: FailRequest): Promise<AdaptedApp> {
  // Not setErrorHandler: a route keeps the error handler in effect when it was bound, and a
  // factory's result has been awaited, which boots a (thenable) Fastify instance, so a new handler
  // would miss every route. onError hooks run before the error handler, for every route; where the
  // route's instance has its own error handler, that handler decides.
  app.addHook('onError', async function keelErrorBoundary(request, reply, err) {
    if (request.server.errorHandler?.name !== 'defaultErrorHandler') return;
    const status = (err as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status < 500) return;
    reply.hijack();
    fail(request.raw, reply.raw, err);
    // Never settles: the answer is written, and Fastify's default handler must not run.
    return new Promise<void>(() => {});
  });
  await app.ready();
  return { shape: 'fastify', handle: (req, res) => app.routing(req, res) };
}
