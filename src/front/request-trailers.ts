/**
 * Trailer fields that would change how a request is framed, routed or carried (RFC 9110 §6.5.1):
 * Gunicorn refuses them with 400, and a proxy or framework that merges trailers into the head would
 * let a client slip a second Host past every check made on the first. Node's parser refuses
 * Content-Length and Transfer-Encoding trailers itself; keel refuses the rest of the list HAProxy
 * keeps out of trailers.
 */
import type { IncomingMessage } from 'node:http';
import { neutralizeResponse, sendErrorPage } from './error-page.js';

const FORBIDDEN = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/** Whether a trailer section ([name, value, …] as the parser gives it) holds a forbidden field. */
export function hasForbiddenTrailer(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (FORBIDDEN.has(fields[i].toLowerCase())) return true;
  return false;
}

function swallow(): boolean {
  return false;
}

/**
 * Answers 400 and closes the connection (a response already under way is cut instead). The end of
 * the body never reaches the app, as with a body cut at --max-body: a clean 'end' would hand it a
 * body whose framing was tampered with as if it were whole.
 */
export function refuseTrailers(req: IncomingMessage): void {
  req.push = swallow;
  const ctx = req.keel;
  if (!ctx) {
    req.socket.destroy();
    return;
  }
  ctx.event = 'refused';
  if (ctx.res.headersSent) {
    req.socket.destroy();
    return;
  }
  sendErrorPage(req, ctx.res, 400, ctx.id, true);
  neutralizeResponse(ctx.res);
}
