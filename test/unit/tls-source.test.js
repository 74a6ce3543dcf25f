// The primary's certificate source for --https local: the certificate it issues at start is
// reissued, in the background, at two thirds of its 7-day lifetime, and workers are sent the new one.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, mock, test } from 'node:test';
import { resolveConfig } from '../../dist/config/resolve.js';
import { TlsSource } from '../../dist/tls/tls-source.js';
import { waitFor } from '../helpers/wait.js';

const quietLog = { info() {}, warn() {}, error() {}, debug() {}, fatal() {} };
const stateDir = mkdtempSync(join(tmpdir(), 'keel-tls-source-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

test('--https local reissues its certificate at two thirds of its lifetime and pushes it', async () => {
  const config = await resolveConfig({
    cli: { bind: ['https://127.0.0.1:8443'], https: 'local', stateDir },
    appArg: 'examples/hello/app.ts',
    env: {},
    cwd: process.cwd(),
  });
  const source = await TlsSource.create(config, quietLog, () => {});
  const first = new X509Certificate(source.current().certificates.at(-1).certPem);
  const validMs = Date.parse(first.validTo) - Date.parse(first.validFrom);
  assert.ok(validMs > 6 * 86_400_000 && validMs < 8 * 86_400_000, `a week-long certificate (${first.validFrom} – ${first.validTo})`);

  const pushed = [];
  source.onChange((material) => pushed.push(material));
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    source.start();
    mock.timers.tick((validMs * 2) / 3 - 60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pushed.length, 0, 'nothing before two thirds of the lifetime');
    // This fires the renewal; issuing then runs on WebCrypto's real promises.
    mock.timers.tick(120_000);
  } finally {
    mock.timers.reset();
  }
  try {
    await waitFor(() => pushed.length > 0, { timeout: 15_000, what: 'the reissued certificate' });
  } finally {
    source.stop();
  }
  assert.equal(pushed.length, 1, 'the new certificate was pushed to the workers');
  const second = new X509Certificate(pushed[0].certificates.at(-1).certPem);
  assert.notEqual(second.serialNumber, first.serialNumber);
  assert.ok(second.checkHost('localhost'));
});

test('--https local with a --cert file: a changed file replaces its certificate and keeps the local default', async () => {
  const { makeCertificates } = await import('../helpers/certs.js');
  const pki = makeCertificates();
  try {
    const other = pki.leaf('other.test');
    const config = await resolveConfig({
      cli: { bind: ['https://127.0.0.1:8443'], https: 'local', stateDir, cert: [`other.test=${other.cert},${other.key}`] },
      appArg: 'examples/hello/app.ts',
      env: {},
      cwd: process.cwd(),
    });
    const source = await TlsSource.create(config, quietLog, () => {});
    const serialOf = (material, hosts) => new X509Certificate(material.certificates.find((b) => JSON.stringify(b.hosts) === JSON.stringify(hosts)).certPem).serialNumber;
    const localSerial = serialOf(source.current(), null);
    const pushed = [];
    source.onChange((material) => pushed.push(material));
    source.start();
    try {
      const renewed = pki.leaf('other.test');
      await waitFor(() => pushed.length > 0, { timeout: 10_000, what: 'the changed --cert file to be read' });
      const latest = pushed.at(-1);
      assert.equal(serialOf(latest, ['other.test']).replace(/^0+/, ''), renewed.serial);
      assert.equal(serialOf(latest, null), localSerial, 'the local default certificate is kept');
    } finally {
      source.stop();
    }
  } finally {
    pki.cleanup();
  }
});
