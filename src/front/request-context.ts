/**
 * What keel knows about a request, attached to it as `req.keel` for the app and for the later
 * stages: the request ID, the real client address and scheme (after trusted proxies), timing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessRecord } from '../observe/access-log-format.js';
import type { Linked } from '../worker/inflight.js';

/** Also the access-log record of the request: the line is formatted from it, with no copy. */
export interface RequestContext extends AccessRecord, Linked {
  /** The request ID, also sent as X-Request-Id and written in every log line about this request. */
  readonly id: string;
  /** The client's address: the peer, or the right-most untrusted address a trusted proxy reported. */
  readonly clientAddress: string;
  /** Set from the request at arrival; the URL and the two header copies may be redacted before logging. */
  readonly method: string;
  url: string;
  readonly httpVersion: string;
  /** Filled in when the response closes. */
  status: number;
  bytes: number;
  durationMs: number;
  /** http or https, as the client used it (from a trusted proxy's X-Forwarded-Proto or Forwarded). */
  readonly scheme: string;
  /** User-Agent and Referer as sent, for the access log. */
  userAgent: string;
  referrer: string;
  /** Epoch milliseconds at arrival. */
  readonly startTime: number;
  /** performance.now() at arrival, for the duration. */
  readonly startMark: number;
  /** socket.bytesWritten at arrival, to count this response's bytes. */
  readonly bytesAtStart: number;
  /** How the request ended, when not by a normal response: timeout, aborted, app-error. */
  event: string;
  /** The route label id for metrics (see observe/metric-names.ts routeLabels): set once the router has chosen. */
  routeId: number;
  /** Which answer the response cache gave (0: none, else CACHE_HIT, CACHE_MISS, CACHE_STALE or CACHE_REVALIDATED), for metrics. */
  cacheResult: number;
  /** The request body's declared length (Content-Length), 0 without one. */
  readonly requestBytes: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by keel on every request: request ID, real client address and scheme. */
    keel?: RequestContext;
  }
}
