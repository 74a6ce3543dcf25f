/**
 * What the primary sends its workers about TLS: the certificates to present (from files, the
 * local CA or ACME) and the ACME challenges being answered. Only the primary reads key files and
 * talks to a CA, so workers that dropped privileges (--user) still get their keys, as Nginx's
 * master reads them for its workers.
 */
import { createHash } from 'node:crypto';

/** The key workers look a handshake's certificate up by, for its stapled OCSP answer: SHA-256 of its DER. */
export function certificateKey(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** A certificate with its key; `hosts` null is the default one, for names no other covers. */
export interface CertificateBundle {
  readonly hosts: readonly string[] | null;
  /** Leaf certificate followed by its chain, PEM. */
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TlsMaterial {
  readonly certificates: readonly CertificateBundle[];
  /** ACME HTTP-01: token → key authorization. */
  readonly http01: Readonly<Record<string, string>>;
  /** ACME TLS-ALPN-01: domain → the challenge certificate. */
  readonly tlsAlpn01: Readonly<Record<string, { readonly certPem: string; readonly keyPem: string }>>;
  /**
   * Session ticket keys (48 bytes, base64), the same in every worker: a client that resumes its
   * session on another worker than the one it first reached still skips the full handshake.
   */
  readonly ticketKeys: string;
  /** Stapled OCSP answers: base64 DER by SHA-256 of the certificate's DER (see ocsp.ts). */
  readonly ocsp: Readonly<Record<string, string>>;
}
