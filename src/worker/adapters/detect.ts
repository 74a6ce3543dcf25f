/**
 * App-shape detection: turns whatever the APP export is into a request listener keel can call.
 *
 * @example
 *   const adapted = await adaptApp(expressApp, fail); // adapted.shape === 'express'
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { keelError } from '../../errors.js';
import { adaptFastify, isFastify } from './fastify.js';
import { isFetchApp } from './fetch-shape.js';
import { adaptKoa, isKoa } from './koa.js';
import { adaptExpress, adaptListener, isExpressLike } from './listener.js';
import type { AdaptedApp, FailRequest } from './types.js';

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return `a function with ${value.length} parameters`;
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).slice(0, 5).join(', ') || '(none)'}`;
  return `a ${typeof value}`;
}

export async function adaptApp(app: unknown, fail: FailRequest): Promise<AdaptedApp> {
  if (isFastify(app)) return adaptFastify(app, fail);
  if (isKoa(app)) return adaptKoa(app, fail);
  if (isExpressLike(app)) return adaptExpress(app, fail);
  // Loaded on demand: its @hono/node-server (and the web Request/Response it pulls in) costs
  // ~80 ms of start-up that every other worker would pay for nothing.
  if (isFetchApp(app)) return (await import('./fetch.js')).adaptFetch(app, fail);
  if (typeof app === 'function' && app.length >= 2) return adaptListener(app as (req: IncomingMessage, res: ServerResponse) => unknown);
  if (typeof app === 'function' && app.length <= 1) {
    throw keelError('KEEL_ERR_APP_SHAPE', { what: `${describeValue(app)} (if it is a factory, write APP as file:${app.name || 'create'}())` });
  }
  throw keelError('KEEL_ERR_APP_SHAPE', { what: describeValue(app) });
}
