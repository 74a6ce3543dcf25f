// The local CA (`--https local`) is made once per state directory with private modes, reused after, and
// issues leaves that a real TLS client trusting only that CA accepts for localhost, 127.0.0.1 and ::1.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, createServer } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ensureLocalCa, issueLocalCertificate, trustInstructions } from '../../dist/tls/local-ca.js';

let dir;
let ca;
const modeOf = (path) => statSync(path).mode & 0o777;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keel-'));
  ca = await ensureLocalCa(join(dir, 'state'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ensureLocalCa', () => {
  test('makes STATE/pki with root.crt 0644 and root.key 0600, in a 0700 directory', () => {
    const pki = join(dir, 'state', 'pki');
    assert.equal(ca.created, true);
    assert.equal(ca.certPath, join(pki, 'root.crt'));
    assert.equal(modeOf(join(dir, 'state')), 0o700);
    assert.equal(modeOf(pki), 0o700);
    assert.equal(modeOf(join(pki, 'root.crt')), 0o644);
    assert.equal(modeOf(join(pki, 'root.key')), 0o600);
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test('the root is a P-256 CA limited to signing leaves, valid for about ten years, named for USER@HOST', () => {
    const root = new X509Certificate(ca.certPem);
    assert.equal(root.ca, true);
    assert.match(root.subject, /^CN=keel Local CA - .+@.+$/);
    assert.equal(root.subject, root.issuer);
    assert.equal(root.publicKey.asymmetricKeyDetails.namedCurve, 'prime256v1');
    assert.ok(root.verify(root.publicKey));
    const years = (root.validToDate - root.validFromDate) / (365 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `validity ${years} years`);
    assert.equal(root.checkPrivateKey(createPrivateKey(ca.keyPem)), true);
    createSecureContext({ cert: ca.certPem, key: ca.keyPem });
  });

  test('is reused on the next call: created is false and the certificate is the same', async () => {
    const again = await ensureLocalCa(join(dir, 'state'));
    assert.equal(again.created, false);
    assert.equal(again.certPem, ca.certPem);
    assert.equal(again.keyPem, ca.keyPem);
    assert.equal(again.certPath, ca.certPath);
  });

  test('keeps the modes under a restrictive umask', async () => {
    const old = process.umask(0o077);
    try {
      const other = await ensureLocalCa(join(dir, 'umask'));
      assert.equal(modeOf(other.certPath), 0o644);
      assert.equal(modeOf(join(dir, 'umask', 'pki', 'root.key')), 0o600);
    } finally {
      process.umask(old);
    }
  });

  test('refuses a root certificate whose key is gone instead of silently replacing a trusted root', async () => {
    const made = await ensureLocalCa(join(dir, 'lost'));
    unlinkSync(join(dir, 'lost', 'pki', 'root.key'));
    await assert.rejects(ensureLocalCa(join(dir, 'lost')), (err) => {
      assert.equal(err.code, 'KEEL_ERR_TLS');
      assert.equal(err.exitCode, 2);
      const pki = join(dir, 'lost', 'pki');
      assert.equal(
        err.message,
        `--https local: ${pki}/root.crt exists but ${pki}/root.key does not; remove ${pki}/root.crt to make a new local CA (and trust it again)`,
      );
      return true;
    });
    assert.ok(existsSync(made.certPath));
  });
});

describe('issueLocalCertificate', () => {
  test('issues a 7-day serverAuth leaf for DNS and IP names, signed by the CA', async () => {
    const leaf = await issueLocalCertificate(ca, ['localhost', '127.0.0.1', '::1', 'App.localhost']);
    const cert = new X509Certificate(leaf.certPem);
    const root = new X509Certificate(ca.certPem);
    assert.ok(cert.verify(root.publicKey));
    assert.ok(cert.checkIssued(root));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkHost('app.localhost'), 'app.localhost');
    assert.equal(cert.checkHost('example.com'), undefined);
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(cert.serialNumber.length, 32);
    const now = Date.now();
    assert.ok(cert.validFromDate.getTime() <= now - 50_000 && cert.validFromDate.getTime() >= now - 120_000);
    const days = (cert.validToDate - cert.validFromDate) / 86_400_000;
    assert.ok(Math.abs(days - 7) < 0.01, `validity ${days} days`);
    assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(cert.checkPrivateKey(createPrivateKey(leaf.keyPem)), true);
    createSecureContext({ cert: leaf.certPem, key: leaf.keyPem });
  });

  test('takes a validity in days, and gives each leaf its own serial and key', async () => {
    const a = await issueLocalCertificate(ca, ['localhost'], 1);
    const b = await issueLocalCertificate(ca, ['localhost'], 1);
    const ca1 = new X509Certificate(a.certPem);
    assert.ok(Math.abs((ca1.validToDate - ca1.validFromDate) / 86_400_000 - 1) < 0.01);
    assert.notEqual(ca1.serialNumber, new X509Certificate(b.certPem).serialNumber);
    assert.notEqual(a.keyPem, b.keyPem);
  });

  test('a TLS client trusting only the local CA accepts the leaf', async () => {
    const leaf = await issueLocalCertificate(ca, ['localhost', '127.0.0.1', '::1']);
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (socket) => socket.end('hello over tls'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    let socket;
    try {
      socket = connect({ host: '127.0.0.1', port: server.address().port, ca: ca.certPem, servername: 'localhost' });
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      socket.setEncoding('utf8');
      let body = '';
      for await (const chunk of socket) body += chunk;
      assert.equal(body, 'hello over tls');
    } finally {
      socket?.destroy();
      server.close();
      await once(server, 'close');
    }
  });

  test('a client without the CA refuses the leaf (the trust comes from the CA, not from luck)', async () => {
    const leaf = await issueLocalCertificate(ca, ['localhost']);
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (socket) => socket.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    let socket;
    try {
      socket = connect({ host: '127.0.0.1', port: server.address().port, servername: 'localhost' });
      const [err] = await once(socket, 'error');
      assert.match(err.code, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    } finally {
      socket?.destroy();
      server.close();
      await once(server, 'close');
    }
  });
});

describe('trustInstructions', () => {
  test('names the CA file and the command for each trust store', () => {
    const text = trustInstructions(ca);
    for (const needle of [
      ca.certPath,
      `sudo cp ${ca.certPath} /usr/local/share/ca-certificates/keel-local-ca.crt && sudo update-ca-certificates`,
      `sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${ca.certPath}`,
      `certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n "keel Local CA" -i ${ca.certPath}`,
      `NODE_EXTRA_CA_CERTS=${ca.certPath}`,
      `--cacert ${ca.certPath}`,
    ]) {
      assert.ok(text.includes(needle), `missing: ${needle}`);
    }
  });
});
