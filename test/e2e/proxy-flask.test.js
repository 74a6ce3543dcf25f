// A Flask app under Gunicorn (Debian's packages) behind keel's proxy: the app's debug traceback
// page never reaches the client with --intercept-errors; the client gets keel's page with the
// request ID, and the error log keeps the original status and the start of its body.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { ROOT, startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

async function startGunicorn() {
  const port = await freePort();
  const child = spawn('/usr/bin/gunicorn', ['-b', `127.0.0.1:${port}`, '--chdir', 'examples/flask', '--workers', '2', 'app:app'], {
    cwd: ROOT,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`gunicorn exited: ${stderr}`);
    return (await request(`${url}/healthz`).then((r) => (r.body.dump(), r.statusCode)).catch(() => 0)) === 200;
  }, { timeout: 15_000, what: 'gunicorn to answer /healthz' });
  return { url, child, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) };
}

async function fetchText(url, headers = {}) {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe('Flask under Gunicorn behind keel', () => {
  let gunicorn;
  let keel;
  let plain;
  before(async () => {
    gunicorn = await startGunicorn();
    keel = await startKeel(null, ['--proxy', `/=${gunicorn.url} health=/healthz:1s`, '--intercept-errors'], { workers: 2 });
    plain = await startKeel(null, ['--proxy', `/=${gunicorn.url}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await plain?.stop();
    await gunicorn?.stop();
  });

  it('proxies the app', async () => {
    const r = await fetchText(`${keel.url}/`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'Hello from Flask\n');
    const who = JSON.parse((await fetchText(`${keel.url}/whoami`, { host: 'flask.example' })).text);
    assert.equal(who.headers.Host, 'flask.example');
    assert.equal(who.headers['X-Forwarded-For'], '127.0.0.1');
    assert.equal(who.headers['X-Forwarded-Proto'], 'http');
  });

  it('without --intercept-errors the traceback would leak (the case the flag exists for)', async () => {
    const r = await fetchText(`${plain.url}/boom`);
    assert.equal(r.status, 500);
    assert.match(r.text, /Traceback/);
  });

  it('with --intercept-errors the client gets the generic page with the request ID, never the traceback', async () => {
    for (const accept of ['text/html', 'application/json']) {
      const r = await fetchText(`${keel.url}/boom`, { accept });
      assert.equal(r.status, 500);
      assert.doesNotMatch(r.text, /Traceback|RuntimeError|boom: a failure|werkzeug/i);
      const id = r.headers['x-request-id'];
      assert.ok(id && r.text.includes(id), 'the page carries the request ID');
      assert.match(r.headers['content-type'], accept === 'application/json' ? /json/ : /html/);
      const logged = await waitFor(() => keel.errorLog().find((l) => l.requestId === id && l.status === 500), { timeout: 5000, what: 'the intercepted error in the log' });
      assert.match(logged.body, /Traceback|RuntimeError/);
      assert.equal(logged.upstream, gunicorn.url);
      const line = await waitFor(() => keel.accessLines().find((l) => l.includes(id)), { timeout: 5000, what: 'the access line' });
      assert.match(line, /" 500 /);
    }
  });
});
