/**
 * Loading a certificate and its key from PEM files (`--certfile`/`--keyfile`/`--ca-certs`, `--cert HOST=CERT,KEY`)
 * and checking them before anything listens, so a wrong file is one clear line on stderr (exit status 2)
 * instead of a handshake failure that only a client sees.
 *
 * Files are read synchronously on purpose: this runs at start-up and on reload, before any socket is served.
 *
 * @example
 *   const pair = loadCertificatePair({ certfile: 'cert.pem', keyfile: 'key.pem', certFlag: '--certfile', keyFlag: '--keyfile' });
 *   checkDomainsCovered(pair, ['example.com']);
 *   tls.createSecureContext({ cert: pair.certPem, key: pair.keyPem });
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { keelError } from '../errors.js';

export interface CertificatePair {
  /** The certificate file's certificates (leaf first), followed by the `--ca-certs` chain, if any. */
  readonly certPem: string;
  readonly keyPem: string;
  /** DNS and IP subject alternative names, lower-case; the subject CN only when there are no SANs. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex, as `X509Certificate#serialNumber`. */
  readonly serial: string;
  /** The OCSP responder from the Authority Information Access extension, for stapling. */
  readonly ocspUrl: string | null;
  /** Absolute paths, so reloads and messages do not depend on the working directory. */
  readonly certfile: string;
  readonly keyfile: string;
}

export interface LoadCertificatePairOptions {
  readonly certfile: string;
  readonly keyfile: string;
  readonly caCerts?: string | null;
  /** The flag word used in messages: `--certfile`, or `--cert HOST` for SNI pairs. */
  readonly certFlag: string;
  readonly keyFlag: string;
  readonly caFlag?: string;
  /** The moment validity is checked against; tests pass a fixed one. */
  readonly now?: Date;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

function tlsError(text: string): Error {
  return keelError('KEEL_ERR_TLS', { text });
}

function readPemFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw tlsError(`${flag}: ${path} does not exist`);
    throw tlsError(`${flag}: cannot read ${path}: ${code ?? (err as Error).message}`);
  }
}

/** The CERTIFICATE blocks of a PEM text, leaf first in a chain. */
export function pemCertificates(text: string): string[] {
  return text.match(CERTIFICATE_BLOCK) ?? [];
}

/** Every CERTIFICATE block that parses; a fullchain.pem (certbot) holds the leaf and its chain in one file. */
function certificateBlocks(flag: string, path: string, text: string): string[] {
  const blocks = pemCertificates(text);
  if (blocks.length === 0) throw tlsError(`${flag}: ${path} is not a PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw tlsError(`${flag}: ${path} is not a PEM certificate`);
    }
  }
  return blocks;
}

function privateKey(flag: string, path: string, text: string): { pem: string; key: KeyObject } {
  const block = PRIVATE_KEY_BLOCK.exec(text);
  if (!block) throw tlsError(`${flag}: ${path} is not a PEM private key`);
  // An encrypted key is a PEM private key, but one keel cannot use without a passphrase prompt at every start.
  if (block[1] === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(block[0])) {
    throw tlsError(`${flag}: ${path} is encrypted with a passphrase; keel needs an unencrypted key (run: openssl pkey -in ${path} -out NEW.key)`);
  }
  try {
    return { pem: block[0], key: createPrivateKey(block[0]) };
  } catch {
    throw tlsError(`${flag}: ${path} is not a PEM private key`);
  }
}

/** A key anyone on the box can read is a leaked key; refuse it the way ssh refuses a 0644 identity file. */
function checkKeyMode(flag: string, path: string): void {
  if (process.platform === 'win32') return; // POSIX modes mean nothing there
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    const octal = mode.toString(8).padStart(4, '0');
    throw tlsError(`${flag}: ${path} is readable by other users (mode ${octal}); run: chmod 600 ${path}`);
  }
}

/** IPv6 in canonical short form (Node prints SAN addresses as `0:0:0:0:0:0:0:1`), lower-case everything else. */
function canonicalName(name: string): string {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(bare) === 6) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return bare.toLowerCase().replace(/\.$/, '');
}

/**
 * DNS and IP names from Node's `subjectAltName` string (`DNS:a.example, IP Address:127.0.0.1`).
 * Node JSON-quotes any value containing a comma or quote, so a sticky scan over `type:value` entries is exact.
 */
export function subjectAltNames(san: string | undefined): string[] {
  if (!san) return [];
  const names: string[] = [];
  const entry = /([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  for (let m = entry.exec(san); m && m[0] !== ''; m = entry.exec(san)) {
    const value = m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2];
    if (m[1] === 'DNS' || m[1] === 'IP Address') names.push(canonicalName(value));
  }
  return names;
}

function commonName(subject: string): string | null {
  const cn = /^CN=(.*)$/m.exec(subject);
  return cn ? canonicalName(cn[1]) : null;
}

/** The OCSP responder URL from a certificate's Authority Information Access (X509Certificate#infoAccess). */
export function ocspResponder(infoAccess: string | undefined): string | null {
  const ocsp = /^OCSP - URI:(.+)$/m.exec(infoAccess ?? '');
  return ocsp ? ocsp[1].trim() : null;
}

/**
 * Reads and checks a certificate, its key and an optional chain. Checks run in a fixed order (missing file,
 * not PEM, key readable by others, key mismatch, expired, not yet valid) so the first problem is the one reported.
 * Throws `KEEL_ERR_TLS` (exit status 2) with the message shapes of the TLS spec.
 */
export function loadCertificatePair(o: LoadCertificatePairOptions): CertificatePair {
  const certfile = resolve(o.certfile);
  const keyfile = resolve(o.keyfile);
  const caFile = o.caCerts ? resolve(o.caCerts) : null;
  const caFlag = o.caFlag ?? '--ca-certs';

  const certText = readPemFile(o.certFlag, certfile);
  const keyText = readPemFile(o.keyFlag, keyfile);
  const caText = caFile ? readPemFile(caFlag, caFile) : null;

  const certBlocks = certificateBlocks(o.certFlag, certfile, certText);
  const key = privateKey(o.keyFlag, keyfile, keyText);
  const chainBlocks = caFile && caText !== null ? certificateBlocks(caFlag, caFile, caText) : [];

  checkKeyMode(o.keyFlag, keyfile);

  const leaf = new X509Certificate(certBlocks[0]);
  if (!leaf.checkPrivateKey(key.key)) {
    throw tlsError(`${o.keyFlag}: the key in ${keyfile} does not match the certificate in ${certfile}`);
  }

  const now = o.now ?? new Date();
  const notBefore = leaf.validFromDate;
  const notAfter = leaf.validToDate;
  if (now.getTime() > notAfter.getTime()) {
    throw tlsError(`${o.certFlag}: the certificate in ${certfile} expired on ${notAfter.toISOString()}`);
  }
  if (now.getTime() < notBefore.getTime()) {
    throw tlsError(`${o.certFlag}: the certificate in ${certfile} is not valid until ${notBefore.toISOString()}`);
  }

  const sans = subjectAltNames(leaf.subjectAltName);
  const cn = commonName(leaf.subject);
  return {
    certPem: [...certBlocks, ...chainBlocks].map((block) => `${block}\n`).join(''),
    keyPem: `${key.pem}\n`,
    names: sans.length > 0 ? sans : cn ? [cn] : [],
    notBefore,
    notAfter,
    serial: leaf.serialNumber,
    ocspUrl: ocspResponder(leaf.infoAccess),
    certfile,
    keyfile,
  };
}

/**
 * Whether a certificate with these names is valid for `host`, by the RFC 6125 rules browsers apply:
 * an exact match (case-insensitive), or a wildcard `*.example.com` covering exactly one more label
 * (`a.example.com`, not `example.com` nor `a.b.example.com`). IP addresses match exactly, never by wildcard.
 *
 * @example
 *   certificateCovers(['*.example.com'], 'www.example.com'); // true
 *   certificateCovers(['*.example.com'], 'example.com');     // false
 */
export function certificateCovers(names: readonly string[], host: string): boolean {
  const wanted = canonicalName(host);
  if (wanted === '') return false;
  const ip = isIP(wanted) !== 0;
  for (const raw of names) {
    const name = canonicalName(raw);
    if (name === wanted) return true;
    if (ip || !name.startsWith('*.')) continue;
    const dot = wanted.indexOf('.');
    if (dot > 0 && wanted.slice(dot + 1) === name.slice(2)) return true;
  }
  return false;
}

/**
 * Refuses to start when a `--domain` is not covered by the certificate, rather than serving a name mismatch.
 *
 * @example
 *   checkDomainsCovered(pair, ['example.com', 'www.example.com']);
 */
export function checkDomainsCovered(pair: CertificatePair, domains: readonly string[], flag = '--domain'): void {
  for (const domain of domains) {
    if (!certificateCovers(pair.names, domain)) {
      throw tlsError(`${flag === '--domain' ? `--domain ${domain}` : flag}: the certificate in ${pair.certfile} covers only ${pair.names.join(', ')}`);
    }
  }
}
