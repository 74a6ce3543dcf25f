/**
 * The PROXY protocol (v1 text and v2 binary, HAProxy's spec), read before the HTTP parser sees the
 * connection, so the client address a load balancer reports becomes the peer address.
 * Written by hand: the header is a few dozen bytes of fixed layout, and the maintained npm parsers
 * either wrap whole servers or predate v2.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';

const kSourceAddress = Symbol('keel.proxySource');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;

type ParseResult = { kind: 'more' } | { kind: 'error'; reason: string } | { kind: 'done'; source: string | undefined; consumed: number };

function formatV6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65_535;
}

export function parseProxyHeader(data: Buffer): ParseResult {
  if (data.length >= 1 && data[0] === 0x0d) {
    if (data.length < 16) return V2_SIGNATURE.subarray(0, data.length).equals(data.subarray(0, Math.min(data.length, 12))) ? { kind: 'more' } : { kind: 'error', reason: 'bad v2 signature' };
    if (!data.subarray(0, 12).equals(V2_SIGNATURE)) return { kind: 'error', reason: 'bad v2 signature' };
    const versionCommand = data[12];
    if (versionCommand >> 4 !== 2) return { kind: 'error', reason: 'unsupported version' };
    const length = data.readUInt16BE(14);
    if (data.length < 16 + length) return { kind: 'more' };
    const consumed = 16 + length;
    if ((versionCommand & 0x0f) === 0) return { kind: 'done', source: undefined, consumed }; // LOCAL: a health check from the balancer itself
    const family = data[13] >> 4;
    if (family === 1 && length >= 12) return { kind: 'done', source: Array.from(data.subarray(16, 20)).join('.'), consumed };
    if (family === 2 && length >= 36) return { kind: 'done', source: formatV6(data.subarray(16, 32)), consumed };
    return { kind: 'done', source: undefined, consumed };
  }
  const end = data.indexOf('\r\n');
  if (end === -1) return data.length > V1_MAX ? { kind: 'error', reason: 'v1 header too long' } : 'PROXY'.startsWith(data.toString('latin1', 0, 5)) ? { kind: 'more' } : { kind: 'error', reason: 'no PROXY header' };
  const parts = data.toString('latin1', 0, end).split(' ');
  if (parts[0] !== 'PROXY') return { kind: 'error', reason: 'no PROXY header' };
  if (parts[1] === 'UNKNOWN') return { kind: 'done', source: undefined, consumed: end + 2 };
  if ((parts[1] !== 'TCP4' && parts[1] !== 'TCP6') || parts.length !== 6) return { kind: 'error', reason: 'malformed v1 header' };
  // The source becomes the client address in logs and for the app: only a real address and ports pass.
  const isAddress = parts[1] === 'TCP4' ? isIPv4 : isIPv6;
  if (!isAddress(parts[2]) || !isAddress(parts[3]) || !isPort(parts[4]) || !isPort(parts[5])) return { kind: 'error', reason: 'malformed v1 header' };
  return { kind: 'done', source: parts[2], consumed: end + 2 };
}

/** The address keel treats as the peer: the PROXY header's source when there was one. */
export function peerAddressOf(socket: Socket): string | undefined {
  type Marked = Socket & { [kSourceAddress]?: string; _parent?: Marked };
  // Over TLS the header was read on the TCP socket, which the TLS socket wraps (`_parent`,
  // Node's own link; tests over TLS hold it).
  return (socket as Marked)[kSourceAddress] ?? (socket as Marked)._parent?.[kSourceAddress] ?? socket.remoteAddress;
}

/** Reads the PROXY header from a fresh connection, then hands the connection on; refuses connections without one. */
export function readProxyHeader(socket: Socket, timeoutMs: number, onReady: (socket: Socket) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    const result = parseProxyHeader(buffered);
    if (result.kind === 'more') return;
    socket.removeListener('data', onData);
    clearTimeout(timer);
    if (result.kind === 'error') {
      socket.destroy();
      return;
    }
    socket.pause();
    if (result.source) (socket as Socket & { [kSourceAddress]?: string })[kSourceAddress] = result.source;
    if (result.consumed < buffered.length) socket.unshift(buffered.subarray(result.consumed));
    // Left paused: whoever takes the connection resumes it if it reads through 'data' (HTTP/1.1).
    // TLS and HTTP/2 read the socket's handle themselves, and a resume here would hand the bytes
    // after the header to nobody.
    onReady(socket);
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}
