// keel doctor --url against real servers started here on loopback: Flask's development server with
// debug on, Gunicorn with Flask, Express run bare in development and in production, Nginx set up
// with every flaw and without any, and keel itself. Each finding must come from a server that has
// the flaw and be absent from one that does not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { ROOT, killTree, runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { connectable, freePort } from '../helpers/ports.js';
import { startDev } from '../helpers/dev.js';
import { waitFor } from '../helpers/wait.js';
import { makeCertificates } from '../helpers/certs.js';

// `.test` names resolve to 127.0.0.1 inside doctor, so HSTS and certificate names can be checked by name.
const RESOLVE_TEST_NAMES = `--import=${pathToFileURL(join(ROOT, 'test', 'helpers', 'resolve-test-names.js')).href}`;
const SEVERITIES = new Set(['severe', 'warning', 'info']);

/** Runs `keel doctor --url URL --json`; returns { code, stderr, findings, ids }. */
async function doctor(url, { caFile } = {}) {
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${RESOLVE_TEST_NAMES}`.trim() };
  if (caFile) env.NODE_EXTRA_CA_CERTS = caFile;
  const result = await runKeel(['doctor', '--url', url, '--json'], { env, timeout: 60_000 });
  let parsed;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    assert.fail(`doctor --json printed no JSON (exit ${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  const findings = parsed.findings;
  return { code: result.code, stderr: result.stderr, parsed, findings, ids: new Set(findings.map((f) => f.id)), find: (id) => findings.find((f) => f.id === id) };
}

const show = (report) => JSON.stringify(report.findings.map((f) => `${f.severity} ${f.id}: ${f.title}`), null, 1);

function assertHas(report, id, severity) {
  const finding = report.find(id);
  assert.ok(finding, `expected ${id} in ${show(report)}`);
  if (severity) assert.equal(finding.severity, severity, `${id}: ${finding.title}`);
  return finding;
}

function assertLacks(report, ...ids) {
  for (const id of ids) assert.ok(!report.ids.has(id), `did not expect ${id} in ${show(report)}`);
}

/** Starts a peer server and waits until it listens on port; kill it with stopPeer(). */
async function startPeer(command, args, port, { cwd = ROOT, env = {} } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    await waitFor(async () => exited || (await connectable(port)), { timeout: 20_000, what: `${command} to listen on ${port}` });
  } catch (err) {
    killTree(child.pid);
    throw err;
  }
  if (exited) throw new Error(`${command} exited before listening:\n${output}`);
  return child;
}

function stopPeer(child) {
  if (child && child.exitCode === null && child.signalCode === null) killTree(child.pid);
}

const DOTENV = 'DATABASE_URL=postgres://app:hunter2@db.internal/app\nSECRET_KEY=not-a-real-secret\n';

/** A document root with the files a careless deploy leaves in it. */
function webRoot(dir) {
  const root = join(dir, 'www');
  mkdirSync(join(root, '.git'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>home</title><p>Welcome</p>\n');
  writeFileSync(join(root, '.env'), DOTENV);
  writeFileSync(join(root, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(root, '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = false\n');
  return root;
}

/**
 * An Nginx config: `flawed` shows its version, serves dotfiles, accepts TLS 1.0/1.1 and sends no
 * HSTS, and its plain port serves the site; otherwise the plain port redirects to HTTPS and all of
 * that is fixed. master_process off: no worker switching to a user that cannot read the temp dir.
 */
function nginxConfig({ dir, root, plainPort, tlsPort, cert, key, flawed }) {
  const f = (name) => join(dir, name);
  const tls = flawed
    ? 'ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n    ssl_ciphers DEFAULT@SECLEVEL=0;'
    : 'ssl_protocols TLSv1.2 TLSv1.3;\n    add_header Strict-Transport-Security "max-age=31536000" always;';
  const dotfiles = flawed ? '' : 'location ~ /\\. { return 404; }';
  return `master_process off;
error_log ${f('error.log')} warn;
events { worker_connections 64; }
http {
  access_log ${f('access.log')};
  client_body_temp_path ${f('client_body')};
  proxy_temp_path ${f('proxy')};
  fastcgi_temp_path ${f('fastcgi')};
  uwsgi_temp_path ${f('uwsgi')};
  scgi_temp_path ${f('scgi')};
  default_type application/octet-stream;
  types { text/html html; }
  server_tokens ${flawed ? 'on' : 'off'};
  server {
    listen 127.0.0.1:${plainPort};
    ${flawed ? `root ${root};` : `return 308 https://$host:${tlsPort}$request_uri;`}
  }
  server {
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ${tls}
    root ${root};
    ${dotfiles}
  }
}
`;
}

async function startNginx(pki, { flawed, days }) {
  const dir = tempDir('keel-doctor-nginx-');
  const root = webRoot(dir);
  const [plainPort, tlsPort] = [await freePort(), await freePort()];
  const { cert, key } = pki.leaf(flawed ? 'nginx-bad.test' : 'nginx-good.test', { dns: [flawed ? 'nginx-bad.test' : 'nginx-good.test'], days });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig({ dir, root, plainPort, tlsPort, cert, key, flawed }));
  const child = await startPeer('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], tlsPort);
  await waitFor(() => connectable(plainPort), { timeout: 10_000, what: 'nginx plain port' });
  return { child, plainPort, tlsPort };
}

describe("Flask's development server with debug on", () => {
  let flask;
  let port;
  before(async () => {
    port = await freePort();
    flask = await startPeer('/usr/bin/python3', ['-m', 'flask', '--app', 'examples/flask/app.py', '--debug', 'run', '--port', String(port), '--host', '127.0.0.1'], port);
  });
  after(() => stopPeer(flask));

  test('dev server, debugger console, traceback in the 500, version header, plain HTTP; exit 1', async () => {
    const report = await doctor(`http://127.0.0.1:${port}/boom`);
    assertHas(report, 'dev-server-werkzeug', 'severe');
    assert.equal(assertHas(report, 'debugger-console', 'severe').where, `http://127.0.0.1:${port}/console`);
    assertHas(report, 'debugger-frames', 'severe');
    const trace = assertHas(report, 'stack-trace', 'severe');
    assert.match(trace.title, /Python/);
    assert.equal(trace.where, `http://127.0.0.1:${port}/boom`);
    assert.match(assertHas(report, 'version-header', 'warning').title, /Werkzeug\/\d/);
    assertHas(report, 'plain-http', 'warning');
    assert.equal(report.code, 1, 'a severe finding exits 1');
    assert.equal(report.parsed.summary.severe, report.findings.filter((f) => f.severity === 'severe').length);
  });
});

describe('Gunicorn with Flask', () => {
  let gunicorn;
  let port;
  before(async () => {
    port = await freePort();
    gunicorn = await startPeer('/usr/bin/gunicorn', ['-b', `127.0.0.1:${port}`, '--chdir', 'examples/flask', 'app:app'], port);
  });
  after(() => stopPeer(gunicorn));

  test('/: no dev-server, debugger or version finding (Server: gunicorn names no version), plain HTTP; exit 0', async () => {
    const report = await doctor(`http://127.0.0.1:${port}/`);
    assert.deepEqual([...report.ids].filter((id) => id.startsWith('dev-server') || id.startsWith('debugger')), []);
    assertLacks(report, 'version-header', 'stack-trace', 'env-file-exposed', 'git-exposed');
    assertHas(report, 'plain-http', 'warning');
    assert.equal(report.code, 0, show(report));
  });

  test("/boom: the app's own debug traceback page is a stack trace, but no live debugger (evalex off)", async () => {
    const report = await doctor(`http://127.0.0.1:${port}/boom`);
    assert.match(assertHas(report, 'stack-trace', 'severe').title, /Python.*500/);
    assertLacks(report, 'debugger-console', 'debugger-frames', 'dev-server-werkzeug');
    assert.equal(report.code, 1);
  });
});

describe("Django: runserver with DEBUG = True, and the same app under Gunicorn with DEBUG off", () => {
  // One file, settings in it: the smallest real Django site (Debian's python3-django).
  const SITE = `import os, sys
from django.conf import settings
settings.configure(DEBUG=os.environ.get('APP_DEBUG') == '1', ROOT_URLCONF=__name__, SECRET_KEY='test-only-key', ALLOWED_HOSTS=['127.0.0.1', 'localhost'], MIDDLEWARE=[])
from django.http import HttpResponse
from django.urls import path
def index(request):
    return HttpResponse('hello\\n')
def boom(request):
    raise RuntimeError('boom')
urlpatterns = [path('', index), path('boom', boom)]
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
if __name__ == '__main__':
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
`;
  const servers = {};
  before(async () => {
    const dir = tempDir('keel-doctor-django-');
    writeFileSync(join(dir, 'site_app.py'), SITE);
    const [devPort, prodPort] = [await freePort(), await freePort()];
    servers.dev = { port: devPort, child: await startPeer('/usr/bin/python3', ['site_app.py', 'runserver', `127.0.0.1:${devPort}`, '--noreload'], devPort, { cwd: dir, env: { APP_DEBUG: '1' } }) };
    servers.prod = { port: prodPort, child: await startPeer('/usr/bin/gunicorn', ['-b', `127.0.0.1:${prodPort}`, '--chdir', dir, 'site_app:application'], prodPort, { cwd: dir }) };
  });
  after(() => Object.values(servers).forEach((s) => stopPeer(s.child)));

  test('runserver with DEBUG on: the dev server and its traceback are found; exit 1', async () => {
    const report = await doctor(`http://127.0.0.1:${servers.dev.port}/boom`);
    assertHas(report, 'dev-server-django', 'severe');
    assertHas(report, 'stack-trace', 'severe');
    assert.equal(report.code, 1);
  });

  test('Gunicorn with DEBUG off: no dev-server finding, no stack', async () => {
    const report = await doctor(`http://127.0.0.1:${servers.prod.port}/boom`);
    assertLacks(report, 'dev-server-django', 'stack-trace');
  });
});

describe('Express run bare with node: development vs production', () => {
  let dir;
  const servers = {};
  before(async () => {
    dir = tempDir('keel-doctor-express-');
    const express = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('express')).href;
    writeFileSync(
      join(dir, 'server.mjs'),
      `import express from ${JSON.stringify(express)};
const app = express();
app.get('/', (req, res) => res.send('hi'));
app.get('/boom', () => { throw new Error('boom'); });
app.listen(Number(process.argv[2]), '127.0.0.1');
`,
    );
    for (const mode of ['development', 'production']) {
      const port = await freePort();
      servers[mode] = { port, child: await startPeer(process.execPath, [join(dir, 'server.mjs'), String(port)], port, { env: { NODE_ENV: mode } }) };
    }
  });
  after(() => Object.values(servers).forEach((s) => stopPeer(s.child)));

  test("development: finalhandler's stack-trace page is found (Node frames) and X-Powered-By is noted", async () => {
    const report = await doctor(`http://127.0.0.1:${servers.development.port}/boom`);
    assertHas(report, 'dev-server-node-errors', 'severe');
    assert.match(assertHas(report, 'stack-trace', 'severe').title, /Node\.js/);
    const powered = report.findings.find((f) => f.id === 'version-header' && /x-powered-by: Express/i.test(f.title));
    assert.ok(powered, show(report));
    assert.equal(powered.severity, 'info', 'no version number in it');
    assert.equal(report.code, 1);
  });

  test('production: the same app shows no stack', async () => {
    const report = await doctor(`http://127.0.0.1:${servers.production.port}/boom`);
    assertLacks(report, 'dev-server-node-errors', 'stack-trace');
    assert.equal(report.code, 0, show(report));
  });
});

describe('a catch-all that answers 200 to every path', () => {
  let server;
  let port;
  const seen = [];
  before(async () => {
    // Looks like an .env line on purpose: only the comparison with an unknown path tells it apart.
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, agent: req.headers['user-agent'] });
      res.end('STATUS=ok\n');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
  });
  after(() => server.close());

  test('is not reported as serving .env or .git', async () => {
    const report = await doctor(`http://127.0.0.1:${port}/`);
    assertLacks(report, 'env-file-exposed', 'git-exposed');
  });

  test('doctor only reads: GET requests, a bounded number, each saying who asks', () => {
    assert.ok(seen.length >= 8 && seen.length <= 20, `${seen.length} requests`);
    for (const { method, url, agent } of seen) {
      assert.equal(method, 'GET', url);
      assert.match(agent, /^keel-doctor\/\d+\.\d+\.\d+/);
    }
    for (const path of ['/.env', '/.git/HEAD', '/console', '/%']) assert.ok(seen.some((r) => r.url === path), `${path} asked`);
  });
});

describe('Nginx with every flaw, and without', () => {
  let pki;
  let bad;
  let good;
  before(async () => {
    pki = makeCertificates('keel-doctor-certs-');
    [bad, good] = await Promise.all([startNginx(pki, { flawed: true, days: 5 }), startNginx(pki, { flawed: false, days: 90 })]);
  });
  after(() => {
    stopPeer(bad?.child);
    stopPeer(good?.child);
    pki?.cleanup();
  });

  test('flawed HTTPS: version header, .env and .git, TLS 1.0/1.1, certificate near expiry, no HSTS', async () => {
    const report = await doctor(`https://nginx-bad.test:${bad.tlsPort}/`);
    assert.match(assertHas(report, 'version-header', 'warning').title, /nginx\/\d/);
    assert.equal(assertHas(report, 'env-file-exposed', 'severe').where, `https://nginx-bad.test:${bad.tlsPort}/.env`);
    assertHas(report, 'git-exposed', 'severe');
    assert.match(assertHas(report, 'tls-old-versions', 'warning').title, /TLS 1\.0 and TLS 1\.1/);
    assert.match(assertHas(report, 'certificate-expiry', 'severe').title, /expires in [4-5] days/);
    assertHas(report, 'hsts-missing', 'warning');
    // The test CA is in no trust store, and nginx-bad.test is no internal name.
    assertHas(report, 'certificate-untrusted', 'warning');
    assertLacks(report, 'plain-http', 'stack-trace');
    assert.equal(report.code, 1);
  });

  test('flawed plain port: plain HTTP without a redirect', async () => {
    const report = await doctor(`http://nginx-bad.test:${bad.plainPort}/`);
    assertHas(report, 'plain-http', 'warning');
  });

  test('fixed: nothing found over HTTPS (CA trusted) nor from the plain port, which redirects; exit 0', async () => {
    const report = await doctor(`https://nginx-good.test:${good.tlsPort}/`, { caFile: pki.ca.cert });
    assert.deepEqual(report.findings, [], show(report));
    assert.equal(report.code, 0);
    const redirected = await doctor(`http://nginx-good.test:${good.plainPort}/`, { caFile: pki.ca.cert });
    assert.deepEqual(redirected.findings, [], show(redirected));
  });

  test('fixed, without trusting the test CA: only the certificate is reported', async () => {
    const report = await doctor(`https://nginx-good.test:${good.tlsPort}/`);
    assert.deepEqual([...report.ids], ['certificate-untrusted'], show(report));
    assert.equal(report.code, 0);
  });
});

describe('a server that speaks only TLS 1.0', () => {
  let pki;
  let server;
  before(async () => {
    pki = makeCertificates('keel-doctor-certs-');
    const { certPem, keyPem } = pki.leaf('old.test', { days: 20 });
    server = createHttpsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (req, res) => res.end('old\n'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    server?.close();
    pki?.cleanup();
  });

  test('is still probed: TLS 1.0 (not 1.1) reported, and its certificate read', async () => {
    const report = await doctor(`https://old.test:${server.address().port}/`);
    assert.match(assertHas(report, 'tls-old-versions', 'warning').title, /accepts TLS 1\.0$/);
    assert.match(assertHas(report, 'certificate-expiry', 'warning').title, /expires in 19 days/);
    assertHas(report, 'hsts-missing', 'warning');
  });
});

describe('keel itself', () => {
  let pki;
  let plain;
  let secure;
  let tlsPort;
  let redirectPort;
  before(async () => {
    pki = makeCertificates('keel-doctor-certs-');
    const { cert, key } = pki.leaf('keel.test', { days: 90 });
    [tlsPort, redirectPort] = [await freePort(), await freePort()];
    [plain, secure] = await Promise.all([
      startKeel('examples/express/app.ts', [], { workers: 1 }),
      startKeel('examples/hello/app.ts', ['-b', `https://127.0.0.1:${tlsPort}`, '--certfile', cert, '--keyfile', key, '--redirect-http', `127.0.0.1:${redirectPort}`], { workers: 1 }),
    ]);
  });
  after(async () => {
    await Promise.all([plain?.stop(), secure?.stop()]);
    pki?.cleanup();
  });

  test('plain on loopback, an Express app that throws: no stack, no version header, only plain HTTP; exit 0', async () => {
    const report = await doctor(`${plain.url}/boom`);
    assert.deepEqual([...report.ids], ['plain-http'], show(report));
    assert.equal(report.code, 0);
  });

  test('TLS with HSTS, reached through --redirect-http: the redirect is followed and nothing is found', async () => {
    const report = await doctor(`http://keel.test:${redirectPort}/`, { caFile: pki.ca.cert });
    assert.deepEqual(report.findings, [], show(report));
    assert.equal(report.code, 0);
  });

  test('TLS by address: HSTS is not asked of an IP address; the private CA is only info', async () => {
    const report = await doctor(`https://127.0.0.1:${tlsPort}/`);
    assertLacks(report, 'hsts-missing', 'tls-old-versions', 'certificate-expiry');
    assert.equal(assertHas(report, 'certificate-untrusted', 'info').where, `https://127.0.0.1:${tlsPort}`);
    assert.equal(report.code, 0);
  });
});

describe('keel dev reached through a forward, against keel serve', () => {
  let dir;
  let dev;
  let served;
  before(async () => {
    dir = tempDir('keel-doctor-dev-');
    copyFileSync(join(ROOT, 'test', 'fixtures', 'dev-app.js'), join(dir, 'app.js'));
    [dev, served] = await Promise.all([startDev(dir, 'app.js'), startKeel(join(dir, 'app.js'), [], { workers: 1 })]);
  });
  after(async () => {
    await Promise.all([dev?.stop(), served?.stop()]);
  });

  test("keel dev's rich error page is recognised: severe, exit 1", async () => {
    const report = await doctor(`${dev.url}/boom`);
    assert.match(assertHas(report, 'dev-server-keel-dev', 'severe').fix, /keel serve/);
    assert.equal(report.code, 1);
  });

  test('keel serve with the same app: the generic page, no dev-server finding', async () => {
    const report = await doctor(`${served.url}/boom`);
    assertLacks(report, 'dev-server-keel-dev', 'stack-trace');
  });
});

describe('--json and exit statuses', () => {
  let server;
  let port;
  before(async () => {
    server = createServer((req, res) => {
      res.setHeader('server', 'Apache/2.4.1 (Unix)');
      res.end('hello\n');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
  });
  after(() => server.close());

  test('--json: { findings: [{ id, severity, title, why, fix, where }], summary: { severe, warning, info } }', async () => {
    const report = await doctor(`http://127.0.0.1:${port}/`);
    assert.deepEqual(Object.keys(report.parsed).sort(), ['findings', 'summary']);
    assert.deepEqual(Object.keys(report.parsed.summary).sort(), ['info', 'severe', 'warning']);
    assert.ok(report.findings.length >= 2, show(report));
    for (const f of report.findings) {
      assert.deepEqual(Object.keys(f).sort(), ['fix', 'id', 'severity', 'title', 'where', 'why']);
      assert.match(f.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      assert.ok(SEVERITIES.has(f.severity), f.severity);
      for (const key of ['title', 'why', 'fix', 'where']) assert.ok(typeof f[key] === 'string' && f[key].length > 0, key);
    }
    assert.match(assertHas(report, 'version-header', 'warning').fix, /ServerTokens Prod/);
    assert.equal(report.parsed.summary.severe, 0);
    assert.equal(report.code, 0, 'warnings alone exit 0');
  });

  test('without --json: one block per finding, the title in it', async () => {
    const result = await runKeel(['doctor', '--url', `http://127.0.0.1:${port}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Apache\/2\.4\.1/);
    assert.match(result.stdout, /Plain HTTP/);
  });

  for (const [what, url] of [
    ['not http(s)', 'ftp://127.0.0.1/'],
    ['not a URL', 'no such thing'],
  ]) {
    test(`a URL that is ${what}: one keel: line, exit 2`, async () => {
      const result = await runKeel(['doctor', '--url', url]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^keel: --url: .*(?:http:\/\/|https:\/\/)/);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.equal(result.stdout, '');
    });
  }

  test('a server that accepts but never answers: the per-request timeout ends it, exit 2', async () => {
    const silent = createNetServer(() => {});
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runKeel(['doctor', '--url', `http://127.0.0.1:${silent.address().port}/`]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^keel: --url: cannot probe .*: no answer within 5000 ms\n$/);
    } finally {
      silent.close();
    }
  });

  test('a port nobody listens on: connection refused, exit 2', async () => {
    const closed = await freePort();
    const result = await runKeel(['doctor', '--url', `http://127.0.0.1:${closed}/`]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr, `keel: --url: cannot probe http://127.0.0.1:${closed}/: connection refused\n`);
  });
});
