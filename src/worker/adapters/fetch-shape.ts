/**
 * What a Fetch-API app looks like, apart from its adapter: the adapter loads @hono/node-server, which
 * only a Fetch-API app needs, so detection must not import it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type FetchHandler = (request: Request, env: { incoming: IncomingMessage; outgoing: ServerResponse }) => unknown;

export function isFetchApp(app: unknown): app is { fetch: FetchHandler } {
  return typeof app === 'object' && app !== null && typeof (app as { fetch?: unknown }).fetch === 'function';
}
