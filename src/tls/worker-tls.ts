/**
 * TLS in a worker: the protocol settings, the certificates as SNI contexts, and their replacement
 * when the primary sends new ones. Nothing here reads a file: certificates arrive from the primary.
 */
import type { SecureContextOptions } from 'node:tls';
import type { ResolvedConfig } from '../config/resolve.js';
import { isTlsBind, type Listeners } from '../worker/listeners.js';
import type { TlsMaterial } from './material.js';
import { SecureContexts } from './secure-contexts.js';

/** Key exchange groups: X25519 first, as Mozilla's guidelines and Caddy order them. */
const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

export function protocolOptions(config: ResolvedConfig): SecureContextOptions {
  return {
    minVersion: config.sslMinVersion,
    maxVersion: 'TLSv1.3',
    ciphers: config.sslCiphers,
    honorCipherOrder: true,
    ecdhCurve: ECDH_CURVES,
  };
}

/** The port to redirect plain HTTP to: the first TCP TLS bind's. */
export function httpsPort(config: ResolvedConfig): number {
  for (const bind of config.bind) if (bind.kind === 'tcp' && isTlsBind(bind, config)) return bind.port;
  return 443;
}

export interface WorkerTls {
  readonly contexts: SecureContexts;
  /** Options for the TLS server: protocol settings, the default certificate, the shared ticket keys. */
  serverOptions(): SecureContextOptions;
  update(material: TlsMaterial, listeners: Listeners): void;
}

export function createWorkerTls(config: ResolvedConfig, first: TlsMaterial): WorkerTls | null {
  if (!config.bind.some((bind) => isTlsBind(bind, config))) return null;
  const base = protocolOptions(config);
  const contexts = new SecureContexts(base);
  let material = first;
  contexts.update(material.certificates);

  const serverOptions = (): SecureContextOptions => {
    const fallback = material.certificates.find((bundle) => bundle.hosts === null) ?? material.certificates[0];
    return {
      ...base,
      ...(fallback ? { cert: fallback.certPem, key: fallback.keyPem } : {}),
      ...(material.ticketKeys ? { ticketKeys: Buffer.from(material.ticketKeys, 'base64') } : {}),
    };
  };

  return {
    contexts,
    serverOptions,
    update(next, listeners) {
      const changed = next.certificates !== material.certificates;
      material = next;
      if (!changed) return;
      contexts.update(material.certificates);
      listeners.updateTls(serverOptions());
    },
  };
}
