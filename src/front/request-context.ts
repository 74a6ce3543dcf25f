/**
 * What keel knows about a request, attached to it as `req.keel` for the app and for the later
 * stages: the request ID, the real client address and scheme (after trusted proxies), timing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestContext {
  /** The request ID, also sent as X-Request-Id and written in every log line about this request. */
  readonly id: string;
  /** The client's address: the peer, or the right-most untrusted address a trusted proxy reported. */
  readonly clientAddress: string;
  /** http or https, as the client used it (from a trusted proxy's X-Forwarded-Proto or Forwarded). */
  readonly scheme: string;
  /** User-Agent and Referer as sent, for the access log. */
  readonly userAgent: string;
  readonly referrer: string;
  /** Epoch milliseconds at arrival. */
  readonly startTime: number;
  /** performance.now() at arrival, for the duration. */
  readonly startMark: number;
  /** socket.bytesWritten at arrival, to count this response's bytes. */
  readonly bytesAtStart: number;
  /** How the request ended, when not by a normal response: timeout, aborted, app-error. */
  event: string;
  /** Slot in the watchdog's shared table, or -1. */
  slot: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by keel on every request: request ID, real client address and scheme. */
    keel?: RequestContext;
  }
}
