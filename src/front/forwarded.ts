/**
 * Client address and scheme from X-Forwarded-For / X-Forwarded-Proto / Forwarded, believed only
 * when the peer is a trusted proxy. The client is the right-most address not itself trusted, so a
 * client that sends its own X-Forwarded-For cannot choose what keel believes.
 * The headers the app sees are rewritten to those results (blanked when the peer is not trusted),
 * so frameworks that read them with "trust proxy" on get the same answer.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHead } from './request-head.js';
import { plainAddress, type TrustCheck } from './trusted-proxies.js';

export interface ClientInfo {
  readonly clientAddress: string;
  readonly scheme: string;
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

const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'forwarded']);

/**
 * Sets what the app sees of the forwarding headers: in req.headers, and in rawHeaders for apps
 * that read those (Fetch adapters do). Rare: only requests that carry such headers pay for it.
 */
function rewriteForApp(req: IncomingMessage, values: { 'x-forwarded-for'?: string; 'x-forwarded-proto'?: string }): void {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!FORWARDING.has(name)) continue;
    // The count of raw headers must stay as Node recorded it, so untrusted values are blanked, not removed.
    raw[i + 1] = values[name as 'x-forwarded-for'] ?? '';
  }
  const headers = req.headers;
  for (const name of FORWARDING) delete headers[name];
  if (values['x-forwarded-for']) headers['x-forwarded-for'] = values['x-forwarded-for'];
  if (values['x-forwarded-proto']) headers['x-forwarded-proto'] = values['x-forwarded-proto'];
}

export function createForwardedResolver(isTrusted: TrustCheck, peerScheme: string) {
  /** @param peerTrusted whether the peer itself is trusted, computed once per connection by the caller. */
  return function resolveClient(req: IncomingMessage, head: RequestHead, peer: string | undefined, peerTrusted: boolean): ClientInfo {
    const peerAddress = peer === undefined ? 'unix' : plainAddress(peer);
    if (head.forwardedFor === undefined && head.forwardedProto === undefined && head.forwarded === undefined) {
      return { clientAddress: peerAddress, scheme: peerScheme };
    }
    if (!peerTrusted) {
      rewriteForApp(req, {});
      return { clientAddress: peerAddress, scheme: peerScheme };
    }
    let chain: string[];
    let proto: string | undefined;
    if (head.forwarded !== undefined) {
      ({ forList: chain, proto } = forwardedPairs(head.forwarded));
    } else {
      chain = (head.forwardedFor ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      proto = head.forwardedProto?.split(',')[0].trim().toLowerCase();
    }
    let clientAddress = peerAddress;
    for (let i = chain.length - 1; i >= 0; i--) {
      clientAddress = plainAddress(chain[i]);
      if (!isTrusted(clientAddress)) break;
    }
    const scheme = proto === 'https' || proto === 'http' ? proto : peerScheme;
    rewriteForApp(req, { 'x-forwarded-for': clientAddress, 'x-forwarded-proto': scheme });
    return { clientAddress, scheme };
  };
}
