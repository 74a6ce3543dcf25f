// What the TLS rows need beyond the plain ones: one certificate per run,
// shared by every TLS server. Their tools (Nginx, h2load) are in tools.js,
// Nginx's config in nginx.js.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { run } from './proc.js';

// An ECDSA P-256 self-signed certificate for 127.0.0.1 and localhost, made
// once per run in the run's temp dir; every TLS server gets the same files.
export async function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { timeoutMs: 30_000 });
  if (!r.ok) throw new Error(`openssl could not make the certificate: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-2).join(' / ')}`);
  return { cert, key, ca: readFileSync(cert) };
}
