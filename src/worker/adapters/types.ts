import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the error boundary offers adapters: report an app failure for this request. */
export type FailRequest = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/** An app turned into a Node request listener keel can call. */
export interface AdaptedApp {
  readonly shape: 'listener' | 'express' | 'koa' | 'fastify' | 'fetch' | 'static' | 'proxy' | 'redirect' | 'load-error';
  /** May throw or return a rejected promise; the error boundary handles both. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => unknown;
}

export class BrokenReturnError extends Error {
  override name = 'BrokenReturnError';
}
