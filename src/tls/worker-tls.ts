/**
 * TLS in a worker: the protocol settings, the certificates as SNI contexts, and the rest of what
 * the primary sends (ACME challenges, stapled OCSP answers), replaced whenever a new TlsMaterial
 * arrives. Nothing here reads a file: certificates arrive from the primary.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ResolvedConfig } from '../config/resolve.js';
import { isTlsBind } from '../config/tls-binds.js';
import { type CertificateBundle, certificateKey, type TlsMaterial } from './material.js';
import { defaultBundle, SecureContexts } from './secure-contexts.js';

/** Key exchange groups: X25519 first, as Mozilla's guidelines and Caddy order them. */
const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

function protocolOptions(config: ResolvedConfig): SecureContextOptions {
  return {
    minVersion: config.sslMinVersion,
    maxVersion: 'TLSv1.3',
    ciphers: config.sslCiphers,
    honorCipherOrder: true,
    ecdhCurve: ECDH_CURVES,
  };
}

function sameCertificates(a: readonly CertificateBundle[], b: readonly CertificateBundle[]): boolean {
  return a.length === b.length && a.every((x, i) => x.certPem === b[i].certPem && x.keyPem === b[i].keyPem && String(x.hosts) === String(b[i].hosts));
}

export interface WorkerTls {
  readonly contexts: SecureContexts;
  /** Options for the TLS server: protocol settings, the default certificate, the shared ticket keys. */
  serverOptions(): SecureContextOptions;
  /** Takes new material; returns true when the certificates changed (the server's default then needs replacing). */
  update(material: TlsMaterial): boolean;
  /** ACME HTTP-01 answers, token → key authorization, for the --redirect-http listener. */
  http01(): Readonly<Record<string, string>>;
  /** Whether a TLS-ALPN-01 challenge is pending: only then are ClientHellos read before TLS. */
  readonly hasAlpnChallenges: () => boolean;
  /** The context answering a TLS-ALPN-01 challenge for a name, if one is pending. */
  alpnChallenge(servername: string): SecureContext | undefined;
  /** The stapled OCSP answer (DER) for a certificate being presented, if the primary has one. */
  ocspResponse(certificate: Buffer): Buffer | undefined;
}

/** null when no bind serves TLS. */
export function createWorkerTls(config: ResolvedConfig, first: TlsMaterial): WorkerTls | null {
  if (!config.bind.some((bind) => isTlsBind(bind, config))) return null;
  const base = protocolOptions(config);
  const contexts = new SecureContexts(base);
  let material = first;
  // Decoded once per message, not per handshake.
  let ticketKeys: Buffer | null = null;
  let ocsp = new Map<string, Buffer>();
  let alpn = new Map<string, SecureContext>();

  const take = (next: TlsMaterial): void => {
    material = next;
    ticketKeys = next.ticketKeys ? Buffer.from(next.ticketKeys, 'base64') : null;
    ocsp = new Map(Object.entries(next.ocsp).map(([key, answer]) => [key, Buffer.from(answer, 'base64')]));
    alpn = new Map(Object.entries(next.tlsAlpn01).map(([domain, c]) => [domain, createSecureContext({ cert: c.certPem, key: c.keyPem })]));
  };
  take(first);
  contexts.update(first.certificates);

  return {
    contexts,
    serverOptions() {
      const fallback = defaultBundle(material.certificates);
      return { ...base, ...(fallback ? { cert: fallback.certPem, key: fallback.keyPem } : {}), ...(ticketKeys ? { ticketKeys } : {}) };
    },
    update(next) {
      // Every message is a fresh copy (IPC), so the certificates are compared, not their identity:
      // challenges and OCSP answers come and go without rebuilding every context.
      const changed = !sameCertificates(material.certificates, next.certificates);
      take(next);
      if (changed) contexts.update(next.certificates);
      return changed;
    },
    http01: () => material.http01,
    hasAlpnChallenges: () => alpn.size > 0,
    alpnChallenge: (servername) => alpn.get(servername.toLowerCase()),
    ocspResponse: (certificate) => (ocsp.size === 0 ? undefined : ocsp.get(certificateKey(certificate))),
  };
}
