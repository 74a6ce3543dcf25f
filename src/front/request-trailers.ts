/**
 * Trailer fields that would change how a request is framed, routed or carried (RFC 9110 §6.5.1):
 * Gunicorn refuses them with 400, and a proxy or framework that merges trailers into the head would
 * let a client slip a second Host past every check made on the first. Node's HTTP/1 parser refuses
 * Content-Length and Transfer-Encoding trailers itself, and nghttp2 the connection-specific fields
 * over HTTP/2; keel refuses the rest of the list HAProxy keeps out of trailers, over both.
 */
import type { IncomingMessage } from 'node:http';
import { constants, type Http2ServerRequest, type ServerHttp2Stream } from 'node:http2';
import { neutralizeResponse, sendErrorPage } from './error-page.js';

const FORBIDDEN = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/** Whether an HTTP/1 trailer section ([name, value, …] as the parser gives it) holds a forbidden field. */
export function hasForbiddenTrailer(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (FORBIDDEN.has(fields[i].toLowerCase())) return true;
  return false;
}

function swallow(): boolean {
  return false;
}

/**
 * Answers 400 and closes the connection, or over HTTP/2 the stream (a response already under way
 * is cut instead). The end of the body never reaches the app, as with a body cut at --max-body: a
 * clean 'end' would hand it a body whose framing was tampered with as if it were whole.
 */
export function refuseTrailers(req: IncomingMessage, stream?: ServerHttp2Stream): void {
  req.push = swallow;
  const ctx = req.keel;
  const cut = (): void => {
    if (stream) stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
    else req.socket.destroy();
  };
  if (!ctx) return cut();
  ctx.event = 'refused';
  if (ctx.res.headersSent) return cut();
  sendErrorPage(req, ctx.res, 400, ctx.id, true);
  neutralizeResponse(ctx.res);
}

/** HTTP/2 trailers come as the stream's 'trailers' event (field names in lower case), just before its end. */
function onH2Trailers(this: ServerHttp2Stream & { [kRequestOf]?: IncomingMessage }, fields: Record<string, unknown>): void {
  for (const name in fields) {
    if (FORBIDDEN.has(name)) {
      refuseTrailers(this[kRequestOf]!, this);
      return;
    }
  }
}

const kRequestOf = Symbol('keel.trailerRequest');

/** For an HTTP/2 request that has a body: refuse it if its trailers hold a forbidden field. */
export function watchH2Trailers(req: Http2ServerRequest): void {
  const stream = req.stream as ServerHttp2Stream & { [kRequestOf]?: IncomingMessage };
  stream[kRequestOf] = req as unknown as IncomingMessage;
  stream.once('trailers', onH2Trailers);
}
