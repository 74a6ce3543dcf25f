// `keel serve --https local`: a local CA made once in the state dir, like Caddy's local CA and mkcert,
// and a certificate from it for localhost, 127.0.0.1, ::1 and any --domain.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, describe, it } from 'node:test';
import { startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';

function verifiedHandshake(port, servername, ca) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve({ authorized: socket.authorized, san: cert.subjectaltname, issuer: cert.issuer.CN });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

describe('--https local', () => {
  const stateDir = tempDir('keel-local-ca-');
  const started = [];
  after(async () => {
    for (const keel of started) await keel.stop();
  });

  async function start() {
    const port = await freePort();
    const keel = await startKeel('examples/hello/app.ts', ['-b', `https://127.0.0.1:${port}`, '--https', 'local', '--domain', 'myapp.test', '--state-dir', stateDir]);
    started.push(keel);
    return { keel, port };
  }

  it('creates the CA once, says how to trust it, and serves a certificate clients that trust it accept', async () => {
    const { keel, port } = await start();
    const root = join(stateDir, 'pki', 'root.crt');
    assert.match(keel.stderr, /created a local CA/);
    assert.ok(keel.stderr.includes(root), 'the message names the CA file');
    assert.match(keel.stderr, /update-ca-certificates/);
    assert.match(keel.stderr, /NODE_EXTRA_CA_CERTS/);
    assert.equal(statSync(join(stateDir, 'pki')).mode & 0o777, 0o700);
    assert.equal(statSync(join(stateDir, 'pki', 'root.key')).mode & 0o777, 0o600);

    const ca = readFileSync(root, 'utf8');
    for (const name of ['localhost', 'myapp.test']) {
      const result = await verifiedHandshake(port, name, ca);
      assert.equal(result.authorized, true, name);
      assert.match(result.san, /DNS:localhost/);
      assert.match(result.san, /DNS:myapp\.test/);
      assert.match(result.san, /IP Address:127\.0\.0\.1/);
      assert.match(result.san, /IP Address:(::1|0:0:0:0:0:0:0:1)/);
    }
    // A client that does not trust the local CA is refused, as it should be.
    await assert.rejects(verifiedHandshake(port, 'localhost', undefined));
    await keel.stop();
  });

  it('reuses the same CA on the next start instead of making a new one to trust', async () => {
    const before = readFileSync(join(stateDir, 'pki', 'root.crt'), 'utf8');
    const { keel, port } = await start();
    assert.doesNotMatch(keel.stderr, /created a local CA/);
    assert.equal(readFileSync(join(stateDir, 'pki', 'root.crt'), 'utf8'), before);
    const result = await verifiedHandshake(port, 'localhost', before);
    assert.equal(result.authorized, true);
  });
});
