/**
 * The response class keel's servers use. It drops headers that advertise the stack (X-Powered-By,
 * Server) however the app sets them, and adds X-Request-Id as the head is written. Adding the ID
 * there, not with setHeader up front, keeps Node's fast path for apps that pass all their headers
 * to writeHead. A subclass, so there is no per-request wrapping.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

function hidden(name: string): boolean {
  // Length first: most names are neither, and need no lower-casing.
  return (name.length === 12 || name.length === 6) && (name.toLowerCase() === 'x-powered-by' || name.toLowerCase() === 'server');
}

export class KeelResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Set by the pipeline; sent as X-Request-Id. */
  requestId = '';
  /** Whether anything went through setHeader, i.e. whether Node will take its slow path anyway. */
  private headersTouched = false;

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
      if (this.requestId && !this.hasHeader('x-request-id')) super.setHeader('x-request-id', this.requestId);
      // Node passes each header of `given` through setHeader above, which drops the hidden ones.
      return hasReason ? super.writeHead(statusCode, reasonOrHeaders, headers) : super.writeHead(statusCode, given ?? undefined);
    }
    // Node's fast path: every header arrives here at once. Copy, so the app's object is not changed.
    const all: OutgoingHttpHeaders = this.requestId ? { 'x-request-id': this.requestId } : {};
    for (const name in given) if (!hidden(name)) all[name] = (given as OutgoingHttpHeaders)[name];
    return hasReason ? super.writeHead(statusCode, reasonOrHeaders, all) : super.writeHead(statusCode, all);
  }
}

