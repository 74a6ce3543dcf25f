// Certificate files are checked before anything listens: each mistake is one exact `KEEL_ERR_TLS` message
// (exit status 2) naming the flag and the absolute path, in a fixed order. Fixtures are real PEM files
// made by the openssl CLI in a temp directory, including back- and forward-dated ones via `openssl ca`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createSecureContext } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { certificateCovers, checkDomainsCovered, loadCertificatePair } from '../../dist/tls/certificate-files.js';

let dir;
const f = (name) => join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed certificate with fixed dates: OpenSSL 3.0's `req`/`x509` cannot set them, `ca -selfsign` can. */
function datedCertificate(name, cn, start, end) {
  openssl('req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`);
  openssl('ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', `${name}.key`, '-in', `${name}.csr`, '-out', `${name}.crt`,
    '-startdate', start, '-enddate', end, '-notext');
  chmodSync(f(`${name}.key`), 0o600);
}

function load(certfile, keyfile, extra = {}) {
  return loadCertificatePair({ certfile, keyfile, certFlag: '--certfile', keyFlag: '--keyfile', ...extra });
}

function refuses(fn, message) {
  assert.throws(fn, (err) => {
    assert.equal(err.code, 'KEEL_ERR_TLS');
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, message);
    return true;
  });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-'));
  openssl('req', '-x509', ...EC, '-keyout', 'good.key', '-out', 'good.crt', '-days', '30', '-subj', '/CN=example.com',
    '-addext', 'subjectAltName=DNS:Example.com,DNS:*.example.org,IP:127.0.0.1,IP:::1',
    '-addext', 'authorityInfoAccess=OCSP;URI:http://ocsp.example.com,caIssuers;URI:http://ca.example.com/ca.crt');
  chmodSync(f('good.key'), 0o600);
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key');
  chmodSync(f('other.key'), 0o600);
  openssl('req', '-x509', ...EC, '-keyout', 'cn.key', '-out', 'cn.crt', '-days', '30', '-subj', '/CN=Only.Example.net');
  chmodSync(f('cn.key'), 0o600);
  openssl('req', '-x509', ...EC, '-keyout', 'chain.key', '-out', 'chain.crt', '-days', '30', '-subj', '/CN=Some Intermediate');
  openssl('pkey', '-in', 'good.key', '-out', 'encrypted.key', '-aes256', '-passout', 'pass:secret');
  chmodSync(f('encrypted.key'), 0o600);
  copyFileSync(f('good.key'), f('open.key'));
  chmodSync(f('open.key'), 0o644);
  writeFileSync(f('notpem.txt'), 'this is not a certificate\n');
  chmodSync(f('notpem.txt'), 0o600);

  mkdirSync(f('ca'));
  writeFileSync(f('ca/index.txt'), '');
  writeFileSync(f('ca/serial'), '01\n');
  writeFileSync(f('ca.cnf'), [
    '[ca]', 'default_ca = d', '[d]', 'database = ca/index.txt', 'serial = ca/serial', 'new_certs_dir = ca',
    'default_md = sha256', 'policy = p', 'copy_extensions = copy', 'unique_subject = no', '[p]', 'commonName = supplied', '',
  ].join('\n'));
  datedCertificate('expired', 'old.example.com', '20200101000000Z', '20210131000000Z');
  datedCertificate('future', 'new.example.com', '20990101000000Z', '20991231000000Z');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('loadCertificatePair', () => {
  test('loads a good pair: names, dates, serial, OCSP responder, absolute paths, usable PEM', () => {
    const rel = relative(process.cwd(), f('good.crt'));
    const pair = load(rel, f('good.key'));
    assert.equal(pair.certfile, f('good.crt'));
    assert.equal(pair.keyfile, f('good.key'));
    assert.deepEqual(pair.names, ['example.com', '*.example.org', '127.0.0.1', '::1']);
    const x = new X509Certificate(pair.certPem);
    assert.equal(pair.serial, x.serialNumber);
    assert.equal(pair.notBefore.getTime(), x.validFromDate.getTime());
    assert.equal(pair.notAfter.getTime(), x.validToDate.getTime());
    assert.equal(pair.ocspUrl, 'http://ocsp.example.com');
    assert.match(pair.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
  });

  test('uses the subject CN only when there are no SANs; no AIA means no OCSP URL', () => {
    const pair = load(f('cn.crt'), f('cn.key'));
    assert.deepEqual(pair.names, ['only.example.net']);
    assert.equal(pair.ocspUrl, null);
  });

  test('appends the --ca-certs chain after the certificate', () => {
    const pair = load(f('good.crt'), f('good.key'), { caCerts: f('chain.crt') });
    const blocks = pair.certPem.match(/-----BEGIN CERTIFICATE-----/g);
    assert.equal(blocks.length, 2);
    assert.equal(new X509Certificate(pair.certPem).subject, 'CN=example.com');
    assert.equal(new X509Certificate(pair.certPem.slice(pair.certPem.indexOf('-----BEGIN', 10))).subject, 'CN=Some Intermediate');
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
  });

  test('missing files name the flag and the absolute path, certificate first', () => {
    refuses(() => load(f('nope.crt'), f('nope.key')), `--certfile: ${f('nope.crt')} does not exist`);
    refuses(() => load(f('good.crt'), f('nope.key')), `--keyfile: ${f('nope.key')} does not exist`);
    refuses(() => load(f('good.crt'), f('good.key'), { caCerts: f('nope-chain.pem') }), `--ca-certs: ${f('nope-chain.pem')} does not exist`);
    refuses(
      () => loadCertificatePair({ certfile: f('nope.crt'), keyfile: f('good.key'), certFlag: '--cert a.example', keyFlag: '--cert a.example' }),
      `--cert a.example: ${f('nope.crt')} does not exist`,
    );
  });

  test('a file that is not PEM is named as such (certificate, key, chain)', () => {
    refuses(() => load(f('notpem.txt'), f('good.key')), `--certfile: ${f('notpem.txt')} is not a PEM certificate`);
    refuses(() => load(f('good.crt'), f('notpem.txt')), `--keyfile: ${f('notpem.txt')} is not a PEM private key`);
    refuses(() => load(f('good.crt'), f('good.crt')), `--keyfile: ${f('good.crt')} is not a PEM private key`);
    refuses(() => load(f('good.crt'), f('good.key'), { caCerts: f('notpem.txt') }), `--ca-certs: ${f('notpem.txt')} is not a PEM certificate`);
  });

  test('an encrypted key is refused with how to decrypt it', () => {
    refuses(
      () => load(f('good.crt'), f('encrypted.key')),
      `--keyfile: ${f('encrypted.key')} is encrypted with a passphrase; keel needs an unencrypted key (run: openssl pkey -in ${f('encrypted.key')} -out NEW.key)`,
    );
  });

  test('a key readable by group or others is refused with the chmod to run', () => {
    const key = f('open.key');
    refuses(() => load(f('good.crt'), key), `--keyfile: ${key} is readable by other users (mode 0644); run: chmod 600 ${key}`);
    chmodSync(key, 0o640);
    refuses(() => load(f('good.crt'), key), `--keyfile: ${key} is readable by other users (mode 0640); run: chmod 600 ${key}`);
    chmodSync(key, 0o400);
    assert.equal(load(f('good.crt'), key).keyfile, key);
    chmodSync(key, 0o644);
  });

  test('a key that does not belong to the certificate is refused', () => {
    refuses(() => load(f('good.crt'), f('other.key')), `--keyfile: the key in ${f('other.key')} does not match the certificate in ${f('good.crt')}`);
  });

  test('an expired or not yet valid certificate is refused with the date', () => {
    refuses(() => load(f('expired.crt'), f('expired.key')), `--certfile: the certificate in ${f('expired.crt')} expired on 2021-01-31T00:00:00.000Z`);
    refuses(
      () => load(f('future.crt'), f('future.key')),
      `--certfile: the certificate in ${f('future.crt')} is not valid until 2099-01-01T00:00:00.000Z`,
    );
    // `now` moves the clock: the same good pair is expired ten years on
    const later = new Date(Date.now() + 3650 * 86_400_000);
    assert.throws(() => load(f('good.crt'), f('good.key'), { now: later }), /--certfile: the certificate in .* expired on /);
  });

  test('checks run in order: not PEM before key mode, key mode before mismatch, mismatch before expiry', () => {
    refuses(() => load(f('notpem.txt'), f('open.key')), `--certfile: ${f('notpem.txt')} is not a PEM certificate`);
    refuses(() => load(f('expired.crt'), f('open.key')), `--keyfile: ${f('open.key')} is readable by other users (mode 0644); run: chmod 600 ${f('open.key')}`);
    refuses(() => load(f('expired.crt'), f('good.key')), `--keyfile: the key in ${f('good.key')} does not match the certificate in ${f('expired.crt')}`);
  });
});

describe('certificateCovers', () => {
  const names = ['example.com', '*.example.org', '127.0.0.1', '::1'];

  test('exact names, case-insensitive, trailing dot ignored', () => {
    assert.equal(certificateCovers(names, 'example.com'), true);
    assert.equal(certificateCovers(names, 'EXAMPLE.com'), true);
    assert.equal(certificateCovers(names, 'example.com.'), true);
    assert.equal(certificateCovers(names, 'www.example.com'), false);
    assert.equal(certificateCovers(names, 'example.net'), false);
    assert.equal(certificateCovers(names, ''), false);
  });

  test('a wildcard covers exactly one label, never the apex', () => {
    assert.equal(certificateCovers(names, 'www.example.org'), true);
    assert.equal(certificateCovers(names, 'API.Example.org'), true);
    assert.equal(certificateCovers(names, 'example.org'), false);
    assert.equal(certificateCovers(names, 'a.b.example.org'), false);
    assert.equal(certificateCovers(names, '.example.org'), false);
    assert.equal(certificateCovers(['*.example.org'], 'wwwexample.org'), false);
  });

  test('IP addresses match exactly, IPv6 in any spelling, never by wildcard', () => {
    assert.equal(certificateCovers(names, '127.0.0.1'), true);
    assert.equal(certificateCovers(names, '127.0.0.2'), false);
    assert.equal(certificateCovers(names, '::1'), true);
    assert.equal(certificateCovers(names, '[::1]'), true);
    assert.equal(certificateCovers(names, '0:0:0:0:0:0:0:1'), true);
    assert.equal(certificateCovers(['*.0.0.1'], '127.0.0.1'), false);
  });
});

describe('checkDomainsCovered', () => {
  test('passes when every domain is covered, else names the first one and what the certificate covers', () => {
    const pair = load(f('good.crt'), f('good.key'));
    checkDomainsCovered(pair, ['example.com', 'www.example.org']);
    checkDomainsCovered(pair, []);
    refuses(
      () => checkDomainsCovered(pair, ['example.com', 'www.example.com']),
      `--domain www.example.com: the certificate in ${f('good.crt')} covers only example.com, *.example.org, 127.0.0.1, ::1`,
    );
  });
});
