/**
 * The worker's certificates, as OpenSSL contexts chosen by SNI: an exact name first, then a
 * one-label wildcard, then the default. Replaced whole when the primary sends new certificates
 * (file change, HUP-less renewal): handshakes after that get the new ones, open connections keep
 * the context they started with.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { CertificateBundle } from './material.js';

/** The certificate for clients whose name no other covers (or who send none): the default, else the first. */
export function defaultBundle(bundles: readonly CertificateBundle[]): CertificateBundle | undefined {
  return bundles.find((bundle) => bundle.hosts === null) ?? bundles[0];
}

export class SecureContexts {
  private exact = new Map<string, SecureContext>();
  private wildcard = new Map<string, SecureContext>();
  private fallback: SecureContext | null = null;

  /** @param base protocol settings shared by every context: versions, ciphers, session tickets. */
  constructor(private readonly base: SecureContextOptions) {}

  update(bundles: readonly CertificateBundle[]): void {
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    const fallback = defaultBundle(bundles);
    let fallbackContext: SecureContext | null = null;
    for (const bundle of bundles) {
      const context = createSecureContext({ ...this.base, cert: bundle.certPem, key: bundle.keyPem });
      if (bundle === fallback) fallbackContext = context;
      for (const host of bundle.hosts ?? []) {
        if (host.startsWith('*.')) wildcard.set(host.slice(2), context);
        else exact.set(host, context);
      }
    }
    this.exact = exact;
    this.wildcard = wildcard;
    this.fallback = fallbackContext;
  }

  /** The context for a client's server name, or null when keel has no certificate at all yet. */
  pick(servername: string | undefined): SecureContext | null {
    if (servername) {
      const name = servername.toLowerCase();
      const exact = this.exact.get(name);
      if (exact) return exact;
      const dot = name.indexOf('.');
      if (dot > 0) {
        const wild = this.wildcard.get(name.slice(dot + 1));
        if (wild) return wild;
      }
    }
    return this.fallback;
  }

  /** For tls.Server's SNICallback. */
  readonly sniCallback = (servername: string, callback: (err: Error | null, context?: SecureContext) => void): void => {
    const context = this.pick(servername);
    if (context) callback(null, context);
    else callback(new Error(`no certificate for ${servername || 'a client without SNI'} yet`));
  };
}
