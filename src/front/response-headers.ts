/**
 * The response class keel's servers use. It drops headers that advertise the stack (X-Powered-By,
 * Server) however the app sets them, and adds X-Request-Id as the head is written. Adding the ID
 * there, not with setHeader up front, keeps Node's fast path for apps that pass all their headers
 * to writeHead. It also calls keel's close hook (the access-log stage) when the response closes,
 * however it ended. A subclass, so there is no per-request wrapping and no per-request listener.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { http } from '../node-http.js';
import { Http2ServerResponse, sensitiveHeaders, type ServerHttp2Stream } from 'node:http2';
import { symbolByDescription } from '../private-symbol.js';
import { isEventStream } from './event-stream.js';

function hidden(name: string): boolean {
  // Length first: most names are neither, and need no lower-casing.
  return (name.length === 12 || name.length === 6) && (name.toLowerCase() === 'x-powered-by' || name.toLowerCase() === 'server');
}

/** Copies the app's headers into `into`, without the hidden ones; `into` may already hold keel's. */
function copyShown(given: OutgoingHttpHeaders, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  for (const name in given) if (!hidden(name)) into[name] = given[name];
  return into;
}

/** What both response classes carry; set by the pipeline, defaults on the prototypes. */
interface KeelFields {
  requestId: string;
  hsts: string;
  onClose: ((this: never) => void) | null;
  hasHeader(name: string): boolean;
  setHeader(name: string, value: string): unknown;
}

/** keel's own headers, through setHeader, unless the app set them: for heads not passed whole to writeHead. */
function setKeelHeaders(res: KeelFields): void {
  if (res.requestId && !res.hasHeader('x-request-id')) res.setHeader('x-request-id', res.requestId);
  if (res.hsts && !res.hasHeader('strict-transport-security')) res.setHeader('strict-transport-security', res.hsts);
}

/**
 * Calls the close hook once, as 'close' is emitted: it comes once per response, however it ends
 * (answered, aborted, destroyed). An emit override costs one comparison per event, where
 * res.on('close') cost ~0.5 µs a request.
 */
function runCloseHook(res: KeelFields, event: string | symbol): void {
  if (event !== 'close' || res.onClose === null) return;
  const onClose = res.onClose as (this: KeelFields) => void;
  res.onClose = null;
  onClose.call(res);
}

export class KeelResponse<Request extends IncomingMessage = IncomingMessage> extends http.ServerResponse<Request> {
  // The fields' defaults live on the prototype (below the class): class-field initialisers run in
  // the constructor of every response and measured ~0.3 µs a request.
  /** Set by the pipeline; sent as X-Request-Id. */
  declare requestId: string;
  /** Set by the pipeline; called once, when the response closes. */
  declare onClose: ((this: KeelResponse) => void) | null;
  /** Set by the pipeline on HTTPS requests to public names: the Strict-Transport-Security value. */
  declare hsts: string;
  /** Whether anything went through setHeader, i.e. whether Node will take its slow path anyway. */
  declare private headersTouched: boolean;

  override emit(event: string | symbol, ...args: any[]): boolean {
    runCloseHook(this, event);
    return super.emit(event, ...args);
  }

  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (hidden(name)) return this;
    this.headersTouched = true;
    return super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    if (hidden(name)) return this;
    this.headersTouched = true;
    return super.appendHeader(name, value);
  }

  override writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    const hasReason = typeof reasonOrHeaders === 'string';
    const given = hasReason ? headers : reasonOrHeaders;
    if (this.headersTouched || given === undefined || given === null || Array.isArray(given)) {
      setKeelHeaders(this);
      // Node passes each header of `given` through setHeader above, which drops the hidden ones.
      return hasReason ? super.writeHead(statusCode, reasonOrHeaders, headers) : super.writeHead(statusCode, given ?? undefined);
    }
    // Node's fast path: every header arrives here at once. Copy, so the app's object is not changed.
    const own: OutgoingHttpHeaders = this.requestId ? { 'x-request-id': this.requestId } : {};
    if (this.hsts) own['strict-transport-security'] = this.hsts;
    const all = copyShown(given as OutgoingHttpHeaders, own);
    return hasReason ? super.writeHead(statusCode, reasonOrHeaders, all) : super.writeHead(statusCode, all);
  }
}

KeelResponse.prototype.requestId = '';
KeelResponse.prototype.onClose = null;
(KeelResponse.prototype as unknown as { headersTouched: boolean }).headersTouched = false;
KeelResponse.prototype.hsts = '';

/**
 * HTTP/2 compresses headers against a table both ends keep (HPACK), 4 KiB by default. An
 * X-Request-Id is new on every response, so indexing it only pushes out what repeats
 * (content-type, date), which then go out in full again and are re-indexed: measured at 10-15 % of
 * a small response's throughput, on the server and the client alike. Sent as never-indexed, the
 * table keeps what repeats. The compatibility API offers no way to say so; its headers object,
 * behind a private symbol (found once, by description), reaches stream.respond as it is, and
 * respond honours http2.sensitiveHeaders on it. If a Node release renames it, the ID is indexed.
 */
const NEVER_INDEXED = ['x-request-id'];
let compatHeaders: symbol | null | undefined;

function neverIndexRequestId(res: Http2ServerResponse): void {
  const headers = compatHeadersOf(res);
  if (headers !== null && headers['x-request-id'] !== undefined) headers[sensitiveHeaders] = NEVER_INDEXED;
}

function compatHeadersOf(res: Http2ServerResponse): Record<string | symbol, unknown> | null {
  compatHeaders ??= symbolByDescription(res, 'headers');
  if (compatHeaders === null) return null;
  const headers = (res as unknown as Record<symbol, Record<string | symbol, unknown> | undefined>)[compatHeaders];
  return typeof headers === 'object' && headers !== null ? headers : null;
}

/**
 * The compatibility API starts every response with `waitForTrailers`, whether or not the app ever
 * adds a trailer: after the body the stream waits for 'wantTrailers', the API sends empty trailers
 * from a setImmediate, and the stream ends with an extra empty DATA frame. A bare node:http2
 * server served 1.15x the requests without that round (alternating h2load runs); keel with it
 * gone served 1.18x (see docs/benchmarks.md). When the response starts in the call that ends it
 * (`res.end(body)`, or `writeHead` then `end(body)`, whose head keel holds: see writeHead) and the
 * app has set no trailer, none can follow, as over HTTP/1.1, where trailers go out at end(); keel
 * then starts the response the way the API does, but without waiting for trailers, so the body's
 * last DATA frame ends the stream. Streamed responses, and any with a trailer, keep the API's own
 * path. The method is behind a private symbol, found once, by description; under another name (a
 * future Node) every response keeps the API's path.
 */
type BeginSend = (this: Http2ServerResponse) => void;
const kBeginSend = symbolByDescription(Http2ServerResponse.prototype, 'begin-send', (value) => typeof value === 'function');
const beginSend = kBeginSend === null ? null : (Http2ServerResponse.prototype as unknown as Record<symbol, BeginSend>)[kBeginSend]!;

function beginSendWithoutTrailers(this: KeelH2Response): void {
  const headers = this.endingNow && !this.hasTrailers ? compatHeadersOf(this) : null;
  if (headers === null) {
    beginSend!.call(this);
    return;
  }
  headers[':status'] = this.statusCode;
  this.stream.respond(headers as OutgoingHttpHeaders, { endStream: this.writableEnded, waitForTrailers: false, sendDate: this.sendDate } as Parameters<ServerHttp2Stream['respond']>[1]);
}

/**
 * The same for HTTP/2 (Node's compatibility API), which also counts the body bytes it sends: an
 * HTTP/2 stream has no per-response byte count of its own for the access log.
 */
export class KeelH2Response extends Http2ServerResponse {
  declare requestId: string;
  declare onClose: ((this: KeelH2Response) => void) | null;
  declare hsts: string;
  /** Body bytes the app wrote. */
  declare bodyBytes: number;
  /** end() was called before the head went out: the response starts and ends in that call. */
  declare endingNow: boolean;
  /** The app set a trailer: setTrailer, which addTrailers calls (Node 22 and 24), sets it. */
  declare hasTrailers: boolean;
  /** The app's writeHead is held until the first write or end (see writeHead). */
  declare held: boolean;
  /** Inside write, end or flushHeaders: a writeHead now is the API's own, to send the head. */
  declare sending: boolean;

  override emit(event: string | symbol, ...args: any[]): boolean {
    runCloseHook(this, event);
    return super.emit(event, ...args);
  }

  // The compatibility API's typings differ between Node versions; these pass everything through.
  override setHeader(name: string, value: any): any {
    if (hidden(name)) return this;
    return super.setHeader(name, value);
  }

  override appendHeader(name: string, value: any): any {
    if (hidden(name)) return this;
    return super.appendHeader(name, value);
  }

  /**
   * The compatibility API sends the HEADERS frame from writeHead itself; Node's HTTP/1.1 response
   * holds the head until the first write or end. keel holds it too, for the usual
   * `writeHead(status, { ... })` then `end(body)`, so that end() is the call that starts the
   * response and it can go out without the API's trailer round (see beginSendWithoutTrailers).
   * headersSent is true from writeHead on, as over HTTP/1.1. The API sends the held head from
   * write, end and flushHeaders, by calling writeHead(statusCode) itself (`sending` tells that call
   * from the app's). A second writeHead sends the held head and then fails as it did before. An
   * event stream's head is not held; a reason phrase, array headers or a closed stream take the
   * API's path unchanged.
   */
  override writeHead(statusCode: number, reasonOrHeaders?: any, headers?: any): this {
    if (this.held) {
      this.held = false;
      super.writeHead(this.statusCode);
      // The API's own call for the held head brings only its status: anything else is a second writeHead, which throws as the API's does.
      if (reasonOrHeaders === undefined && statusCode === this.statusCode) return this;
    }
    const given = (typeof reasonOrHeaders === 'string' ? headers : reasonOrHeaders) as OutgoingHttpHeaders | undefined | null;
    const stream = this.stream;
    if (!this.sending && typeof reasonOrHeaders !== 'string' && !Array.isArray(given) && !stream.headersSent && !stream.closed && !stream.destroyed) {
      // The status setter validates as writeHead would (100-599, never 101).
      this.statusCode = statusCode;
      if (given !== undefined && given !== null) for (const name in given) this.setHeader(name, given[name]);
      setKeelHeaders(this);
      neverIndexRequestId(this);
      // An event stream's head is what its client waits for: it goes now (compression.ts does the same).
      if (isEventStream(this.getHeader('content-type'))) return super.writeHead(statusCode);
      this.held = true;
      return this;
    }
    // Http2ServerResponse applies writeHead's headers without going through setHeader.
    setKeelHeaders(this);
    neverIndexRequestId(this);
    return given === undefined || given === null ? super.writeHead(statusCode) : super.writeHead(statusCode, copyShown(given, {}));
  }

  override write(chunk: any, encodingOrCallback?: any, callback?: any): boolean {
    this.bodyBytes += byteLength(chunk, encodingOrCallback);
    // end(chunk) comes through here with `sending` already set.
    if (this.sending) return super.write(chunk, encodingOrCallback, callback);
    this.sending = true;
    try {
      return super.write(chunk, encodingOrCallback, callback);
    } finally {
      this.sending = false;
    }
  }

  // end(chunk) writes its chunk through this.write (Node 22 and 24), which counts it: not counted here.
  override end(chunk?: any, encodingOrCallback?: any, callback?: any): this {
    if (!this.stream.headersSent) this.endingNow = true;
    this.sending = true;
    try {
      return super.end(chunk, encodingOrCallback, callback);
    } finally {
      this.sending = false;
    }
  }
}
// flushHeaders sends a held head (see writeHead); like setTrailer below, it is not in Node's typings.
type FlushHeaders = (this: KeelH2Response) => void;
const flushHeaders = (Http2ServerResponse.prototype as unknown as { flushHeaders: FlushHeaders }).flushHeaders;
(KeelH2Response.prototype as unknown as { flushHeaders: FlushHeaders }).flushHeaders = function () {
  this.sending = true;
  try {
    flushHeaders.call(this);
  } finally {
    this.sending = false;
  }
};
// setTrailer, which addTrailers calls, is not in Node's typings.
type SetTrailer = (this: KeelH2Response, name: string, value: unknown) => void;
const setTrailer = (Http2ServerResponse.prototype as unknown as { setTrailer: SetTrailer }).setTrailer;
(KeelH2Response.prototype as unknown as { setTrailer: SetTrailer }).setTrailer = function (name, value) {
  this.hasTrailers = true;
  setTrailer.call(this, name, value);
};
// headersSent is a getter of the API (a readonly property in Node's typings): true while the head is held.
const apiHeadersSent = Object.getOwnPropertyDescriptor(Http2ServerResponse.prototype, 'headersSent')!.get!;
Object.defineProperty(KeelH2Response.prototype, 'headersSent', {
  configurable: true,
  get(this: KeelH2Response): boolean {
    return this.held || (apiHeadersSent.call(this) as boolean);
  },
});
if (kBeginSend !== null) (KeelH2Response.prototype as unknown as Record<symbol, BeginSend>)[kBeginSend] = beginSendWithoutTrailers as BeginSend;

function byteLength(chunk: string | Uint8Array, encoding: unknown): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : chunk.byteLength;
}

KeelH2Response.prototype.requestId = '';
KeelH2Response.prototype.onClose = null;
KeelH2Response.prototype.hsts = '';
KeelH2Response.prototype.bodyBytes = 0;
KeelH2Response.prototype.endingNow = false;
KeelH2Response.prototype.hasTrailers = false;
KeelH2Response.prototype.held = false;
KeelH2Response.prototype.sending = false;
