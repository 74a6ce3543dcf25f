/**
 * The response class keel's servers use: drops headers that advertise the stack (X-Powered-By,
 * Server) however the app sets them. A subclass, so there is no per-request wrapping.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

const HIDDEN = new Set(['x-powered-by', 'server']);

export class KeelResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (HIDDEN.has(name.toLowerCase())) return this;
    return super.setHeader(name, value);
  }

  override writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    const list = typeof reasonOrHeaders === 'string' ? headers : reasonOrHeaders;
    if (list && !Array.isArray(list)) {
      for (const name of Object.keys(list)) if (HIDDEN.has(name.toLowerCase())) delete list[name];
    }
    return super.writeHead(statusCode, reasonOrHeaders as string, headers as OutgoingHttpHeaders);
  }
}
