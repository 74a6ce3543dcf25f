/**
 * The head keel sends upstream, built in one pass over the client's raw header list: hop-by-hop
 * headers dropped (and whatever Connection names), the client's own forwarding headers replaced by
 * keel's (X-Forwarded-For/-Proto/-Host, RFC 7239 Forwarded, X-Request-Id), Host passed through as
 * the client sent it (Caddy's choice; Nginx would send the upstream's own address), HTTP/2
 * pseudo-headers turned into their HTTP/1.1 form. The same pass refuses ambiguous framing, the
 * stuff request smuggling is made of: such a request is never forwarded.
 */
import { connectionTokens, isHopByHop } from './hop-by-hop.js';

/** What the scan found out about the request, filled into a caller's object (the exchange) to spare an allocation. */
export interface ForwardHead {
  /** Flat [name, value, name, value…], as undici takes them. */
  headers: string[];
  /** The request carries a body to stream upstream. */
  hasBody: boolean;
  /** The forwarded head carries the client's Content-Length (a chunked or HTTP/2 body has none). */
  lengthKnown: boolean;
  /** The Upgrade header's value when the client asked for one (WebSocket), else ''. */
  upgrade: string;
  /** Host as the client sent it (or HTTP/2's :authority). */
  host: string | undefined;
  /** The client sent forwarding headers: the client keel resolved may differ from the peer. */
  forwarding: boolean;
  /** The value of the header a hash-header:NAME route balances on, when the request has it. */
  hashKey: string | undefined;
}

/** Why a request was refused: 0 when it may be forwarded. */
export const FRAMING_OK = 0;
export const FRAMING_BAD = 400;

/** The parts of the request context the head needs. */
export interface ForwardContext {
  readonly id: string;
  readonly clientAddress: string;
  readonly scheme: string;
}

/** RFC 7239 node: IPv6 in brackets and quotes, `unknown` for what is no address (a unix socket peer). */
export function forwardedNode(address: string): string {
  if (address.includes(':')) return `"[${address}]"`;
  if (address === '' || address === 'unix') return 'unknown';
  return address;
}

/** A quoted-string for Forwarded's host= (a host with a port is no token). */
function quoted(value: string): string {
  return value.includes('"') || value.includes('\\') ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/**
 * The Forwarded value keel sends: the client as keel resolved it, with the Host and scheme the
 * client used; when a trusted proxy brought the request, that proxy's hop follows.
 *
 * @example forwardedValue('203.0.113.9', 'https', 'example.com', '10.0.0.2') // 'for=203.0.113.9;host="example.com";proto=https, for=10.0.0.2'
 */
export function forwardedValue(client: string, scheme: string, host: string | undefined, peer: string | null): string {
  let value = `for=${forwardedNode(client)}`;
  if (host !== undefined && host !== '') value += `;host=${quoted(host)}`;
  value += `;proto=${scheme}`;
  if (peer !== null && peer !== client) value += `, for=${forwardedNode(peer)}`;
  return value;
}

/**
 * X-Forwarded-For as Nginx's `$proxy_add_x_forwarded_for` builds it: what a trusted peer reported
 * (already reduced to the client keel believed), then the peer. A client that is not trusted
 * cannot put addresses in front of its own.
 *
 * @example forwardedFor('203.0.113.9', '10.0.0.2') // '203.0.113.9, 10.0.0.2'
 */
export function forwardedFor(client: string, peer: string | null): string {
  return peer === null || peer === client ? client : `${client}, ${peer}`;
}

/**
 * Fills `out` with the head to send upstream, forwarding headers not yet added (appendForwarding);
 * returns FRAMING_BAD when the request must not be forwarded.
 */
export function scanRequestHead(raw: readonly string[], version: 'http/1.0' | 'http/1.1' | 'h2', hashHeader: string | null, out: ForwardHead): number {
  const http2 = version === 'h2';
  const headers: string[] = [];
  let host: string | undefined;
  let hosts = 0;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let named: string[] | null = null;
  let forwarding = false;
  let cookie: string | undefined;
  let upgrade = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    // Node's parser refuses bare CR/LF in values; an unfolded obs-fold would show up here.
    if (value.includes('\n') || value.includes('\r')) return FRAMING_BAD;
    if (http2 && name.charCodeAt(0) === 58) {
      // ':authority' is the HTTP/2 Host.
      if (name === ':authority') host ??= value;
      continue;
    }
    const lower = name.toLowerCase();
    if (hashHeader !== null && lower === hashHeader) out.hashKey = out.hashKey === undefined ? value : `${out.hashKey}, ${value}`;
    switch (lower.length) {
      case 2:
        // TE: only "trailers" means anything end to end.
        if (lower === 'te') {
          if (/(^|,)\s*trailers\s*(;|,|$)/i.test(value)) headers.push('te', 'trailers');
          continue;
        }
        break;
      case 4:
        if (lower === 'host') {
          hosts++;
          host = value;
          continue;
        }
        break;
      case 6:
        if (lower === 'expect') continue; // Node already answered 100-continue; undici sends the body itself.
        if (http2 && lower === 'cookie') {
          // HTTP/2 may split cookies into several fields; HTTP/1.1 wants one (RFC 9113 §8.2.3).
          cookie = cookie === undefined ? value : `${cookie}; ${value}`;
          continue;
        }
        break;
      case 7:
        if (lower === 'upgrade') {
          upgrade = value;
          continue;
        }
        break;
      case 9:
        if (lower === 'forwarded') {
          forwarding = true;
          continue;
        }
        break;
      case 10:
        if (lower === 'connection') {
          named = connectionTokens(value, named);
          continue;
        }
        break;
      case 12:
        if (lower === 'x-request-id') continue;
        break;
      case 14:
        if (lower === 'content-length') {
          if (!/^\d+$/.test(value) || (contentLength !== undefined && contentLength !== value)) return FRAMING_BAD;
          if (contentLength !== undefined) continue;
          contentLength = value;
        }
        break;
      case 15:
        if (lower === 'x-forwarded-for') {
          forwarding = true;
          continue;
        }
        break;
      case 16:
        if (lower === 'x-forwarded-host') continue;
        break;
      case 17:
        if (lower === 'x-forwarded-proto') continue;
        if (lower === 'transfer-encoding') {
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
          continue;
        }
        break;
      case 19:
        if (lower === 'proxy-authorization') continue; // meant for a proxy; keel asks for none (Go's and Caddy's choice)
        break;
    }
    if (isHopByHop(lower)) continue;
    headers.push(name, value);
  }
  // Ambiguous framing: Content-Length with Transfer-Encoding, a coding other than exactly chunked
  // (Node would take "gzip, chunked" or "chunked, chunked"), Transfer-Encoding in HTTP/1.0 (RFC 9112
  // §6.1: faulty framing), two Host headers.
  if (transferEncoding !== undefined && (contentLength !== undefined || version === 'http/1.0' || transferEncoding.trim().toLowerCase() !== 'chunked')) return FRAMING_BAD;
  if (hosts > 1) return FRAMING_BAD;
  if (named !== null) removeNamed(headers, named);
  if (cookie !== undefined) headers.push('cookie', cookie);
  if (host !== undefined) headers.push('host', host);
  out.headers = headers;
  out.hasBody = contentLength !== undefined ? contentLength !== '0' : transferEncoding !== undefined;
  out.lengthKnown = contentLength !== undefined;
  out.upgrade = upgrade;
  out.host = host;
  out.forwarding = forwarding;
  return FRAMING_OK;
}

/**
 * Adds keel's forwarding headers. `peer` is the connection's peer when the client sent forwarding
 * headers (only then can the client keel resolved differ from it), else null.
 */
export function appendForwarding(headers: string[], ctx: ForwardContext, host: string | undefined, peer: string | null): void {
  headers.push(
    'x-forwarded-for',
    forwardedFor(ctx.clientAddress, peer),
    'x-forwarded-proto',
    ctx.scheme,
    'forwarded',
    forwardedValue(ctx.clientAddress, ctx.scheme, host, peer),
    'x-request-id',
    ctx.id,
  );
  if (host !== undefined) headers.push('x-forwarded-host', host);
}

/** Drops the headers a Connection header named (rare: most clients name none). */
function removeNamed(headers: string[], named: readonly string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (named.includes(headers[i].toLowerCase())) headers.splice(i, 2);
  }
}
