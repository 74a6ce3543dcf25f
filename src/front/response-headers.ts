/**
 * The response class keel's servers use. It drops headers that advertise the stack (X-Powered-By,
 * Server) however the app sets them, and adds X-Request-Id as the head is written. Adding the ID
 * there, not with setHeader up front, keeps Node's fast path for apps that pass all their headers
 * to writeHead. It also calls keel's close hook (the access-log stage) when the response closes,
 * however it ended. A subclass, so there is no per-request wrapping and no per-request listener.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

function hidden(name: string): boolean {
  // Length first: most names are neither, and need no lower-casing.
  return (name.length === 12 || name.length === 6) && (name.toLowerCase() === 'x-powered-by' || name.toLowerCase() === 'server');
}

export class KeelResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  // The fields' defaults live on the prototype (below the class): class-field initialisers run in
  // the constructor of every response and measured ~0.3 µs a request.
  /** Set by the pipeline; sent as X-Request-Id. */
  declare requestId: string;
  /** Set by the pipeline; called once, when the response closes. */
  declare onClose: ((this: KeelResponse) => void) | null;
  /** Whether anything went through setHeader, i.e. whether Node will take its slow path anyway. */
  declare private headersTouched: boolean;

  // 'close' comes once per response, however it ends (answered, aborted, destroyed); an override
  // here costs one comparison per event, where res.on('close') cost ~0.5 µs a request.
  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === 'close' && this.onClose !== null) {
      const onClose = this.onClose;
      this.onClose = null;
      onClose.call(this);
    }
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

KeelResponse.prototype.requestId = '';
KeelResponse.prototype.onClose = null;
(KeelResponse.prototype as unknown as { headersTouched: boolean }).headersTouched = false;
