/**
 * The certificates keel presents, for the status page: the names each covers and when it expires,
 * read from the PEM the primary holds (node:crypto's X509Certificate), once per bundle.
 */
import { X509Certificate } from 'node:crypto';
import type { ResolvedConfig } from '../config/resolve.js';
import { subjectAltNames } from '../tls/certificate-files.js';
import type { CertificateBundle, TlsMaterial } from '../tls/material.js';
import type { CertificateRow } from './status-snapshot.js';

const parsed = new WeakMap<CertificateBundle, CertificateRow | null>();

/** Where the default certificate came from; certificates chosen by SNI (--cert) are always files. */
function defaultSource(config: Pick<ResolvedConfig, 'https'>): string {
  return config.https === 'auto' ? 'acme' : config.https === 'local' ? 'local' : 'files';
}

function rowOf(bundle: CertificateBundle, source: string): CertificateRow | null {
  if (parsed.has(bundle)) return parsed.get(bundle)!;
  let row: CertificateRow | null = null;
  try {
    const cert = new X509Certificate(bundle.certPem);
    const names = subjectAltNames(cert.subjectAltName);
    if (names.length === 0) {
      const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject);
      if (cn) names.push(cn[1]!);
    }
    row = { names, notAfter: Date.parse(cert.validTo), source };
  } catch {
    // Not parseable here: the worker's TLS setup reports it; the page shows what it can.
  }
  parsed.set(bundle, row);
  return row;
}

/** One row per certificate keel presents. */
export function certificateRows(material: TlsMaterial, config: Pick<ResolvedConfig, 'https'>): CertificateRow[] {
  const rows: CertificateRow[] = [];
  for (const bundle of material.certificates) {
    const row = rowOf(bundle, bundle.hosts === null ? defaultSource(config) : 'files');
    if (row) rows.push(row);
  }
  return rows;
}
