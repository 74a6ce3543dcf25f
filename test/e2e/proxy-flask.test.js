// A Flask app under Gunicorn (Debian's packages) behind keel's proxy: the app's debug traceback
// page never reaches the client with --intercept-errors; the client gets keel's page with the
// request ID, and the error log keeps the original status and the start of its body.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'undici';
import { startKeel } from '../helpers/keel.js';
import { startFlaskGunicorn } from '../helpers/gunicorn.js';
import { waitFor } from '../helpers/wait.js';

/** Established TCP connections to a loopback port, from /proc (either side's view of it counts once: the remote side). */
function connectionsTo(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[2]?.endsWith(`:${hex}`) && fields[3] === '01';
  }).length;
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
    gunicorn = await startFlaskGunicorn();
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

  it('clients that leave before the answer leave no idle upstream connection pinning a sync worker', async () => {
    // Gunicorn's sync workers serve one connection at a time and block reading it: an idle
    // connection keel kept open would stall every later request for seconds.
    const port = Number(new URL(gunicorn.url).port);
    const sockets = [];
    for (let i = 0; i < 6; i++) {
      const socket = connect(plain.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n`);
      sockets.push(socket);
    }
    await waitFor(() => connectionsTo(port) >= sockets.length, { timeout: 5000, what: 'every request to reach gunicorn' });
    for (const socket of sockets) socket.destroy();
    // Gunicorn answers each (300 ms, two at a time) and closes; keel must not open new ones for nobody.
    await waitFor(() => connectionsTo(port) === 0, { timeout: 3000, interval: 50, what: 'no connection left open between keel and gunicorn' });
    const r = await fetchText(`${plain.url}/`);
    assert.equal(r.status, 200);
  });
});
