// `keel serve --https auto` against a real ACME CA: Debian's pebble, started here. The primary alone
// talks to the CA; workers answer the challenges it pushes them (HTTP-01 on --redirect-http, TLS-ALPN-01
// on the TLS port) and serve the certificates it gets, renewed at two thirds of their lifetime.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startKeel, tempDir } from '../helpers/keel.js';
import { startPebble } from '../helpers/pebble.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const DOMAIN = 'keel-acme.test';

/** The certificate keel presents for DOMAIN, verified against pebble's issuing root. */
function presented(port, ca) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: DOMAIN, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve({ serial: cert.serialNumber, subjectaltname: cert.subjectaltname, validTo: cert.valid_to });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

async function startWithPebble({ redirect, validitySeconds }) {
  const tlsPort = await freePort();
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, tlsPort, validitySeconds });
  const stateDir = tempDir('keel-acme-state-');
  const args = ['-b', `https://127.0.0.1:${tlsPort}`, '--https', 'auto', '--domain', DOMAIN, '--acme-email', 'ops@keel-acme.test', '--acme-directory', pebble.directoryUrl, '--state-dir', stateDir];
  if (redirect) args.push('--redirect-http', `127.0.0.1:${httpPort}`);
  const keel = await startKeel('examples/hello/app.ts', args, { env: { NODE_EXTRA_CA_CERTS: pebble.caCertPath } });
  return { keel, pebble, tlsPort, stateDir };
}

for (const [challenge, redirect] of [['http-01', true], ['tls-alpn-01', false]]) {
  describe(`--https auto with ${challenge}`, () => {
    let run;
    before(async () => {
      run = await startWithPebble({ redirect, validitySeconds: challenge === 'http-01' ? 15 : 3600 });
    });
    after(async () => {
      await run?.keel.stop();
      await run?.pebble.stop();
    });

    it('gets a certificate from the CA and serves it; workers never talk to the CA', async () => {
      await waitFor(() => run.keel.errorLog().some((e) => /new certificate from the ACME CA/.test(e.msg ?? '')), { timeout: 30_000, what: 'a certificate from pebble' });
      const roots = await run.pebble.issuingRoots();
      const cert = await waitFor(() => presented(run.tlsPort, roots).catch(() => false), { timeout: 10_000, what: 'the issued certificate served' });
      assert.match(cert.subjectaltname, new RegExp(`DNS:${DOMAIN.replace('.', '\\.')}`));
      // Every line about the CA comes from the primary.
      const acmeLines = run.keel.errorLog().filter((e) => /ACME|certificate from|challenge|order/i.test(e.msg ?? ''));
      assert.ok(acmeLines.length > 0);
      for (const line of acmeLines) assert.equal(line.role, 'primary', JSON.stringify(line));
    });

    it('keeps the account key and the certificate in the state dir, readable only by the owner', () => {
      const acmeDir = join(run.stateDir, 'acme');
      assert.equal(statSync(acmeDir).mode & 0o777, 0o700);
      const files = [];
      const walk = (dir) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) walk(path);
          else files.push(path);
        }
      };
      walk(acmeDir);
      const keys = files.filter((f) => f.endsWith('.key') || f.endsWith('key.pem'));
      assert.ok(keys.length >= 2, `account key and certificate key in ${files.join(', ')}`);
      for (const key of keys) assert.equal(statSync(key).mode & 0o077, 0, `${key} is private`);
    });

    if (challenge === 'http-01') {
      it('renews at two thirds of a short lifetime, without a restart, and serves the new certificate', async () => {
        const roots = await run.pebble.issuingRoots();
        const first = await presented(run.tlsPort, roots);
        const renewed = await waitFor(async () => {
          const now = await presented(run.tlsPort, roots).catch(() => null);
          return now && now.serial !== first.serial && now;
        }, { timeout: 40_000, interval: 500, what: 'a renewed certificate (15 s lifetime, renewal at 10 s)' });
        assert.notEqual(renewed.serial, first.serial);
      });
    }
  });
}
