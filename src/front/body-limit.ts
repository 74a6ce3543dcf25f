/**
 * --max-body: a declared Content-Length over the limit gets 413 before any of the body is read; a
 * chunked body is counted as the parser delivers it and cut off with 413 once it passes the limit.
 * Either way the connection closes after the 413, with a linger (lingering-close.ts), so the rest is
 * never read whole and the client still gets the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { ResolvedConfig } from '../config/resolve.js';
import { neutralizeResponse, sendErrorPage } from './error-page.js';
import type { RequestHead } from './request-head.js';

const kReceived = Symbol('keel.bodyReceived');
const kLimit = Symbol('keel.bodyLimit');

function refuse(req: IncomingMessage, res: ServerResponse): void {
  req.keel!.event = 'body-too-large';
  // HTTP/2: the connection carries other requests; only this stream is cut, once the 413 is out.
  const stream = (req as IncomingMessage & { stream?: ServerHttp2Stream }).stream;
  if (stream) {
    if (!res.headersSent) {
      sendErrorPage(req, res, 413, req.keel!.id);
      neutralizeResponse(res);
    }
    setImmediate(() => stream.close(constants.NGHTTP2_CANCEL));
    return;
  }
  // The 413 says Connection: close, so Node closes the connection after it, lingering.
  if (!res.headersSent) {
    sendErrorPage(req, res, 413, req.keel!.id, true);
    neutralizeResponse(res);
  } else req.socket.destroy();
}

/**
 * Counting chunked bodies needs to see each chunk before the app does without consuming the
 * stream for it: the parser hands chunks to req.push, so this request's push is wrapped.
 */
function countingPush(this: IncomingMessage & { [kReceived]: number; [kLimit]: number }, chunk: Buffer | null, encoding?: BufferEncoding): boolean {
  // Once refused, nothing more reaches the app, not even the end of the body: a clean 'end' after a
  // cut would hand the app a truncated body as if it were whole.
  if (this.keel?.event === 'body-too-large') return false;
  if (chunk !== null) {
    this[kReceived] += chunk.length;
    if (this[kReceived] > this[kLimit]) {
      if (this.keel) refuse(this, this.keel.res);
      return false;
    }
  }
  return Object.getPrototypeOf(this).push.call(this, chunk, encoding);
}

export function createBodyLimit(config: ResolvedConfig) {
  const limit = config.maxBody;
  /** Returns true when the request was refused. */
  return function checkBodyLimit(req: IncomingMessage, res: ServerResponse, head: RequestHead): boolean {
    if (limit === 0) return false;
    const length = head.contentLength;
    if (length !== undefined) {
      if (Number(length) > limit) {
        refuse(req, res);
        return true;
      }
      return false;
    }
    if (head.transferEncoding !== undefined) {
      const counted = req as IncomingMessage & { [kReceived]: number; [kLimit]: number };
      counted[kReceived] = 0;
      counted[kLimit] = limit;
      counted.push = countingPush as IncomingMessage['push'];
    }
    return false;
  };
}
