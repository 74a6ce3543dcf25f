/**
 * A request without a body (no Content-Length, no Transfer-Encoding: nearly every GET) skips the
 * end-of-body stream lifecycle Node runs for it after the response: `_dump`, a resume, a flow, the
 * 'end' and 'close' events, and the process.nextTick hops between them. No app that ignores the
 * body can tell, and that lifecycle is a large share of what a small response costs Node.
 *
 * Node's own `optimizeEmptyRequests` server option (24.12+) does the same, but for good: such a
 * request never emits 'end' or 'close' and is `destroyed` from the start, so an app that waits for
 * `req.on('end')`, or cleans up a server-sent-events stream on `req.on('close')`, waits forever;
 * it also builds `req.headers`, which keel otherwise never does. Here the lifecycle comes back the
 * moment anything listens for a body event, so every app sees exactly Node's usual events. It
 * leans on IncomingMessage's long-standing internals (`_dumped`, `_dump`, the readable state's
 * `ended`) because Node offers no public way to do this; test/e2e/bodyless-request.test.js holds
 * each event to Node's behaviour.
 */
import type { IncomingMessage } from 'node:http';
import { http } from '../node-http.js';
import { Http2ServerRequest } from 'node:http2';
import { symbolByDescription } from '../private-symbol.js';
import { hasForbiddenTrailer, refuseTrailers } from './request-trailers.js';

const kSkipped = Symbol('keel.bodyLifecycleSkipped');
/** Set at Node's end-of-response step: the moment Node would have dumped the body has passed. */
const kAnswered = Symbol('keel.bodylessAnswered');

/** The body events: listening for any of them gives the request Node's full lifecycle back. */
const BODY_EVENTS = new Set<string | symbol>(['data', 'end', 'readable', 'close']);

interface Internals {
  socket: { parser?: { incoming: unknown } | null } | null;
  _dumped: boolean;
  _dump(): void;
  _readableState: { ended: boolean };
  keel?: { res: { writableFinished: boolean } };
}

type Listener = (...args: any[]) => void;

/** The HTTP/1 request class of every keel server (the `IncomingMessage` server option). */
export class KeelIncomingMessage extends http.IncomingMessage {
  declare [kSkipped]: boolean;
  declare [kAnswered]: boolean;

  override on(event: string | symbol, listener: Listener): this {
    if (this[kSkipped] && BODY_EVENTS.has(event)) {
      // Node's own end-of-response step (clearIncoming in _http_server.js) waits for 'end' only to
      // let the connection's parser drop the request; a complete bodyless request can be dropped
      // now. Under any other name (a future Node) the lifecycle comes back: slower, never wrong.
      if (event === 'end' && listener.name === 'clearIncoming') {
        this[kAnswered] = true;
        if (this.complete) {
          releaseFromParser(this);
          return this;
        }
      }
      restoreLifecycle(this);
    }
    return super.on(event, listener);
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  override prependListener(event: string | symbol, listener: Listener): this {
    if (this[kSkipped] && BODY_EVENTS.has(event)) restoreLifecycle(this);
    return super.prependListener(event, listener);
  }
}
// On the prototype, so each request is built with the same shape and pays nothing to carry it.
KeelIncomingMessage.prototype[kSkipped] = false;
KeelIncomingMessage.prototype[kAnswered] = false;

// The parser hands the head's fields, and then any trailer's, to _addHeaderLines (a trailer once
// `complete` is set, just before the end of the body): the one place to refuse a trailer before
// the app sees the body end. Not in Node's typings, hence the prototype assignment.
type AddHeaderLines = (this: IncomingMessage, fields: string[], count: number) => void;
const addHeaderLines = (http.IncomingMessage.prototype as unknown as { _addHeaderLines: AddHeaderLines })._addHeaderLines;
(KeelIncomingMessage.prototype as unknown as { _addHeaderLines: AddHeaderLines })._addHeaderLines = function (fields, count) {
  if (this.complete && hasForbiddenTrailer(fields)) refuseTrailers(this);
  else addHeaderLines.call(this, fields, count);
};

/**
 * Called before the app for an HTTP/1 request the head says has no body. `ended` now, rather than
 * when the parser reaches the end of the message, spares the 'readable' tick that push(null) would
 * schedule; `_dumped` tells Node's end-of-response step that the body is already dealt with.
 */
export function skipBodyLifecycle(req: IncomingMessage): void {
  if (!(req instanceof KeelIncomingMessage)) return;
  const internals = req as unknown as Internals;
  internals._dumped = true;
  internals._readableState.ended = true;
  req[kSkipped] = true;
}

/** Whether a request is still on the fast path (for the unit test that watches Node's internals). */
export function lifecycleSkipped(req: IncomingMessage | Http2ServerRequest): boolean {
  return (req instanceof KeelIncomingMessage || req instanceof KeelH2Request) && req[kSkipped];
}

function releaseFromParser(req: KeelIncomingMessage): void {
  const parser = (req as unknown as Internals).socket?.parser;
  if (parser && parser.incoming === req) parser.incoming = null;
}

function restoreLifecycle(req: KeelIncomingMessage): void {
  req[kSkipped] = false;
  const internals = req as unknown as Internals;
  internals._dumped = false;
  // Still inside the parser's call: it has yet to push the end of the (empty) body, and will.
  if (!req.complete) internals._readableState.ended = false;
  // Node dumps an unread body when the response finishes; if that moment has passed, do it now.
  else if (req[kAnswered] || internals.keel?.res.writableFinished) internals._dump();
}

/**
 * The same for HTTP/2 (Node's compatibility API). A stream whose headers ended it has no body; at
 * its close the API would resume the request to emit 'end', a few ticks per request. Its
 * `didRead` flag, in state behind a private symbol (found once, by description), says the body
 * is taken care of. 'close' needs nothing: the API emits it on every request itself.
 */
const H2_BODY_EVENTS = new Set<string | symbol>(['data', 'end', 'readable']);
let compatState: symbol | null | undefined;

interface H2Internals {
  _readableState: { ended: boolean };
}

type H2State = { didRead: boolean; closed: boolean };

export class KeelH2Request extends Http2ServerRequest {
  declare [kSkipped]: boolean;

  override on(event: string | symbol, listener: Listener): this {
    if (this[kSkipped] && H2_BODY_EVENTS.has(event)) restoreH2Lifecycle(this);
    return super.on(event, listener);
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  override prependListener(event: string | symbol, listener: Listener): this {
    if (this[kSkipped] && H2_BODY_EVENTS.has(event)) restoreH2Lifecycle(this);
    return super.prependListener(event, listener);
  }
}
KeelH2Request.prototype[kSkipped] = false;

/** The API's state of a request; its symbol is found and checked on the first request, not on each. */
function stateOf(req: KeelH2Request): H2State | null {
  const fields = req as unknown as Record<symbol, H2State | undefined>;
  compatState ??= symbolByDescription(req, 'state', (value) => typeof value === 'object' && value !== null && 'didRead' in value);
  return compatState === null ? null : fields[compatState]!;
}

/** Called before the app for an HTTP/2 request whose stream ended with its headers. */
export function skipH2BodyLifecycle(req: Http2ServerRequest): void {
  if (!(req instanceof KeelH2Request)) return;
  const state = stateOf(req);
  if (state === null || state.didRead) return;
  state.didRead = true;
  (req as unknown as H2Internals)._readableState.ended = true;
  req[kSkipped] = true;
}

function restoreH2Lifecycle(req: KeelH2Request): void {
  req[kSkipped] = false;
  const state = stateOf(req);
  if (state === null) return;
  state.didRead = false;
  // The API resumes an unread request when its stream closes; if that has happened, do it now.
  if (state.closed) req.resume();
}
