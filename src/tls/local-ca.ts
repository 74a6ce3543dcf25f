/**
 * keel's own certificate authority for `--https local`, as Caddy's local CA and mkcert do: one root per
 * state directory, made once and reused, so the user trusts it once and every certificate keel issues
 * for localhost and other development names is accepted from then on.
 *
 * Files: STATE/pki/ (0700) holds root.crt (0644, safe to share) and root.key (0600, never leaves the box).
 *
 * @example
 *   const ca = await ensureLocalCa(stateDir);
 *   if (ca.created) process.stderr.write(trustInstructions(ca));
 *   const { certPem, keyPem } = await issueLocalCertificate(ca, ['localhost', '127.0.0.1', '::1']);
 */
// @peculiar/x509 v2 resolves its classes through tsyringe, which needs the Reflect metadata API in place before
// it loads; ESM evaluates imports in order, so this line must stay above the x509 import.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, randomBytes, type webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { keelError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';

export interface LocalCa {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** Absolute path of root.crt: the file users add to their trust stores. */
  readonly certPath: string;
  /** True when this call made the CA, i.e. the user has not been told to trust it yet. */
  readonly created: boolean;
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Node's WebCrypto, set once for the whole process: x509 helpers without a crypto argument use the provider.
const crypto = globalThis.crypto;
x509.cryptoProvider.set(crypto);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const CA_YEARS = 10;

/** The CA names whose root it is, as mkcert does, so a user looking at a trust store can tell roots apart. */
function caCommonName(): string {
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container running as an arbitrary uid); the host name still tells roots apart
  }
  return `keel Local CA - ${user}@${hostname()}`;
}

/** 16 random bytes, top bit cleared so the DER INTEGER stays positive and second bit set so it stays 16 bytes long. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes.toString('hex');
}

async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

async function importPkcs8Pem(pem: string): Promise<CryptoKey> {
  const [der] = x509.PemConverter.decode(pem);
  return crypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign']);
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function createCa(dir: string): Promise<LocalCa> {
  const keys = (await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [caCommonName()] }],
    notBefore: new Date(now - MINUTE),
    notAfter: new Date(now + CA_YEARS * 365 * DAY),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      // pathLen 0: the root signs leaves only, so a stolen leaf key can never mint more certificates
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = await exportPkcs8Pem(keys.privateKey);
  const certPem = `${cert.toString('pem')}\n`;
  const certPath = join(dir, 'root.crt');
  // The key goes first: root.crt on disk is what marks the CA as made, so it must never exist without its key.
  await writeFileAtomic(join(dir, 'root.key'), keyPem, 0o600);
  await writeFileAtomic(certPath, certPem, 0o644);
  return { certPem, keyPem, certPath, created: true };
}

/**
 * Returns the local CA under `stateDir/pki/`, making it on first use (`created: true`) and reusing it after.
 * A root that has expired is replaced, since nothing it signs would be accepted anyway.
 */
export async function ensureLocalCa(stateDir: string): Promise<LocalCa> {
  const dir = join(stateDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const certPath = join(dir, 'root.crt');
  const keyPath = join(dir, 'root.key');

  const certPem = await readIfExists(certPath);
  if (certPem === null) return createCa(dir);
  const keyPem = await readIfExists(keyPath);
  if (keyPem === null) {
    throw keelError('KEEL_ERR_TLS', {
      text: `--https local: ${certPath} exists but ${keyPath} does not; remove ${certPath} to make a new local CA (and trust it again)`,
    });
  }
  let root: X509Certificate;
  try {
    root = new X509Certificate(certPem);
    await importPkcs8Pem(keyPem);
  } catch {
    throw keelError('KEEL_ERR_TLS', {
      text: `--https local: ${certPath} or ${keyPath} is damaged; remove both to make a new local CA (and trust it again)`,
    });
  }
  if (root.validToDate.getTime() <= Date.now()) return createCa(dir);
  return { certPem, keyPem, certPath, created: false };
}

/**
 * Issues a short-lived server certificate for `names` (DNS names and IP addresses), signed by the local CA.
 * Short validity (7 days by default) because keel issues a fresh one at every start; it starts a minute
 * in the past so a client clock slightly behind does not reject it.
 *
 * @example
 *   const leaf = await issueLocalCertificate(ca, ['localhost', '127.0.0.1', '::1']);
 *   tls.createSecureContext({ cert: leaf.certPem + ca.certPem, key: leaf.keyPem });
 */
export async function issueLocalCertificate(
  ca: LocalCa,
  names: readonly string[],
  validityDays = 7,
): Promise<{ certPem: string; keyPem: string }> {
  if (names.length === 0) throw keelError('KEEL_ERR_TLS', { text: '--https local: no names to issue a certificate for' });
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPkcs8Pem(ca.keyPem);
  const keys = (await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;

  const now = Date.now();
  // A leaf outliving its issuer would fail verification at the end anyway; stop it with the root.
  const notAfter = Math.min(now + validityDays * DAY, caCert.notAfter.getTime());
  const sans = names.map((name) => {
    const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    return isIP(bare) ? { type: 'ip' as const, value: bare } : { type: 'dns' as const, value: bare.toLowerCase() };
  });

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [sans[0].value] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now - MINUTE),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await exportPkcs8Pem(keys.privateKey) };
}

/**
 * How to make browsers, curl and Node trust the local CA: printed once, when the CA is first made.
 *
 * @example
 *   if (ca.created) process.stderr.write(trustInstructions(ca));
 */
export function trustInstructions(ca: LocalCa): string {
  const p = ca.certPath;
  return [
    `keel made a local certificate authority for --https local: ${p}`,
    'Trust it once to stop certificate warnings:',
    `  Debian/Ubuntu:   sudo cp ${p} /usr/local/share/ca-certificates/keel-local-ca.crt && sudo update-ca-certificates`,
    `  macOS:           sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${p}`,
    `  Firefox/Chrome:  certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n "keel Local CA" -i ${p}`,
    `  Node:            NODE_EXTRA_CA_CERTS=${p} node …`,
    `  curl:            curl --cacert ${p} https://localhost:PORT/`,
    '',
  ].join('\n');
}
