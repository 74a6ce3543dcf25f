/**
 * Reads the server name (SNI) and the offered ALPN protocols from a TLS ClientHello. Node's
 * SNICallback sees only the name, but an ACME TLS-ALPN-01 challenge (RFC 8737) must be answered
 * with a special certificate only when the client offers `acme-tls/1`, so keel looks at the
 * ClientHello itself before handing the connection to TLS. Only while such a challenge is pending.
 * Written by hand: a few length-prefixed fields, and no library parses just this.
 */

export interface ClientHelloInfo {
  readonly servername: string | null;
  readonly alpn: readonly string[];
}

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;

/** null when the bytes are not a ClientHello, or it does not fit in the first record. */
export function readClientHello(data: Buffer): ClientHelloInfo | null {
  if (data.length < 5 || data[0] !== HANDSHAKE) return null;
  const recordEnd = Math.min(data.length, 5 + data.readUInt16BE(3));
  let at = 5;
  if (at + 4 > recordEnd || data[at] !== CLIENT_HELLO) return null;
  at += 4; // type, 24-bit length
  at += 2 + 32; // client version, random
  if (at >= recordEnd) return null;
  at += 1 + data[at]; // session id
  if (at + 2 > recordEnd) return null;
  at += 2 + data.readUInt16BE(at); // cipher suites
  if (at >= recordEnd) return null;
  at += 1 + data[at]; // compression methods
  if (at + 2 > recordEnd) return { servername: null, alpn: [] };
  const extensionsEnd = Math.min(recordEnd, at + 2 + data.readUInt16BE(at));
  at += 2;
  let servername: string | null = null;
  const alpn: string[] = [];
  while (at + 4 <= extensionsEnd) {
    const type = data.readUInt16BE(at);
    const length = data.readUInt16BE(at + 2);
    const body = at + 4;
    const end = body + length;
    if (end > extensionsEnd) break;
    if (type === EXT_SERVER_NAME && length >= 5) {
      // list length (2), name type (1, 0 = host name), name length (2), name
      const nameLength = data.readUInt16BE(body + 3);
      if (data[body + 2] === 0 && body + 5 + nameLength <= end) servername = data.toString('latin1', body + 5, body + 5 + nameLength).toLowerCase();
    } else if (type === EXT_ALPN && length >= 2) {
      for (let p = body + 2; p < end; ) {
        const protocolLength = data[p];
        if (p + 1 + protocolLength > end) break;
        alpn.push(data.toString('latin1', p + 1, p + 1 + protocolLength));
        p += 1 + protocolLength;
      }
    }
    at = end;
  }
  return { servername, alpn };
}
