/**
 * An upstream response head (undici's raw list of Buffers) turned into the object keel's response
 * writes in one writeHead call, Node's fast path: names lower-cased, repeated fields (Set-Cookie)
 * as arrays, hop-by-hop headers and whatever Connection names dropped. X-Request-Id is keel's own
 * and comes from the response class; Server and X-Powered-By are dropped there too.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { connectionTokens, isHopByHop } from './hop-by-hop.js';

export function responseHeaders(raw: readonly Buffer[] | readonly string[]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  let named: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toString('latin1').toLowerCase();
    // latin1 both ways: Node writes header strings byte for byte as latin1, so opaque bytes survive.
    const value = raw[i + 1].toString('latin1');
    if (isHopByHop(lower)) {
      if (lower === 'connection') named = connectionTokens(value, named);
      continue;
    }
    if (lower === 'x-request-id' || lower === 'proxy-authenticate') continue;
    const previous = headers[lower];
    if (previous === undefined) headers[lower] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[lower] = [previous as string, value];
  }
  if (named !== null) for (const name of named) delete headers[name];
  return headers;
}

/** The raw head lines of a 101 answer, passed to the client as they came (Upgrade and Connection included: they make the switch). */
export function switchingHead(raw: readonly Buffer[] | readonly string[], requestId: string): string {
  let head = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    if (name.toLowerCase() === 'x-request-id') continue;
    head += `${name}: ${raw[i + 1].toString('latin1')}\r\n`;
  }
  return `${head}x-request-id: ${requestId}\r\n\r\n`;
}
