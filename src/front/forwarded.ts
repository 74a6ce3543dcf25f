/**
 * Client address and scheme from X-Forwarded-For / X-Forwarded-Proto / Forwarded, believed only
 * when the peer is a trusted proxy. The client is the right-most address not itself trusted, so a
 * client that sends its own X-Forwarded-For cannot choose what keel believes.
 * The headers the app sees are rewritten to those results (or removed when the peer is not
 * trusted), so frameworks that read them with "trust proxy" on get the same answer.
 */
import type { IncomingMessage } from 'node:http';
import { plainAddress, type TrustCheck } from './trusted-proxies.js';

export interface ClientInfo {
  readonly clientAddress: string;
  readonly scheme: string;
  readonly trustedPeer: boolean;
}

function forwardedPairs(header: string): { forList: string[]; proto: string | undefined } {
  const forList: string[] = [];
  let proto: string | undefined;
  for (const element of header.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim().toLowerCase();
      let value = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (name === 'for') {
        // for="[2001:db8::1]:4711" or for=192.0.2.60:8080
        const v6 = /^\[([^\]]+)\]/.exec(value);
        value = v6 ? v6[1] : value.replace(/:\d+$/, '');
        forList.push(value);
      } else if (name === 'proto') {
        proto = value.toLowerCase();
      }
    }
  }
  return { forList, proto };
}

export function createForwardedResolver(isTrusted: TrustCheck, peerScheme: string) {
  /** @param peerTrusted whether the peer itself is trusted, computed once per connection by the caller. */
  return function resolveClient(req: IncomingMessage, peer: string | undefined, peerTrusted: boolean): ClientInfo {
    const peerAddress = peer === undefined ? 'unix' : plainAddress(peer);
    const headers = req.headers;
    const xff = headers['x-forwarded-for'];
    const xfp = headers['x-forwarded-proto'];
    const fwd = headers.forwarded;
    if (xff === undefined && xfp === undefined && fwd === undefined) return { clientAddress: peerAddress, scheme: peerScheme, trustedPeer: peerTrusted };
    if (!peerTrusted) {
      delete headers['x-forwarded-for'];
      delete headers['x-forwarded-proto'];
      delete headers.forwarded;
      return { clientAddress: peerAddress, scheme: peerScheme, trustedPeer: false };
    }
    let chain: string[];
    let proto: string | undefined;
    if (fwd !== undefined) {
      ({ forList: chain, proto } = forwardedPairs(fwd));
    } else {
      chain = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const protoText = Array.isArray(xfp) ? xfp[0] : xfp;
      proto = protoText?.split(',')[0].trim().toLowerCase();
    }
    let clientAddress = peerAddress;
    for (let i = chain.length - 1; i >= 0; i--) {
      clientAddress = plainAddress(chain[i]);
      if (!isTrusted(clientAddress)) break;
    }
    const scheme = proto === 'https' || proto === 'http' ? proto : peerScheme;
    headers['x-forwarded-for'] = clientAddress;
    headers['x-forwarded-proto'] = scheme;
    delete headers.forwarded;
    return { clientAddress, scheme, trustedPeer: true };
  };
}
