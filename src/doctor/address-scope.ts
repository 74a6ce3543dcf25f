/**
 * Who can reach a listening address: only this machine (loopback, a unix socket), a private network,
 * or anyone (a wildcard or a public address). Hostnames other than localhost count as public: what
 * they resolve to on the day is not known here.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { BindAddress } from '../config/value-types.js';

export type Scope = 'local' | 'private' | 'public';

function ipv4Scope(host: string): Scope {
  const [a, b] = host.split('.').map(Number);
  if (a === 127) return 'local';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  return 'public';
}

/** The scope of a host as keel binds it. `0.0.0.0` and `::` are every interface, so public. */
export function hostScope(rawHost: string): Scope {
  const host = rawHost.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1') return 'local';
  if (isIPv4(host)) return ipv4Scope(host);
  if (isIPv6(host)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped) return ipv4Scope(mapped[1]);
    if (/^f[cd]/.test(host) || /^fe[89ab]/.test(host)) return 'private';
    return 'public';
  }
  return 'public';
}

/** The scope of a bind: unix sockets are local. */
export function bindScope(bind: BindAddress): Scope {
  return bind.kind === 'unix' ? 'local' : hostScope(bind.host);
}
