/**
 * The error boundary: the one place where an app failure becomes a response. The client gets the
 * generic page with the request ID; the error log gets the whole error with the same ID.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './request-context.js';
import type { ErrorLog } from '../observe/error-log.js';
import type { AdaptedApp } from '../worker/adapters/types.js';
import { neutralizeResponse, sendErrorPage } from './error-page.js';

/** Told of every app error the boundary handles (the error inbox of the status page). */
export type AppErrorReporter = (err: unknown, requestId: string | undefined) => void;

export function createErrorBoundary(log: ErrorLog, reportError: AppErrorReporter = () => {}) {
  const requestStore = new AsyncLocalStorage<RequestContext>();

  /** Reports an app failure on this request: logs it and answers 500, or cuts the response if it had started. */
  function failRequest(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const ctx = req.keel;
    if (ctx) ctx.event = ctx.event || 'app-error';
    log.error({ err, requestId: ctx?.id, method: req.method, url: req.url }, 'app error while handling a request');
    reportError(err, ctx?.id);
    if (res.writableEnded && !res.headersSent) return;
    if (res.headersSent) {
      // A half-sent success must not look complete to the client.
      res.destroy();
      return;
    }
    sendErrorPage(req, res, 500, ctx?.id ?? '-');
    neutralizeResponse(res);
  }

  function invokeApp(app: AdaptedApp, req: IncomingMessage, res: ServerResponse): void {
    try {
      const result = app.handle(req, res) as Promise<unknown> | undefined;
      if (result && typeof result.then === 'function') result.then(undefined, (err: unknown) => failRequest(req, res, err));
    } catch (err) {
      failRequest(req, res, err);
    }
  }

  /** Calls the app with the request's context following its async work, so an uncaught error can name its request. */
  function callApp(app: AdaptedApp, req: IncomingMessage, res: ServerResponse): void {
    requestStore.run(req.keel!, invokeApp, app, req, res);
  }

  return { failRequest, callApp, currentRequest: () => requestStore.getStore() };
}

export type ErrorBoundary = ReturnType<typeof createErrorBoundary>;
