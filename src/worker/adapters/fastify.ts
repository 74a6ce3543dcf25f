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
  errorHandler?: { name?: string };
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
  const current = app.errorHandler?.name;
  if (!current || current === 'defaultErrorHandler') {
    app.setErrorHandler(function keelErrorBoundary(err, request, reply) {
      const status = (err as { statusCode?: number }).statusCode;
      if (typeof status === 'number' && status < 500) return reply.send(err);
      reply.hijack();
      fail(request.raw, reply.raw, err);
    });
  }
  await app.ready();
  return { shape: 'fastify', handle: (req, res) => app.routing(req, res) };
}
