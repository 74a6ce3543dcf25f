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
import { IncomingMessage } from 'node:http';

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
export class KeelIncomingMessage extends IncomingMessage {
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
export function lifecycleSkipped(req: IncomingMessage): boolean {
  return req instanceof KeelIncomingMessage && req[kSkipped];
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
