// Throwaway certificates for the TLS tests, made with the real `openssl` CLI in a temp dir: one test
// CA, and leaf certificates it signs for given DNS names and IP addresses, with any validity window
// (expired, not yet valid) and key file mode. `openssl ca` is used because it takes explicit start
// and end dates on OpenSSL 3.0 (`x509 -not_before` needs 3.4).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';

function openssl(args) {
  try {
    return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).toString();
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

/** Date → the GeneralizedTime `openssl ca -startdate/-enddate` take: YYYYMMDDHHMMSSZ. */
const asn1Time = (date) => new Date(date).toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');

/**
 * Makes a CA in a new temp dir. Returns { dir, ca: { cert, certPem }, leaf(name, opts), cleanup() }.
 *
 * leaf(name, { dns = [name], ip = [], cn = name, notBefore, notAfter, days = 30, keyMode = 0o600 })
 * writes `<name>.pem` and `<name>.key` (an EC P-256 key) and returns
 * { cert, key, certPem, keyPem, serial } (serial: upper-case hex without leading zeros, as Node shows it).
 * Calling leaf() again with the same name overwrites the files in place with a new key and serial.
 *
 * @example
 * const pki = makeCertificates();
 * const { cert, key } = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
 * t.after(() => pki.cleanup());
 */
export function makeCertificates(prefix = 'keel-certs-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Removed at exit too, should a test die before its cleanup() runs.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  try {
    return issuer(dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function issuer(dir) {
  const caDir = join(dir, '.ca');
  mkdirSync(join(caDir, 'issued'), { recursive: true });
  writeFileSync(join(caDir, 'index.txt'), '');
  writeFileSync(join(caDir, 'serial'), '01\n');
  const caKey = join(caDir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '30', '-subj', '/CN=keel test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const caConfig = join(caDir, 'ca.cnf');
  writeFileSync(
    caConfig,
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${join(caDir, 'index.txt')}`,
      `new_certs_dir = ${join(caDir, 'issued')}`,
      `serial = ${join(caDir, 'serial')}`,
      `certificate = ${caCert}`,
      `private_key = ${caKey}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'email_in_dn = no',
      'copy_extensions = none',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );

  function leaf(name, { dns = [name], ip = [], cn = name, notBefore = Date.now() - 3600_000, notAfter, days = 30, keyMode = 0o600 } = {}) {
    const safe = name.replace(/[^A-Za-z0-9.-]/g, '_');
    const cert = join(dir, `${safe}.pem`);
    const key = join(dir, `${safe}.key`);
    const csr = join(caDir, `${safe}.csr`);
    const ext = join(caDir, `${safe}.ext`);
    const sans = [...dns.map((d) => `DNS:${d}`), ...ip.map((a) => (isIP(a) ? `IP:${a}` : `DNS:${a}`))];
    writeFileSync(ext, ['[leaf]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth', ...(sans.length ? [`subjectAltName = ${sans.join(',')}`] : []), ''].join('\n'));
    rmSync(key, { force: true });
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    const end = notAfter ?? new Date(new Date(notBefore).getTime() + days * 86_400_000);
    openssl(['ca', '-batch', '-config', caConfig, '-rand_serial', '-notext', '-in', csr, '-out', cert, '-extfile', ext, '-extensions', 'leaf', '-startdate', asn1Time(notBefore), '-enddate', asn1Time(end)]);
    chmodSync(key, keyMode);
    const serial = openssl(['x509', '-in', cert, '-noout', '-serial']).trim().replace(/^serial=/, '').replace(/^0+/, '').toUpperCase();
    return { cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8'), serial };
  }

  return {
    dir,
    ca: { cert: caCert, certPem: readFileSync(caCert, 'utf8') },
    leaf,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A certificate's serial as Node's getPeerCertificate() spells it, comparable with leaf().serial. */
export const normalSerial = (serial) => String(serial).replace(/^0+/, '').toUpperCase();
