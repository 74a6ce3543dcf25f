/**
 * The TLS side of an HTTPS server: its certificate (expiry, trust, name) from one ordinary
 * handshake, and whether it still accepts TLS 1.0 or 1.1, from handshakes that offer only those
 * (with every cipher allowed, so a refusal is the server's and not this client's).
 */
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { ConnectionOptions, PeerCertificate, SecureVersion, TLSSocket } from 'node:tls';
import { CERT_SEVERE_DAYS, CERT_WARNING_DAYS } from './audit-tls.js';
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily } from './probe-evidence.js';

const DAY_MS = 86_400_000;

interface Handshake {
  readonly certificate: PeerCertificate | null;
  readonly authorizationError: string | null;
}

/** Resolves with what the handshake showed, or null when it failed (refused, reset, timed out). */
function handshake(origin: URL, timeoutMs: number, extra: Partial<ConnectionOptions> = {}): Promise<Handshake | null> {
  const host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    let socket: TLSSocket | undefined;
    const done = (result: Handshake | null) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket = connect({
      host,
      port: Number(origin.port || 443),
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      ...extra,
    });
    socket.once('secureConnect', () => {
      const peer = socket!.getPeerCertificate();
      const error = socket!.authorizationError as unknown;
      done({
        certificate: peer && Object.keys(peer).length > 0 ? peer : null,
        authorizationError: error ? String((error as { code?: string }).code ?? error) : null,
      });
    });
    socket.once('error', () => done(null));
  });
}

/** Loopback and private addresses, and names that are only local: internal CAs are normal there. */
function isInternal(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost') || name.endsWith('.local') || name.endsWith('.internal')) return true;
  return /^(?:127\.|10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|169\.254\.)/.test(name) || name === '::1' || /^f[cd]/.test(name);
}

function certificateFindings(origin: URL, shown: Handshake): Finding[] {
  const findings: Finding[] = [];
  const where = origin.origin;
  const cert = shown.certificate;
  if (cert?.valid_to) {
    const daysLeft = Math.floor((Date.parse(cert.valid_to) - Date.now()) / DAY_MS);
    // The same thresholds as the config audit's (audit-tls.ts).
    if (daysLeft < CERT_WARNING_DAYS) {
      findings.push({
        id: 'certificate-expiry',
        severity: daysLeft < CERT_SEVERE_DAYS ? 'severe' : 'warning',
        title: daysLeft < 0 ? `The certificate expired on ${cert.valid_to}` : `The certificate expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (${cert.valid_to})`,
        why: 'Once it expires every browser refuses the site; renewal normally happens 30 days ahead, so it has likely stopped.',
        fix: 'Renew it, and let keel renew by itself from then on: keel serve --https auto --domain example.com (or reload keel with kill -HUP after replacing --certfile)',
        where,
      });
    }
  }
  const error = shown.authorizationError;
  // An expired certificate is reported above; a second line would say the same.
  if (error && error !== 'CERT_HAS_EXPIRED') {
    const selfSigned = error === 'DEPTH_ZERO_SELF_SIGNED_CERT' || error === 'SELF_SIGNED_CERT_IN_CHAIN';
    const mismatch = error === 'ERR_TLS_CERT_ALTNAME_INVALID';
    findings.push({
      id: mismatch ? 'certificate-name-mismatch' : 'certificate-untrusted',
      severity: isInternal(origin.hostname) ? 'info' : 'warning',
      title: mismatch
        ? `The certificate does not cover ${origin.hostname}`
        : selfSigned
          ? `The certificate is self-signed or from a private CA (${error})`
          : `The certificate is not trusted by this system (${error})`,
      why: 'Browsers show a full-page warning, and clients that skip the check can be sent to an impostor.',
      fix: "Use a certificate from a public CA for the names clients use; keel gets one itself: keel serve --https auto --domain example.com. A private CA is fine inside your network when clients trust it.",
      where,
    });
  }
  return findings;
}

const OLD_VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1'];

export const tlsProbes: ProbeFamily = {
  async check(evidence: Evidence): Promise<Finding[]> {
    const { origin, timeoutMs } = evidence;
    if (origin.protocol !== 'https:') return [];
    const findings: Finding[] = [];
    // Any version the server takes, so the certificate of a TLS-1.0-only server is still read.
    const shown = await handshake(origin, timeoutMs, { minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    if (shown) findings.push(...certificateFindings(origin, shown));
    const accepted: string[] = [];
    for (const version of OLD_VERSIONS) {
      // SECLEVEL=0 lets this client offer the old ciphers those versions need.
      const old = await handshake(origin, timeoutMs, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
      if (old) accepted.push(version === 'TLSv1' ? 'TLS 1.0' : 'TLS 1.1');
    }
    if (accepted.length > 0) {
      findings.push({
        id: 'tls-old-versions',
        severity: 'warning',
        title: `The server accepts ${accepted.join(' and ')}`,
        why: 'TLS 1.0 and 1.1 are deprecated (RFC 8996): weak ciphers and downgrade attacks; no current browser needs them.',
        fix: "keel accepts TLS 1.2 and up by default (--ssl-min-version TLSv1.2); in Nginx: ssl_protocols TLSv1.2 TLSv1.3;",
        where: origin.origin,
      });
    }
    return findings;
  },
};
