// AcmeManager (src/tls/acme.ts) against a real ACME server, pebble: issuance over http-01 and over
// tls-alpn-01, stored files and account reuse, renewal of short-lived certificates, and a CA that is down.
//
// The manager runs in a child process (this same file, in driver mode) because the ACME client trusts
// the CA's HTTPS only through NODE_EXTRA_CA_CERTS, which Node reads at start-up, exactly as keel's
// primary does. The driver answers challenges with real listeners and reports log lines, certificates
// and challenge calls to the test as JSON lines on stdout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createSecureContext, createServer as createTlsServer } from 'node:tls';

const DRIVER = process.env.KEEL_ACME_DRIVER;

if (DRIVER) await runDriver(JSON.parse(DRIVER));
else await defineTests();

// ---------------------------------------------------------------------------------------------------
// Driver mode: one AcmeManager with a real challenge responder.

async function runDriver(options) {
  const { AcmeManager } = await import('../../dist/tls/acme.js');
  const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');
  process.on('uncaughtException', (err) => {
    emit({ type: 'crash', message: err.stack ?? String(err) });
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    emit({ type: 'crash', message: err?.stack ?? String(err) });
    process.exit(1);
  });

  const http01 = new Map();
  const alpn = new Map();
  if (options.httpPort) {
    const server = createHttpServer((req, res) => {
      const match = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url);
      const answer = match && req.method === 'GET' ? http01.get(match[1]) : undefined;
      emit({ type: 'http-01 request', url: req.url, answered: answer !== undefined });
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain' });
      res.end(answer ?? 'not found');
    });
    await new Promise((resolve, reject) => server.once('error', reject).listen(options.httpPort, '127.0.0.1', resolve));
  }
  if (options.tlsPort) {
    const server = createTlsServer({
      ALPNProtocols: ['acme-tls/1'],
      SNICallback(servername, callback) {
        const context = alpn.get(servername.toLowerCase());
        emit({ type: 'tls-alpn-01 handshake', servername, answered: context !== undefined });
        callback(context ? null : new Error(`no tls-alpn-01 challenge for ${servername}`), context);
      },
    });
    server.on('tlsClientError', () => {});
    await new Promise((resolve, reject) => server.once('error', reject).listen(options.tlsPort, '127.0.0.1', resolve));
  }

  const responder = {
    async addHttp01(token, keyAuthorization) {
      emit({ type: 'responder', op: 'addHttp01', token });
      http01.set(token, keyAuthorization);
    },
    async removeHttp01(token) {
      emit({ type: 'responder', op: 'removeHttp01', token });
      http01.delete(token);
    },
    async addTlsAlpn01(domain, certPem, keyPem) {
      emit({ type: 'responder', op: 'addTlsAlpn01', domain });
      alpn.set(domain, createSecureContext({ cert: certPem, key: keyPem }));
    },
    async removeTlsAlpn01(domain) {
      emit({ type: 'responder', op: 'removeTlsAlpn01', domain });
      alpn.delete(domain);
    },
  };
  const logAs = (level) => (fields, msg) => emit({ type: 'log', level, msg, fields });
  const manager = new AcmeManager(
    { ...options.acme, log: { info: logAs('info'), warn: logAs('warn'), error: logAs('error') } },
    responder,
  );
  // The manager's timers are unref'd, as they should be; this keeps the driver alive until killed.
  setInterval(() => {}, 60_000);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line) => {
    if (line.trim() === 'stop') {
      manager.stop();
      emit({ type: 'stopped' });
    }
  });
  const stored = manager.loadStored();
  emit({ type: 'loadStored', found: stored !== null });
  manager.start((cert) => emit({ type: 'cert', certPem: cert.certPem, keyPem: cert.keyPem, domains: cert.domains, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() }));
  emit({ type: 'started' });
}

// ---------------------------------------------------------------------------------------------------
// Test mode.

async function defineTests() {
  const { after, before, describe, it } = await import('node:test');
  const { startPebble } = await import('../helpers/pebble.js');
  const { freePort } = await import('../helpers/ports.js');
  const { sleep, waitFor } = await import('../helpers/wait.js');

  const drivers = new Set();
  const tempDirs = new Set();
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-acme-test-'));
    tempDirs.add(dir);
    return dir;
  };

  /** Starts a driver child; returns { events, logs(), certs(), waitFor(pred, what, timeout), send(line), stop() }. */
  function startDriver({ pebble, httpPort, tlsPort, acme, trustPebble = true }) {
    const env = { ...process.env, KEEL_ACME_DRIVER: JSON.stringify({ httpPort, tlsPort, acme }) };
    delete env.NODE_EXTRA_CA_CERTS;
    if (pebble && trustPebble) env.NODE_EXTRA_CA_CERTS = pebble.caCertPath;
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, [import.meta.filename], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const driver = {
      child,
      events: [],
      stderr: '',
      exit: null,
      logs: () => driver.events.filter((e) => e.type === 'log'),
      certs: () => driver.events.filter((e) => e.type === 'cert'),
      async waitFor(predicate, what, timeout = 20_000) {
        try {
          // A crash or an exit ends the wait at once (helpers' waitFor would retry a throwing check until its timeout).
          let ended = null;
          const value = await waitFor(() => {
            const crash = driver.events.find((e) => e.type === 'crash');
            if (crash) ended = new Error(`the driver crashed: ${crash.message}`);
            else if (driver.exit) ended = new Error(`the driver exited (${JSON.stringify(driver.exit)})`);
            return ended ?? predicate(driver.events);
          }, { timeout, interval: 50, what });
          if (ended) throw ended;
          return value;
        } catch (err) {
          const events = driver.events.map((e) => JSON.stringify(e.type === 'cert' ? { type: 'cert', notAfter: e.notAfter } : e)).join('\n');
          err.message += `\ndriver events:\n${events}\ndriver stderr:\n${driver.stderr}\n${pebble ? pebble.output().slice(-3000) : ''}`;
          throw err;
        }
      },
      send(line) {
        child.stdin.write(line + '\n');
      },
      async stop() {
        drivers.delete(driver);
        if (driver.exit) return;
        child.kill('SIGKILL');
        await waitFor(() => driver.exit, { timeout: 5000, what: 'the driver to die' }).catch(() => {});
      },
    };
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          driver.events.push(JSON.parse(line));
        } catch {
          driver.stderr += `(stdout) ${line}\n`;
        }
      }
    });
    child.stderr.on('data', (d) => (driver.stderr += d));
    child.on('exit', (code, signal) => (driver.exit = { code, signal }));
    drivers.add(driver);
    return driver;
  }

  const logged = (driver, msg) => driver.logs().filter((e) => e.msg === msg || e.msg.startsWith(msg));

  /** A real TLS handshake with the issued certificate, trusting only pebble's issuing root, checking `name`. */
  async function verifyServes(cert, root, name) {
    const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      return await new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: server.address().port, servername: name, ca: root, timeout: 5000 }, () => {
          const peer = socket.getPeerCertificate();
          socket.destroy();
          resolve({ authorized: socket.authorized, subjectaltname: peer.subjectaltname });
        });
        socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
        socket.on('error', reject);
      });
    } finally {
      server.close();
    }
  }

  const mode = (path) => statSync(path).mode & 0o777;
  const serial = (certPem) => new X509Certificate(certPem).serialNumber;

  after(async () => {
    await Promise.all([...drivers].map((d) => d.stop()));
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  describe('AcmeManager against pebble', () => {
    let pebble;
    let httpPort;
    let tlsPort;
    let root;
    before(async () => {
      [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
      pebble = await startPebble({ httpPort, tlsPort, validitySeconds: 3600 });
      root = await pebble.issuingRoots();
    });
    after(async () => {
      await pebble?.stop();
    });

    describe('http-01', () => {
      let stateDir;
      let first;
      let firstCert;
      before(async () => {
        stateDir = tempDir();
        first = startDriver({ pebble, httpPort, tlsPort, acme: { directoryUrl: pebble.directoryUrl, email: 'ops@keel-acme.test', domains: ['keel-acme.test', 'www.keel-acme.test'], stateDir } });
        await first.waitFor(() => first.certs().length === 1, 'the first certificate');
        // The renewal is scheduled just after the certificate is handed over: its log line can trail it.
        await first.waitFor(() => logged(first, 'acme: renewal scheduled').length > 0, 'the renewal to be scheduled');
        firstCert = first.certs()[0];
      });
      after(async () => {
        await first?.stop();
      });

      it('obtains a certificate that verifies against pebble\'s root and covers every domain', async () => {
        assert.deepEqual([...firstCert.domains].sort(), ['keel-acme.test', 'www.keel-acme.test']);
        for (const name of ['keel-acme.test', 'www.keel-acme.test']) {
          const result = await verifyServes(firstCert, root, name);
          assert.equal(result.authorized, true, `TLS to ${name} with the issued certificate is trusted`);
        }
        const lifetime = Date.parse(firstCert.notAfter) - Date.parse(firstCert.notBefore);
        assert.ok(Math.abs(lifetime - 3600_000) < 5000, `about an hour long: ${lifetime} ms`);
      });

      it('answered http-01 through the responder and removed the answers afterwards', () => {
        const ops = first.events.filter((e) => e.type === 'responder');
        const added = ops.filter((e) => e.op === 'addHttp01');
        assert.ok(added.length >= 1, 'at least one http-01 challenge (pebble may reuse a valid authorization)');
        assert.equal(ops.filter((e) => e.op === 'removeHttp01').length, added.length);
        assert.equal(ops.filter((e) => e.op.includes('TlsAlpn01')).length, 0);
        assert.ok(first.events.some((e) => e.type === 'http-01 request' && e.answered), 'pebble fetched an answer');
      });

      it('logs each step', () => {
        assert.equal(logged(first, 'acme: ordering certificate').length, 1);
        assert.equal(logged(first, 'acme: account registered').length, 1);
        assert.equal(logged(first, 'acme: account ready').length, 1);
        assert.ok(logged(first, 'acme: answering http-01 challenge').every((e) => e.fields.challenge === 'http-01'));
        const issued = logged(first, 'acme: certificate issued');
        assert.equal(issued.length, 1);
        assert.equal(issued[0].fields.notAfter, firstCert.notAfter);
        const scheduled = logged(first, 'acme: renewal scheduled');
        assert.equal(scheduled.length, 1);
        const expected = Date.parse(firstCert.notBefore) + (2 / 3) * (Date.parse(firstCert.notAfter) - Date.parse(firstCert.notBefore));
        assert.ok(Math.abs(Date.parse(scheduled[0].fields.renewAt) - expected) < 1000, `renewal at 2/3 of the lifetime: ${scheduled[0].fields.renewAt}`);
        assert.equal(first.logs().filter((e) => e.level !== 'info').length, 0, 'no warnings or errors');
      });

      it('stores the account key and the certificate with tight modes, written atomically', () => {
        const acmeDir = join(stateDir, 'acme');
        const certDir = join(acmeDir, 'keel-acme.test');
        assert.equal(mode(acmeDir), 0o700);
        assert.equal(mode(certDir), 0o700);
        assert.equal(mode(join(acmeDir, 'account.key')), 0o600);
        assert.equal(mode(join(certDir, 'key.pem')), 0o600);
        assert.equal(mode(join(certDir, 'cert.pem')), 0o644);
        assert.equal(readFileSync(join(certDir, 'cert.pem'), 'utf8'), firstCert.certPem);
        assert.equal(readFileSync(join(certDir, 'key.pem'), 'utf8'), firstCert.keyPem);
        const meta = JSON.parse(readFileSync(join(certDir, 'meta.json'), 'utf8'));
        assert.equal(meta.notAfter, firstCert.notAfter);
        assert.equal(meta.directoryUrl, pebble.directoryUrl);
        for (const dir of [acmeDir, certDir]) assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], `no temp files left in ${dir}`);
      });

      it('a second manager on the same state dir uses the stored certificate without ordering', async () => {
        const again = startDriver({ pebble, httpPort: null, tlsPort: null, acme: { directoryUrl: pebble.directoryUrl, email: null, domains: ['KEEL-ACME.test', 'www.keel-acme.test', 'keel-acme.test'], stateDir } });
        try {
          await again.waitFor(() => again.certs().length === 1, 'the stored certificate');
          // The renewal is scheduled just after the certificate is handed over: its log line can trail it.
          await again.waitFor(() => logged(again, 'acme: renewal scheduled').length > 0, 'the renewal to be scheduled');
          assert.ok(again.events.some((e) => e.type === 'loadStored' && e.found));
          assert.equal(serial(again.certs()[0].certPem), serial(firstCert.certPem));
          assert.equal(logged(again, 'acme: using stored certificate').length, 1);
          assert.equal(logged(again, 'acme: renewal scheduled').length, 1);
          assert.equal(logged(again, 'acme: ordering certificate').length, 0);
        } finally {
          await again.stop();
        }
      });

      it('a manager for other domains on the same state dir reuses the account key and account', async () => {
        await first.stop(); // frees the challenge ports
        const accountKey = readFileSync(join(stateDir, 'acme', 'account.key'));
        const other = startDriver({ pebble, httpPort, tlsPort, acme: { directoryUrl: pebble.directoryUrl, email: null, domains: ['other.keel-acme.test'], stateDir } });
        try {
          await other.waitFor(() => other.certs().length === 1, 'the certificate for other.keel-acme.test');
          assert.deepEqual(readFileSync(join(stateDir, 'acme', 'account.key')), accountKey, 'the account key is unchanged');
          assert.equal(logged(other, 'acme: created account key').length, 0);
          assert.equal(logged(other, 'acme: account registered').length, 0, 'no new registration');
          assert.equal(logged(other, 'acme: account ready')[0].fields.account, logged(first, 'acme: account ready')[0].fields.account, 'the same ACME account');
          assert.ok(existsSync(join(stateDir, 'acme', 'other.keel-acme.test', 'cert.pem')));
          assert.equal((await verifyServes(other.certs()[0], root, 'other.keel-acme.test')).authorized, true);
        } finally {
          await other.stop();
        }
      });
    });

    it('tls-alpn-01 only: answers on the TLS port, never over HTTP', async () => {
      const driver = startDriver({ pebble, httpPort: null, tlsPort, acme: { directoryUrl: pebble.directoryUrl, email: null, domains: ['alpn.keel-acme.test'], stateDir: tempDir(), challenges: ['tls-alpn-01'] } });
      try {
        await driver.waitFor(() => driver.certs().length === 1, 'a certificate over tls-alpn-01');
        const ops = driver.events.filter((e) => e.type === 'responder').map((e) => e.op);
        assert.deepEqual(ops, ['addTlsAlpn01', 'removeTlsAlpn01']);
        assert.ok(driver.events.some((e) => e.type === 'tls-alpn-01 handshake' && e.answered && e.servername === 'alpn.keel-acme.test'));
        assert.equal(logged(driver, 'acme: answering tls-alpn-01 challenge')[0].fields.challenge, 'tls-alpn-01');
        assert.equal((await verifyServes(driver.certs()[0], root, 'alpn.keel-acme.test')).authorized, true);
      } finally {
        await driver.stop();
      }
    });
  });

  describe('trust in the CA\'s HTTPS', () => {
    let pebble;
    let driver;
    after(async () => {
      await driver?.stop();
      await pebble?.stop();
    });

    it('comes from the system CAs plus NODE_EXTRA_CA_CERTS: without it, pebble is not trusted and the log says why', async () => {
      const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
      pebble = await startPebble({ httpPort, tlsPort });
      driver = startDriver({ pebble, trustPebble: false, httpPort, tlsPort, acme: { directoryUrl: pebble.directoryUrl, email: null, domains: ['untrusted.keel-acme.test'], stateDir: tempDir(), retry: { firstMs: 60_000, maxMs: 60_000 } } });
      await driver.waitFor(() => logged(driver, 'acme: certificate order failed').length === 1, 'the failed order');
      const [failure] = logged(driver, 'acme: certificate order failed');
      assert.match(failure.fields.err.message, /certificate/i, 'the TLS trust failure is named');
      assert.equal(failure.fields.retryInMs, 60_000);
      assert.equal(driver.certs().length, 0);
    });
  });

  describe('renewal of short-lived certificates', () => {
    let pebble;
    let driver;
    before(async () => {
      const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
      // 15 s certificates: renewal is due 10 s in (2/3 of the lifetime).
      pebble = await startPebble({ httpPort, tlsPort, validitySeconds: 15 });
      driver = startDriver({ pebble, httpPort, tlsPort, acme: { directoryUrl: pebble.directoryUrl, email: null, domains: ['renew.keel-acme.test'], stateDir: tempDir() } });
    });
    after(async () => {
      await driver?.stop();
      await pebble?.stop();
    });

    it('orders a new certificate at 2/3 of the lifetime and hands it over', async () => {
      await driver.waitFor(() => driver.certs().length === 1, 'the first certificate');
      const firstAt = Date.now();
      await driver.waitFor(() => driver.certs().length === 2, 'the renewed certificate', 30_000);
      const [one, two] = driver.certs();
      assert.notEqual(serial(two.certPem), serial(one.certPem));
      assert.ok(Date.parse(two.notAfter) > Date.parse(one.notAfter));
      const waited = Date.now() - firstAt;
      assert.ok(waited < 15_000, `renewed within 15 s (${waited} ms)`);
      const scheduled = logged(driver, 'acme: renewal scheduled');
      assert.ok(scheduled.length >= 2);
      const expected = Date.parse(one.notBefore) + 10_000;
      assert.ok(Math.abs(Date.parse(scheduled[0].fields.renewAt) - expected) < 1000, `first renewal at notBefore + 10 s: ${scheduled[0].fields.renewAt}`);
      assert.equal(logged(driver, 'acme: certificate issued').length, 2);
      assert.equal(driver.logs().filter((e) => e.level !== 'info').length, 0, 'no warnings or errors');
    });
  });

  describe('a CA that does not answer', () => {
    let driver;
    after(async () => {
      await driver?.stop();
    });

    it('logs each failure and retries with backoff, never throwing; stop() ends it quietly', async () => {
      const closedPort = await freePort();
      const stateDir = tempDir();
      driver = startDriver({ pebble: null, httpPort: null, tlsPort: null, acme: { directoryUrl: `https://127.0.0.1:${closedPort}/dir`, email: null, domains: ['down.keel-acme.test'], stateDir, retry: { firstMs: 200, maxMs: 1000 } } });
      await driver.waitFor(() => driver.events.some((e) => e.type === 'started'), 'start() to return');
      await driver.waitFor(() => logged(driver, 'acme: certificate order failed').length >= 2, 'two failed orders', 20_000);
      const failures = logged(driver, 'acme: certificate order failed');
      assert.equal(failures[0].level, 'error');
      assert.deepEqual(failures.slice(0, 2).map((e) => e.fields.retryInMs), [200, 400]);
      assert.match(failures[0].fields.err.message, /ECONNREFUSED/);
      assert.match(failures[0].msg, /retrying in 200 ms/);
      assert.equal(driver.certs().length, 0);
      assert.equal(driver.exit, null, 'the process is still running');
      assert.equal(mode(join(stateDir, 'acme', 'account.key')), 0o600, 'the account key was made before the CA was reached');

      driver.send('stop');
      await driver.waitFor(() => driver.events.some((e) => e.type === 'stopped'), 'stop()');
      const count = driver.logs().length;
      // Were an order still in flight at stop() (one starts every 200-1000 ms here), its failure must stay quiet.
      await sleep(2500);
      assert.equal(driver.logs().length, count, `nothing logged after stop(): ${JSON.stringify(driver.logs().slice(count))}`);
      assert.equal(driver.events.filter((e) => e.type === 'crash').length, 0);
    });
  });
}
