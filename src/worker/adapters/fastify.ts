/**
 * Fastify instances: routed through fastify.routing, after ready(). Fastify's default error
 * handler puts the error message in 500 answers, so unless the app set its own handler, keel's
 * boundary answers 5xx failures; 4xx (validation, not found) keep Fastify's answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { keelError } from '../../errors.js';
import { symbolByDescription } from '../../private-symbol.js';
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

/** Fastify's answer for a 5xx would show the error's message: keel's boundary answers those instead. */
function isServerError(err: unknown): boolean {
  const status = (err as { statusCode?: number } | null)?.statusCode;
  return !(typeof status === 'number' && status < 500);
}

export async function adaptFastify(app: FastifyLike, fail: FailRequest): Promise<AdaptedApp> {
  // Not setErrorHandler: a route keeps the error handler in effect when it was bound, and a
  // factory's result has been awaited, which boots a (thenable) Fastify instance, so a new handler
  // would miss every route. onError hooks run before the error handler, for every route; where the
  // route's instance has its own error handler, that handler decides.
  try {
    app.addHook('onError', async function keelErrorBoundary(request, reply, err) {
      if (request.server.errorHandler?.name !== 'defaultErrorHandler') return;
      if (!isServerError(err)) return;
      reply.hijack();
      fail(request.raw, reply.raw, err);
      // Never settles: the answer is written, and Fastify's default handler must not run.
      return new Promise<void>(() => {});
    });
  } catch (err) {
    // A factory that awaited ready() itself returns a booted instance, which takes no more hooks
    // (Fastify says so with one code or the other, depending on what the app had registered).
    const code = (err as { code?: string }).code;
    if (code !== 'AVV_ERR_ROOT_PLG_BOOTED' && code !== 'FST_ERR_INSTANCE_ALREADY_LISTENING') throw err;
    wrapDefaultErrorHandler(app, fail);
  }
  await app.ready();
  return { shape: 'fastify', handle: (req, res) => app.routing(req, res) };
}

interface ErrorHandlerRecord {
  func?: (err: unknown, request: FastifyRequest, reply: FastifyReply) => unknown;
}

/**
 * For a booted instance: each route holds the error-handler record that was in effect when it was
 * declared, and an app that set none shares Fastify's root record. Its function is swapped for one
 * that sends 5xx failures to keel's boundary and the rest to Fastify's default, so every route
 * without a handler of its own is covered, and one whose handler fails falls through to it too.
 * The record is found by its symbol's description, as Fastify offers no public way after boot;
 * without it keel refuses to serve the instance rather than let Fastify's 500s show error messages.
 */
function wrapDefaultErrorHandler(app: FastifyLike, fail: FailRequest): void {
  const symbol = symbolByDescription(app, 'fastify.errorHandler');
  const record = symbol ? ((app as unknown as Record<symbol, ErrorHandlerRecord | undefined>)[symbol] ?? null) : null;
  const original = record?.func;
  if (!record || typeof original !== 'function') {
    throw keelError('KEEL_ERR_APP_SHAPE', {
      what: 'a Fastify instance whose ready() was already awaited, and whose error handler keel cannot reach (return it from the factory before calling ready())',
    });
  }
  // An app with its own root handler keeps it, as on the hook path.
  if (original.name !== 'defaultErrorHandler') return;
  record.func = function keelErrorBoundary(err, request, reply) {
    if (!isServerError(err)) return original(err, request, reply);
    reply.hijack();
    fail(request.raw, reply.raw, err);
    return undefined;
  };
}
