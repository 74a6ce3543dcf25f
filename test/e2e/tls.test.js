// HTTPS (issue 4), black-box against the real CLI and real peers (curl, openssl s_client, h2load,
// Node's tls/https/http2 clients): TLS binds with HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3
// only, plain and TLS at once, certificates by SNI, cleartext HTTP/2 (--h2c), the HTTP→HTTPS
// redirect listener, HSTS, certificate reload (files changed on disk, HUP) under load, and every
// certificate mistake refused at start with one line and exit status 2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { get as httpsGet, Agent as HttpsAgent } from 'node:https';
import { connect as h2connect, constants as h2constants, sensitiveHeaders } from 'node:http2';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { makeCertificates, normalSerial } from '../helpers/certs.js';
import { runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { connectable, freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const UUIDISH = /^[A-Za-z0-9._-]{8,}$/;
/**
 * The TLS version s_client negotiated, or null when no handshake completed. Its session block's
 * `Protocol  : TLSv1.x` says so for TLS 1.2 and older; that block is not always printed for TLS 1.3,
 * whose `New, TLSv1.3, Cipher is …` line (the cipher's version, which only TLS 1.3 suites have) is used then.
 */
function sessionVersion(out) {
  if (NO_SESSION.test(out)) return null;
  return /^\s*Protocol\s*:\s*(TLSv1(?:\.[0-3])?)$/m.exec(out)?.[1] ?? /^New, (TLSv1\.3), Cipher is /m.exec(out)?.[1] ?? null;
}
/** What s_client prints when no handshake completed (its session block may still name the version it tried). */
const NO_SESSION = /^New, \(NONE\), Cipher is \(NONE\)$/m;
/** An OpenSSL client that is itself willing to speak TLS 1.0/1.1 (OpenSSL 3 refuses them at its default security level). */
const LEGACY_CLIENT_CIPHERS = 'DEFAULT@SECLEVEL=0';

// ---- certificates and the app, shared by every keel in this file ----

const pki = makeCertificates();
after(() => pki.cleanup());
/** Covers every name the tests dial: 127.0.0.1, localhost, example.test, app.localhost. */
const main = pki.leaf('main.test', { dns: ['main.test', 'localhost', 'app.localhost', 'example.test'], ip: ['127.0.0.1'] });
const CA = pki.ca.certPem;

const APP_DIR = tempDir('keel-tls-app-');
const APP = join(APP_DIR, 'tls-app.mjs');
writeFileSync(
  APP,
  `// Written by test/e2e/tls.test.js: / says what the app saw, /echo echoes a body, /stream writes three chunks 150 ms apart.
export default function app(req, res) {
  const path = req.url.split('?')[0];
  if (path === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
    return;
  }
  if (path === '/stream') {
    let n = 0;
    let timer;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const tick = () => {
      n += 1;
      res.write('chunk ' + n + '\\n');
      if (n === 3) res.end();
      else timer = setTimeout(tick, 150);
    };
    res.on('close', () => clearTimeout(timer));
    tick();
    return;
  }
  const body = JSON.stringify({ httpVersion: req.httpVersion, scheme: req.keel ? req.keel.scheme : null, url: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
`,
);

// ---- clients ----

/** Runs a peer to completion with stdin at EOF (s_client quits after the handshake): { code, stdout, stderr }; never throws. */
function run(command, args, { timeout = 20_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (err) => (stderr += String(err)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? `killed by ${signal} after ${timeout} ms`, stdout, stderr });
    });
  });
}

/**
 * curl one URL; returns { code, version ('1.1' | '2'), status, headers (lower-case names), body, stderr }.
 * extra: more curl arguments (--http2, --resolve, -H …). TLS URLs trust the test CA.
 */
async function curl(url, extra = []) {
  const r = await run('curl', ['-sS', '--max-time', '10', '--cacert', pki.ca.cert, '-i', '-w', '\n@@ %{http_version} %{http_code}', ...extra, url]);
  if (r.code !== 0) return { code: r.code, stderr: r.stderr };
  const at = r.stdout.lastIndexOf('\n@@ ');
  const [version, status] = r.stdout.slice(at + 4).trim().split(' ');
  const text = r.stdout.slice(0, at);
  const split = text.indexOf('\r\n\r\n');
  const headers = {};
  for (const line of text.slice(0, split).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { code: 0, version, status: Number(status), headers, body: text.slice(split + 4), stderr: r.stderr };
}

/** openssl s_client against 127.0.0.1:port; returns the run result (stdout and stderr joined in .out). */
async function sClient(port, args = []) {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca.cert, ...args]);
  return { ...r, out: `${r.stdout}\n${r.stderr}` };
}

/** One TLS handshake with Node's client: { cert, protocol, alpn, authorized }. */
function handshake(port, { servername, rejectUnauthorized = true, ALPNProtocols } = {}) {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: CA, rejectUnauthorized, ALPNProtocols });
    socket.setTimeout(10_000, () => socket.destroy(new Error('handshake timed out')));
    socket.once('secureConnect', () => {
      const result = { cert: socket.getPeerCertificate(), protocol: socket.getProtocol(), alpn: socket.alpnProtocol, authorized: socket.authorized };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

/** GET over Node's https client: { status, headers, body, reused, localPort, serial }. */
function httpsRequest(url, { agent = false, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca: CA, agent, headers, timeout: 10_000 }, (res) => {
      const serial = normalSerial(res.socket.getPeerCertificate().serialNumber);
      const localPort = res.socket.localPort;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, reused: req.reusedSocket, localPort, serial }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** An HTTP/2 session (TLS or cleartext) with a request(...) method; close() in after. */
function h2session(origin) {
  const session = h2connect(origin, { ca: CA });
  session.on('error', () => {});
  return {
    session,
    /** One stream: { status, headers, body, chunkTimes }. */
    request({ method = 'GET', path = '/', headers = {}, body } = {}) {
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':method': method, ':path': path, ...headers });
        stream.setTimeout(10_000, () => stream.close(h2constants.NGHTTP2_CANCEL));
        const chunks = [];
        const chunkTimes = [];
        let head = null;
        stream.on('response', (h) => (head = h));
        stream.on('data', (chunk) => {
          chunks.push(chunk);
          chunkTimes.push(Date.now());
        });
        stream.on('end', () => resolve({ status: head?.[':status'], headers: head ?? {}, body: Buffer.concat(chunks).toString(), chunkTimes }));
        stream.on('error', reject);
        stream.on('close', () => {
          if (!head) reject(new Error(`HTTP/2 ${method} ${path}: stream closed without a response (code ${stream.rstCode})`));
        });
        stream.end(body);
      });
    },
    close() {
      session.close();
    },
  };
}

/** Starts keel on fresh ports: binds is a list of 'http' | 'https' | 'bare' (one port each); returns { keel, ports }. */
async function startWithBinds(binds, args = [], options = {}) {
  const ports = [];
  const bindArgs = [];
  for (const scheme of binds) {
    const port = await freePort();
    ports.push(port);
    bindArgs.push('-b', scheme === 'bare' ? `127.0.0.1:${port}` : `${scheme}://127.0.0.1:${port}`);
  }
  const keel = await startKeel(APP, [...bindArgs, '--graceful-timeout', '2', ...args], { workers: 1, ...options });
  return { keel, ports };
}

const tlsArgs = (leaf = main) => ['--certfile', leaf.cert, '--keyfile', leaf.key];

// ---- one keel listening plain and TLS at once ----

describe('plain and TLS at once: -b http://… -b https://… --certfile --keyfile', () => {
  let keel;
  let plain;
  let port;
  before(async () => {
    ({ keel, ports: [plain, port] } = await startWithBinds(['http', 'https'], tlsArgs()));
  });
  after(() => keel?.stop());

  test('curl over TLS: HTTP/1.1 and HTTP/2 (by ALPN) on the same port, each with X-Request-Id', async () => {
    const h1 = await curl(`https://127.0.0.1:${port}/`, ['--http1.1']);
    assert.equal(h1.code, 0, h1.stderr);
    assert.equal(h1.version, '1.1');
    assert.equal(h1.status, 200);
    assert.match(h1.headers['x-request-id'], UUIDISH);
    assert.deepEqual(JSON.parse(h1.body), { httpVersion: '1.1', scheme: 'https', url: '/' });

    const h2 = await curl(`https://127.0.0.1:${port}/`, ['--http2']);
    assert.equal(h2.code, 0, h2.stderr);
    assert.equal(h2.version, '2');
    assert.equal(h2.status, 200);
    assert.match(h2.headers['x-request-id'], UUIDISH);
    assert.deepEqual(JSON.parse(h2.body), { httpVersion: '2.0', scheme: 'https', url: '/' });
  });

  test('the plain port answers plain HTTP/1.1 (scheme http, X-Request-Id) at the same time', async () => {
    const res = await curl(`http://127.0.0.1:${plain}/`);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.version, '1.1');
    assert.equal(res.status, 200);
    assert.match(res.headers['x-request-id'], UUIDISH);
    assert.deepEqual(JSON.parse(res.body), { httpVersion: '1.1', scheme: 'http', url: '/' });
    // And no TLS is spoken there, nor is plain HTTP served on the TLS port.
    assert.equal((await curl(`https://127.0.0.1:${plain}/`)).code, 35, 'a TLS handshake on the plain port fails');
    const plainOnTls = await curl(`http://127.0.0.1:${port}/`);
    assert.ok(plainOnTls.code !== 0 || plainOnTls.status >= 400, `plain HTTP on the TLS port got ${plainOnTls.status}`);
  });

  test('TLS 1.1 is refused (curl --tlsv1.1 --tls-max 1.1, with a client that can speak it)', async () => {
    const res = await curl(`https://127.0.0.1:${port}/`, ['--tlsv1.1', '--tls-max', '1.1', '--ciphers', LEGACY_CLIENT_CIPHERS]);
    assert.equal(res.code, 35, `curl fails in the TLS handshake (exit 35), not elsewhere: ${res.stderr}`);
  });

  test('openssl s_client: ALPN h2 over TLS 1.3; -tls1_2 negotiates TLS 1.2 with an ECDHE AEAD cipher; -tls1_1 fails', async () => {
    const h2 = await sClient(port, ['-servername', 'localhost', '-alpn', 'h2']);
    assert.equal(h2.code, 0, h2.out);
    assert.match(h2.out, /^ALPN protocol: h2$/m);
    assert.equal(sessionVersion(h2.out), 'TLSv1.3');
    assert.match(h2.out, /Verify return code: 0 \(ok\)/);

    const h1 = await sClient(port, ['-servername', 'localhost', '-alpn', 'http/1.1']);
    assert.match(h1.out, /^ALPN protocol: http\/1\.1$/m, 'HTTP/1.1 is offered by ALPN too');

    const v12 = await sClient(port, ['-servername', 'localhost', '-tls1_2', '-alpn', 'h2']);
    assert.equal(v12.code, 0, v12.out);
    assert.equal(sessionVersion(v12.out), 'TLSv1.2');
    assert.match(v12.out, /^ALPN protocol: h2$/m);
    // Default --ssl-ciphers (Mozilla intermediate): ECDHE with AES-GCM or CHACHA20 only.
    assert.match(v12.out, /^New, TLSv1\.2, Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/m);
    const cbc = await sClient(port, ['-servername', 'localhost', '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384']);
    assert.match(cbc.out, /^CONNECTED/m);
    assert.notEqual(cbc.code, 0, `a CBC cipher was accepted by default:\n${cbc.out}`);
    assert.match(cbc.out, NO_SESSION);

    const v11 = await sClient(port, ['-servername', 'localhost', '-tls1_1', '-cipher', LEGACY_CLIENT_CIPHERS]);
    assert.match(v11.out, /^CONNECTED/m, 'the TCP connection was made: the handshake is what failed');
    assert.notEqual(v11.code, 0, `TLS 1.1 handshake succeeded:\n${v11.out}`);
    assert.match(v11.out, NO_SESSION);
  });

  test('-status (an OCSP status request) does not break the handshake', async () => {
    const res = await sClient(port, ['-servername', 'localhost', '-alpn', 'h2', '-status']);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /OCSP response:/);
    assert.match(res.out, /^ALPN protocol: h2$/m);
    assert.match(res.out, /Verify return code: 0 \(ok\)/);
  });

  test('Node http2 client: GET, a POST whose body is echoed, and a streamed response that arrives in pieces', async (t) => {
    const client = h2session(`https://127.0.0.1:${port}`);
    t.after(() => client.close());
    const get = await client.request({ path: '/h2-get' });
    assert.equal(get.status, 200);
    assert.match(get.headers['x-request-id'], UUIDISH);
    assert.deepEqual(JSON.parse(get.body), { httpVersion: '2.0', scheme: 'https', url: '/h2-get' });
    // New on every response, the ID is sent never-indexed, so it does not push what repeats out of the HPACK table.
    assert.deepEqual(get.headers[sensitiveHeaders], ['x-request-id']);

    const payload = 'x'.repeat(200_000) + 'end';
    const post = await client.request({ method: 'POST', path: '/echo', headers: { 'content-type': 'text/plain' }, body: payload });
    assert.equal(post.status, 200);
    assert.equal(post.body.length, payload.length);
    assert.equal(post.body, payload);
    assert.match(post.headers['x-request-id'], UUIDISH);

    const stream = await client.request({ path: '/stream' });
    assert.equal(stream.status, 200);
    assert.equal(stream.body, 'chunk 1\nchunk 2\nchunk 3\n');
    const spread = stream.chunkTimes.at(-1) - stream.chunkTimes[0];
    assert.ok(stream.chunkTimes.length >= 2 && spread >= 200, `the chunks arrived as written, not buffered (${stream.chunkTimes.length} pieces over ${spread} ms)`);
  });

  test('Node https client: HTTP/1.1 keep-alive reuses one TLS connection', async (t) => {
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: CA });
    t.after(() => agent.destroy());
    const first = await httpsRequest(`https://127.0.0.1:${port}/ka/1`, { agent });
    const second = await httpsRequest(`https://127.0.0.1:${port}/ka/2`, { agent });
    const third = await httpsRequest(`https://127.0.0.1:${port}/ka/3`, { agent });
    for (const res of [first, second, third]) {
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).httpVersion, '1.1');
      assert.match(res.headers['x-request-id'], UUIDISH);
    }
    assert.equal(first.reused, false);
    assert.equal(second.reused, true);
    assert.equal(third.reused, true);
    assert.equal(second.localPort, first.localPort);
    assert.equal(third.localPort, first.localPort);
  });

  test('h2load -n 200 -c 4: 200 succeeded, 0 failed, over h2', async () => {
    const res = await run('h2load', ['-n', '200', '-c', '4', `https://127.0.0.1:${port}/`], { timeout: 60_000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /^Application protocol: h2$/m);
    assert.match(res.stdout, /requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored, 0 timeout/);
    assert.match(res.stdout, /status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx/);
  });

  test('the access log line of an HTTP/2 request says HTTP/2.0 (HTTP/1.1 over TLS says HTTP/1.1)', async (t) => {
    const client = h2session(`https://127.0.0.1:${port}`);
    t.after(() => client.close());
    const h2 = await client.request({ path: '/logged-h2?x=1' });
    const h2Line = await waitFor(() => keel.accessLines().find((l) => l.includes(h2.headers['x-request-id'])), { timeout: 5000, what: 'the HTTP/2 access line' });
    assert.match(h2Line, /"GET \/logged-h2\?x=1 HTTP\/2\.0" 200 /);
    const h1 = await httpsRequest(`https://127.0.0.1:${port}/logged-h1`);
    const h1Line = await waitFor(() => keel.accessLines().find((l) => l.includes(h1.headers['x-request-id'])), { timeout: 5000, what: 'the HTTP/1.1 access line' });
    assert.match(h1Line, /"GET \/logged-h1 HTTP\/1\.1" 200 /);
  });

  test('HSTS: max-age=31536000 by default on HTTPS (HTTP/1.1 and HTTP/2) for example.test; none for localhost, app.localhost, 127.0.0.1', async () => {
    for (const proto of ['--http1.1', '--http2']) {
      const res = await curl(`https://example.test:${port}/`, [proto, '--resolve', `example.test:${port}:127.0.0.1`]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.status, 200);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000', `${proto}: ${JSON.stringify(res.headers)}`);
      for (const host of ['localhost', 'app.localhost']) {
        const local = await curl(`https://${host}:${port}/`, [proto, '--resolve', `${host}:${port}:127.0.0.1`]);
        assert.equal(local.status, 200, local.stderr);
        assert.equal(local.headers['strict-transport-security'], undefined, `${proto} ${host}`);
      }
      const ip = await curl(`https://127.0.0.1:${port}/`, [proto]);
      assert.equal(ip.status, 200);
      assert.equal(ip.headers['strict-transport-security'], undefined, `${proto} 127.0.0.1`);
    }
  });

  test('HSTS is never sent on plain HTTP, even for a public Host', async () => {
    const res = await curl(`http://127.0.0.1:${plain}/`, ['-H', 'Host: example.test']);
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], undefined);
  });

  test('without --h2c, HTTP/2 with prior knowledge on the plain port fails (HTTP/1.1 only there)', async () => {
    const res = await curl(`http://127.0.0.1:${plain}/`, ['--http2-prior-knowledge']);
    assert.ok(res.code !== 0 || res.version !== '2', `got HTTP/${res.version} ${res.status} without --h2c`);
  });
});

// ---- control: the peers used above can speak TLS 1.1, so "refused" above means keel refused ----

describe('control: the TLS 1.1 clients work against a server that allows TLS 1.1', () => {
  test('curl --tlsv1.1 and s_client -tls1_1 succeed against Node with minVersion TLSv1', async (t) => {
    const { createServer } = await import('node:https');
    const server = createServer({ cert: main.certPem, key: main.keyPem, minVersion: 'TLSv1', ciphers: LEGACY_CLIENT_CIPHERS }, (req, res) => res.end('legacy ok'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    server.unref();
    const port = server.address().port;
    const res = await curl(`https://127.0.0.1:${port}/`, ['--tlsv1.1', '--tls-max', '1.1', '--ciphers', LEGACY_CLIENT_CIPHERS]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.body, 'legacy ok');
    const s = await sClient(port, ['-tls1_1', '-cipher', LEGACY_CLIENT_CIPHERS]);
    assert.equal(sessionVersion(s.out), 'TLSv1.1');
    server.closeAllConnections();
  });
});

// ---- certificates by SNI ----

describe('SNI: --cert HOST=CERT,KEY (repeatable, wildcards) beside a default --certfile', () => {
  const fallback = pki.leaf('default.test', { ip: ['127.0.0.1'] });
  const a = pki.leaf('a.test');
  const b = pki.leaf('b.test');
  const wild = pki.leaf('*.wild.test');
  let keel;
  let port;
  before(async () => {
    ({ keel, ports: [port] } = await startWithBinds(['https'], [...tlsArgs(fallback), '--cert', `a.test=${a.cert},${a.key}`, '--cert', `b.test=${b.cert},${b.key}`, '--cert', `*.wild.test=${wild.cert},${wild.key}`]));
  });
  after(() => keel?.stop());

  test('each servername gets its own certificate (subject, SAN, serial), verified against the test CA', async () => {
    for (const [name, leaf] of [['a.test', a], ['b.test', b], ['x.wild.test', wild]]) {
      const { cert, authorized } = await handshake(port, { servername: name });
      assert.equal(authorized, true, name);
      assert.equal(cert.subject.CN, leaf === wild ? '*.wild.test' : name);
      assert.equal(cert.subjectaltname, leaf === wild ? 'DNS:*.wild.test' : `DNS:${name}`);
      assert.equal(normalSerial(cert.serialNumber), leaf.serial);
    }
  });

  test('an unknown name, and no SNI at all, get the default certificate', async () => {
    for (const servername of ['c.test', 'a.test.evil', undefined]) {
      const { cert } = await handshake(port, { servername, rejectUnauthorized: false });
      assert.equal(cert.subject.CN, 'default.test', String(servername));
      assert.equal(normalSerial(cert.serialNumber), fallback.serial);
    }
  });

  test('curl to a.test and b.test verifies and gets an answer, over HTTP/2', async () => {
    for (const name of ['a.test', 'b.test']) {
      const res = await curl(`https://${name}:${port}/`, ['--http2', '--resolve', `${name}:${port}:127.0.0.1`]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.version, '2');
      assert.equal(res.status, 200);
      assert.match(res.headers['x-request-id'], UUIDISH);
    }
  });
});

// ---- TLS sources from env and a config file; a bare bind becomes TLS ----

describe('KEEL_CERTFILE/KEEL_KEYFILE: a bare -b HOST:PORT is TLS when a certificate is set', () => {
  let keel;
  let port;
  before(async () => {
    ({ keel, ports: [port] } = await startWithBinds(['bare'], [], { env: { KEEL_CERTFILE: main.cert, KEEL_KEYFILE: main.key } }));
  });
  after(() => keel?.stop());

  test('the bare bind speaks TLS (HTTP/2 by ALPN) with the certificate from the environment', async () => {
    const res = await curl(`https://127.0.0.1:${port}/`, ['--http2']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.version, '2');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).scheme, 'https');
    assert.equal(normalSerial((await handshake(port, { servername: 'localhost' })).cert.serialNumber), main.serial);
  });
});

test('the config-file key for --cert is cert (an array of HOST=CERT,KEY strings, like every key: the flag in camelCase)', async () => {
  const a = pki.leaf('cfg-a.test');
  const dir = tempDir('keel-tls-cfg-');
  writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ cert: [`cfg-a.test=${a.cert},${a.key}`] }));
  const result = await runKeel(['serve', APP, '--print-config', ...tlsArgs()], { cwd: dir, timeout: 10_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`= cfg-a\\.test=${a.cert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},\\S+ +# config file$`, 'm'));
});

// ---- cleartext HTTP/2 ----

describe('--h2c: cleartext HTTP/2 by prior knowledge, HTTP/1.1 on the same plain port', () => {
  let keel;
  let port;
  before(async () => {
    ({ keel, ports: [port] } = await startWithBinds(['bare'], ['--h2c']));
  });
  after(() => keel?.stop());

  test('curl --http2-prior-knowledge gets HTTP/2 with X-Request-Id; plain curl gets HTTP/1.1', async () => {
    const h2 = await curl(`http://127.0.0.1:${port}/`, ['--http2-prior-knowledge']);
    assert.equal(h2.code, 0, h2.stderr);
    assert.equal(h2.version, '2');
    assert.equal(h2.status, 200);
    assert.match(h2.headers['x-request-id'], UUIDISH);
    assert.deepEqual(JSON.parse(h2.body), { httpVersion: '2.0', scheme: 'http', url: '/' });
    assert.equal(h2.headers['strict-transport-security'], undefined);

    const h1 = await curl(`http://127.0.0.1:${port}/`, ['--http1.1']);
    assert.equal(h1.code, 0, h1.stderr);
    assert.equal(h1.version, '1.1');
    assert.equal(h1.status, 200);
    assert.match(h1.headers['x-request-id'], UUIDISH);
  });

  test('Node http2 client over h2c: GET and an echoed POST; the access line says HTTP/2.0', async (t) => {
    const client = h2session(`http://127.0.0.1:${port}`);
    t.after(() => client.close());
    const get = await client.request({ path: '/h2c' });
    assert.equal(get.status, 200);
    assert.equal(JSON.parse(get.body).httpVersion, '2.0');
    const post = await client.request({ method: 'POST', path: '/echo', body: 'hello h2c' });
    assert.equal(post.body, 'hello h2c');
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes(get.headers['x-request-id'])), { timeout: 5000, what: 'the h2c access line' });
    assert.match(line, /"GET \/h2c HTTP\/2\.0" 200 /);
  });
});

// ---- HTTP → HTTPS redirect listener ----

describe('--redirect-http HOST:PORT: 308 to HTTPS on the first TLS port, ACME challenges apart', () => {
  let keel;
  let port;
  let redirect;
  before(async () => {
    redirect = await freePort();
    ({ keel, ports: [port] } = await startWithBinds(['https'], [...tlsArgs(), '--redirect-http', `127.0.0.1:${redirect}`]));
  });
  after(() => keel?.stop());

  test('GET /a/b?c=1 with Host example.test → 308, Location https://example.test:PORT/a/b?c=1', async () => {
    const res = await curl(`http://127.0.0.1:${redirect}/a/b?c=1`, ['-H', 'Host: example.test']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://example.test:${port}/a/b?c=1`);
    assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
  });

  test("the Host header's own port is dropped; other methods are redirected too", async () => {
    const withPort = await curl(`http://127.0.0.1:${redirect}/x`, ['-H', `Host: example.test:${redirect}`]);
    assert.equal(withPort.status, 308);
    assert.equal(withPort.headers.location, `https://example.test:${port}/x`);
    const post = await curl(`http://127.0.0.1:${redirect}/form?q=%20y`, ['-X', 'POST', '--data', 'a=1', '-H', 'Host: example.test']);
    assert.equal(post.status, 308);
    assert.equal(post.headers.location, `https://example.test:${port}/form?q=%20y`);
  });

  test('/.well-known/acme-challenge/unknown → 404 (no pending challenge)', async () => {
    const res = await curl(`http://127.0.0.1:${redirect}/.well-known/acme-challenge/unknown`, ['-H', 'Host: example.test']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.status, 404);
    assert.equal(res.headers.location, undefined);
  });

  test('the redirect target answers over HTTPS', async () => {
    const res = await curl(`https://example.test:${port}/a/b?c=1`, ['--resolve', `example.test:${port}:127.0.0.1`]);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).url, '/a/b?c=1');
  });
});

// ---- TLS settings: --hsts VALUE, --ssl-min-version, --ca-certs ----

describe('--hsts "max-age=600;includeSubDomains;preload" --ssl-min-version TLSv1.3 --ca-certs CA', () => {
  let keel;
  let port;
  before(async () => {
    ({ keel, ports: [port] } = await startWithBinds(['https'], [...tlsArgs(), '--hsts', 'max-age=600;includeSubDomains;preload', '--ssl-min-version', 'TLSv1.3', '--ca-certs', pki.ca.cert]));
  });
  after(() => keel?.stop());

  test('the HSTS value is sent as given, over HTTP/1.1 and HTTP/2', async () => {
    for (const proto of ['--http1.1', '--http2']) {
      const res = await curl(`https://example.test:${port}/`, [proto, '--resolve', `example.test:${port}:127.0.0.1`]);
      assert.equal(res.status, 200, res.stderr);
      // Written in RFC 6797's canonical form, whatever spacing the flag used.
      assert.equal(res.headers['strict-transport-security'], 'max-age=600; includeSubDomains; preload', proto);
    }
  });

  test('TLS 1.2 is refused, TLS 1.3 works', async () => {
    const v12 = await sClient(port, ['-servername', 'localhost', '-tls1_2']);
    assert.match(v12.out, /^CONNECTED/m);
    assert.notEqual(v12.code, 0, v12.out);
    assert.match(v12.out, NO_SESSION);
    const v13 = await sClient(port, ['-servername', 'localhost', '-tls1_3']);
    assert.equal(v13.code, 0, v13.out);
    assert.equal(sessionVersion(v13.out), 'TLSv1.3');
  });

  test('the --ca-certs chain is sent after the certificate', async () => {
    const res = await sClient(port, ['-servername', 'localhost', '-showcerts']);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /^ 0 s: ?CN ?= ?main\.test$/m);
    assert.match(res.out, /^ 1 s: ?CN ?= ?keel test CA$/m);
  });
});

describe('--hsts off', () => {
  let keel;
  let port;
  before(async () => {
    ({ keel, ports: [port] } = await startWithBinds(['https'], [...tlsArgs(), '--hsts', 'off']));
  });
  after(() => keel?.stop());

  test('no Strict-Transport-Security, even for a public Host', async () => {
    for (const proto of ['--http1.1', '--http2']) {
      const res = await curl(`https://example.test:${port}/`, [proto, '--resolve', `example.test:${port}:127.0.0.1`]);
      assert.equal(res.status, 200, res.stderr);
      assert.equal(res.headers['strict-transport-security'], undefined, proto);
    }
  });
});

// ---- certificate reload ----

/** A certificate and key copied to files of their own in a temp dir, for keel to watch: { cert, key, serial }. */
function liveCopy(name, prefix) {
  const dir = tempDir(prefix);
  const first = pki.leaf(name, { dns: ['localhost'], ip: ['127.0.0.1'] });
  const live = { cert: join(dir, 'live.pem'), key: join(dir, 'live.key'), serial: first.serial };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  chmodSync(live.key, 0o600);
  return live;
}

/** Replaces the live cert/key files with a freshly issued pair by rename (as certbot and atomic writers do); returns the new serial. */
function replaceOnDisk(live, generation) {
  const next = pki.leaf(`reload-gen-${generation}`, { dns: ['localhost'], ip: ['127.0.0.1'] });
  renameSync(next.key, live.key);
  renameSync(next.cert, live.cert);
  return next.serial;
}

const servedSerial = async (port) => normalSerial((await handshake(port, { servername: 'localhost' })).cert.serialNumber);

describe('reload: certificate files changed on disk are picked up without HUP; open connections carry on', () => {
  let keel;
  let port;
  let live;
  before(async () => {
    live = liveCopy('reload-watch', 'keel-tls-live-');
    ({ keel, ports: [port] } = await startWithBinds(['https'], tlsArgs(live)));
  });
  after(() => keel?.stop());

  test('new handshakes see the new serial within a few seconds; a keep-alive connection from before still works', async (t) => {
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: CA });
    t.after(() => agent.destroy());
    assert.equal(await servedSerial(port), live.serial);
    const before = await httpsRequest(`https://127.0.0.1:${port}/before`, { agent });
    assert.equal(before.serial, live.serial);

    const next = replaceOnDisk(live, 'watch-2');
    await waitFor(async () => (await servedSerial(port)) === next, { timeout: 5000, interval: 200, what: 'new handshakes to get the new certificate' });

    const afterChange = await httpsRequest(`https://127.0.0.1:${port}/after`, { agent });
    assert.equal(afterChange.status, 200);
    assert.equal(afterChange.reused, true, 'the keep-alive connection opened before the change is still used');
    assert.equal(afterChange.localPort, before.localPort);
    assert.equal(afterChange.serial, live.serial, 'an open connection keeps the certificate it was made with');
    assert.equal((await httpsRequest(`https://127.0.0.1:${port}/fresh`)).serial, next);
  });
});

describe('reload: HUP re-reads the certificate settings', () => {
  let keel;
  let port;
  let config;
  const reloadsDone = () => keel.errorLog().filter((e) => /^reload complete/.test(e.msg ?? '')).length;
  before(async () => {
    const dir = tempDir('keel-tls-hup-');
    const first = pki.leaf('reload-hup-1', { dns: ['localhost'], ip: ['127.0.0.1'] });
    config = join(dir, 'keel.config.json');
    writeFileSync(config, JSON.stringify({ certfile: first.cert, keyfile: first.key }));
    ({ keel, ports: [port] } = await startWithBinds(['https'], ['-c', config]));
    assert.equal(await servedSerial(port), first.serial);
  });
  after(() => keel?.stop());

  test('HUP after the config file names new files: new handshakes get the new certificate; a keep-alive client carries on', async (t) => {
    // Only a re-read of the settings can find these files: the old ones stay untouched on disk.
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: CA });
    t.after(() => agent.destroy());
    assert.equal((await httpsRequest(`https://127.0.0.1:${port}/before`, { agent })).status, 200);
    const second = pki.leaf('reload-hup-2', { dns: ['localhost'], ip: ['127.0.0.1'] });
    writeFileSync(config, JSON.stringify({ certfile: second.cert, keyfile: second.key }));
    const done = reloadsDone();
    keel.signal('SIGHUP');
    await waitFor(() => reloadsDone() > done, { timeout: 20_000, what: 'the HUP reload to complete' });
    await waitFor(async () => (await servedSerial(port)) === second.serial, { timeout: 5000, interval: 200, what: 'new handshakes to get the certificate named after HUP' });
    const later = await httpsRequest(`https://127.0.0.1:${port}/after`, { agent });
    assert.equal(later.status, 200);
    assert.equal(keel.exit, null);
  });
});

describe('reload under load: files replaced and HUP while 4 clients make fresh TLS connections', () => {
  let keel;
  let port;
  let live;
  before(async () => {
    live = liveCopy('reload-load', 'keel-tls-load-');
    ({ keel, ports: [port] } = await startWithBinds(['https'], tlsArgs(live), { workers: 2 }));
  });
  after(() => keel?.stop());

  test('zero failed handshakes or requests; both certificates were served', async () => {
    const result = { ok: 0, failed: 0, errors: [], serials: new Map() };
    let running = true;
    const deadline = Date.now() + 45_000;
    const loops = Array.from({ length: 4 }, async (_, i) => {
      while (running && Date.now() < deadline) {
        try {
          const res = await httpsRequest(`https://127.0.0.1:${port}/load/${i}`);
          if (res.status === 200) result.ok++;
          else result.failed++;
          result.serials.set(res.serial, (result.serials.get(res.serial) ?? 0) + 1);
        } catch (err) {
          result.failed++;
          if (result.errors.length < 20) result.errors.push(`${err.code ?? ''} ${err.message}`);
        }
      }
    });
    const reloadsDone = () => keel.errorLog().filter((e) => /^reload complete/.test(e.msg ?? '')).length;
    try {
      const started = Date.now();
      await waitFor(() => result.ok >= 20, { timeout: 10_000, what: 'the load to warm up' });
      const next = replaceOnDisk(live, 'load-2');
      await waitFor(() => result.serials.has(next), { timeout: 5000, what: 'the load to see the replaced certificate' });
      const done = reloadsDone();
      keel.signal('SIGHUP');
      await waitFor(() => reloadsDone() > done, { timeout: 20_000, what: 'the HUP reload to complete' });
      const ok = result.ok;
      await waitFor(() => result.ok >= ok + 20 && Date.now() - started >= 3000, { timeout: 10_000, what: 'the load to go on after the reload' });
    } finally {
      running = false;
      await Promise.all(loops);
    }
    assert.equal(result.failed, 0, JSON.stringify({ ...result, serials: Object.fromEntries(result.serials) }));
    assert.ok(result.serials.has(live.serial), 'the first certificate was served');
    assert.equal(result.serials.size, 2, JSON.stringify(Object.fromEntries(result.serials)));
  });
});

// ---- mistakes: one line, exit 2, nothing listens ----

describe('certificate mistakes: `keel: …` on stderr, exit status 2, nothing listening', { concurrency: 4 }, () => {
  const dir = tempDir('keel-tls-bad-');
  const missing = join(dir, 'missing.pem');
  const other = pki.leaf('other.test');
  const expired = pki.leaf('old.test', { notBefore: '2024-01-01T00:00:00Z', notAfter: '2024-01-31T00:00:00Z' });
  const future = pki.leaf('future.test', { notBefore: '2030-01-01T00:00:00Z', notAfter: '2031-01-01T00:00:00Z' });
  const names = pki.leaf('names', { dns: ['example.com', '*.example.org'] });
  const readable = pki.leaf('readable.test', { keyMode: 0o644 });
  const notPem = join(dir, 'not-pem.txt');
  writeFileSync(notPem, 'this is not a certificate\n', { mode: 0o600 });
  chmodSync(notPem, 0o600);
  // A certificate given as the key (PEM, but not a private key), private to its owner so the mode is not what is wrong.
  const certAsKey = join(dir, 'cert-as-key.pem');
  copyFileSync(main.cert, certAsKey);
  chmodSync(certAsKey, 0o600);

  /** Runs keel serve with these TLS arguments on an https bind; checks status 2, the one stderr line, and that nothing listens. */
  async function refused(args) {
    const port = await freePort();
    const adminPort = await freePort();
    const result = await runKeel(['serve', APP, '-b', `https://127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--workers', '1', ...args], { timeout: 10_000 });
    assert.equal(result.code, 2, `expected exit status 2, got ${result.code}\nstderr: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.equal(await connectable(port), false, 'something listens on the TLS bind');
    assert.equal(await connectable(adminPort), false, 'something listens on the admin address');
    return result.stderr.trimEnd();
  }

  const cases = [
    ['missing --certfile', ['--certfile', missing, '--keyfile', main.key], `keel: --certfile: ${missing} does not exist`],
    ['missing --keyfile', ['--certfile', main.cert, '--keyfile', missing], `keel: --keyfile: ${missing} does not exist`],
    ['missing --ca-certs', [...tlsArgs(), '--ca-certs', missing], `keel: --ca-certs: ${missing} does not exist`],
    ['missing --cert certificate', [...tlsArgs(), '--cert', `a.test=${missing},${other.key}`], `keel: --cert a.test: ${missing} does not exist`],
    ['missing --cert key', [...tlsArgs(), '--cert', `other.test=${other.cert},${missing}`], `keel: --cert other.test: ${missing} does not exist`],
    ['key that does not match', ['--certfile', main.cert, '--keyfile', other.key], `keel: --keyfile: the key in ${other.key} does not match the certificate in ${main.cert}`],
    ['--cert key that does not match', [...tlsArgs(), '--cert', `other.test=${other.cert},${main.key}`], `keel: --cert other.test: the key in ${main.key} does not match the certificate in ${other.cert}`],
    ['expired certificate', tlsArgs(expired), `keel: --certfile: the certificate in ${expired.cert} expired on 2024-01-31T00:00:00.000Z`],
    ['expired --cert certificate', [...tlsArgs(), '--cert', `old.test=${expired.cert},${expired.key}`], `keel: --cert old.test: the certificate in ${expired.cert} expired on 2024-01-31T00:00:00.000Z`],
    ['certificate not yet valid', tlsArgs(future), `keel: --certfile: the certificate in ${future.cert} is not valid until 2030-01-01T00:00:00.000Z`],
    ['--domain the certificate does not cover', [...tlsArgs(names), '--domain', 'www.example.com'], `keel: --domain www.example.com: the certificate in ${names.cert} covers only example.com, *.example.org`],
    ['key readable by other users', tlsArgs(readable), `keel: --keyfile: ${readable.key} is readable by other users (mode 0644); run: chmod 600 ${readable.key}`],
    ['certificate file that is not PEM', ['--certfile', notPem, '--keyfile', main.key], `keel: --certfile: ${notPem} is not a PEM certificate`],
    ['key file that is not PEM', ['--certfile', main.cert, '--keyfile', notPem], `keel: --keyfile: ${notPem} is not a PEM private key`],
    ['a certificate given as the key', ['--certfile', main.cert, '--keyfile', certAsKey], `keel: --keyfile: ${certAsKey} is not a PEM private key`],
    ['a key given as the certificate', ['--certfile', main.key, '--keyfile', main.key], `keel: --certfile: ${main.key} is not a PEM certificate`],
  ];
  for (const [what, args, line] of cases) {
    test(what, async () => {
      assert.equal(await refused(args), line);
    });
  }

  // A --cert pair must cover its HOST, or clients asking for HOST would get a certificate they reject.
  test('--cert HOST whose certificate does not cover HOST', async () => {
    assert.equal(await refused([...tlsArgs(), '--cert', `a.test=${other.cert},${other.key}`]), `keel: --cert a.test: the certificate in ${other.cert} covers only other.test`);
  });
});
