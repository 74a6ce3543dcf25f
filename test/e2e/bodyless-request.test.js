// keel skips the end-of-body stream lifecycle of a request without a body (src/front/bodyless-request.ts)
// and gives it back as soon as the app listens for a body event. These tests hold every common way
// of waiting on a body to Node's own behaviour: the same fixture app runs under a plain node:http
// server (the reference) and under keel, over HTTP/1.1 and HTTPS/1.1, and under a plain node:http2
// server and keel over HTTP/2; each must see the same events in the same order as its reference,
// for GETs without a body and for POSTs with one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect, constants as h2constants } from 'node:http2';
import { join } from 'node:path';
import { ROOT, killTree, startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { makeCertificates } from '../helpers/certs.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'body-events.mjs');

/** Patterns that answer once they have seen the end of the body. */
const ANSWER_AFTER_END = ['data-end', 'end-resume', 'end-later', 'iterate', 'pipe', 'finished', 'once-end', 'readable'];

let nextId = 0;

/** One HTTP/2 request on its own session; `leave` cancels the stream after the first chunk. */
function exchangeH2(server, method, path, { body = null, leave = false } = {}) {
  return new Promise((resolve, reject) => {
    const session = h2connect(server.url, { ca: server.ca });
    session.on('error', (err) => (leave ? null : reject(err)));
    const headers = { ':method': method, ':path': path, ...(body === null ? {} : { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }) };
    const stream = session.request(headers, { endStream: body === null });
    stream.setTimeout(5000, () => { stream.close(h2constants.NGHTTP2_CANCEL); reject(new Error(`${method} ${path} over HTTP/2: no answer within 5 s`)); });
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => { status = h[':status']; });
    stream.on('data', (chunk) => {
      text += chunk;
      if (leave) {
        stream.close(h2constants.NGHTTP2_CANCEL);
        session.close();
        resolve({ status, body: text });
      }
    });
    stream.on('end', () => { session.close(); resolve({ status, body: text }); });
    stream.on('error', (err) => (leave ? null : reject(err)));
    if (body !== null) stream.end(body);
  });
}

/** One request; resolves { status, body }. `leave` reads the first chunk of the body and then closes the connection. */
function exchange(server, method, path, options = {}) {
  if (server.h2) return exchangeH2(server, method, path, options);
  const { body = null, leave = false } = options;
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers = body === null ? {} : { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) };
    const req = send(url, { method, headers, agent: false, ca: server.ca, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
        if (leave) {
          req.destroy();
          resolve({ status: res.statusCode, body: text });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', (err) => (leave ? null : reject(err)));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', (err) => (leave ? null : reject(err)));
    req.end(body ?? undefined);
  });
}

async function seenBy(server, id) {
  return JSON.parse((await exchange(server, 'GET', `/seen?id=${id}`)).body);
}

/** The plain node:http (or, given a certificate, node:http2) server running the fixture: Node's own behaviour. */
async function startReference(leaf = null, ca = null) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), ...(leaf ? { CERT: leaf.cert, KEY: leaf.key } : {}) };
  const child = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const scheme = leaf ? 'https' : 'http';
  await waitFor(() => new Promise((resolve) => {
    const probe = (leaf ? httpsRequest : httpRequest)(`${scheme}://127.0.0.1:${port}/seen?id=probe`, { timeout: 500, ca }, (res) => { res.resume(); resolve(true); });
    probe.on('error', () => resolve(false));
    probe.on('timeout', () => probe.destroy());
    probe.end();
  }), { timeout: 10_000, what: 'the reference node:http server' });
  return { url: `${scheme}://127.0.0.1:${port}`, ca, h2: leaf !== null, pid: child.pid, stop: () => killTree(child.pid) };
}

describe('requests without a body: the same events as under plain Node', () => {
  const pki = makeCertificates();
  const leaf = pki.leaf('bodyless.test', { dns: ['localhost'], ip: ['127.0.0.1'] });
  let reference;
  let referenceH2;
  let plain;
  let secure;
  /** [protocol, keel, the reference it must match]. */
  const servers = () => [
    ['HTTP/1.1', { url: plain.url }, reference],
    ['HTTPS/1.1', { url: `https://127.0.0.1:${secure.tlsPort}`, ca: pki.ca.certPem }, reference],
    ['HTTP/2', { url: `https://127.0.0.1:${secure.tlsPort}`, ca: pki.ca.certPem, h2: true }, referenceH2],
  ];

  before(async () => {
    reference = await startReference();
    referenceH2 = await startReference(leaf, pki.ca.certPem);
    plain = await startKeel(FIXTURE, [], { workers: 1 });
    const tlsPort = await freePort();
    secure = await startKeel(FIXTURE, ['-b', `https://127.0.0.1:${tlsPort}`, '--certfile', leaf.cert, '--keyfile', leaf.key], { workers: 1 });
    secure.tlsPort = tlsPort;
  });
  after(() => {
    reference?.stop();
    referenceH2?.stop();
    plain?.stop();
    secure?.stop();
    pki.cleanup();
  });

  for (const pattern of ANSWER_AFTER_END) {
    it(`${pattern}: a GET and a POST are answered after the same events`, async () => {
      for (const [method, body] of [['GET', null], ['POST', 'hello body']]) {
        for (const [protocol, server, ref] of servers()) {
          const id = `${pattern}-${method}-${nextId++}`;
          const expected = await exchange(ref, method, `/${pattern}?id=${id}`, { body });
          assert.equal(expected.status, 200);
          const expectedEvents = await seenBy(ref, id);
          assert.ok(expectedEvents.length > 0, `Node itself saw events for ${pattern}`);
          const got = await exchange(server, method, `/${pattern}?id=${id}`, { body });
          assert.deepEqual(got, expected, `${method} /${pattern} over ${protocol}`);
          assert.deepEqual(await seenBy(server, id), expectedEvents, `${method} /${pattern} over ${protocol}: events`);
        }
      }
    });
  }

  /** The events `server` saw for `id`, once `done(events)` holds (5 s at most). */
  const eventsOf = (server, id, done, what) => waitFor(async () => {
    const events = await seenBy(server, id);
    return done(events) ? events : null;
  }, { timeout: 5000, what });

  for (const pattern of ['after-response', 'close-only']) {
    it(`${pattern}: 'end' and 'close' still come after the response`, async () => {
      for (const [protocol, server, ref] of servers()) {
        const id = `${pattern}-${nextId++}`;
        assert.equal((await exchange(ref, 'GET', `/${pattern}?id=${id}`)).status, 200);
        // Node's events settle within a few ticks of the response; 'close' is always among them.
        await eventsOf(ref, id, (e) => e.includes('close'), `Node's events for ${pattern} (${protocol})`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const expected = await seenBy(ref, id);
        assert.equal((await exchange(server, 'GET', `/${pattern}?id=${id}`)).body, 'answered\n');
        const events = await eventsOf(server, id, (e) => e.length >= expected.length, `keel's events for ${pattern} over ${protocol}`);
        assert.deepEqual(events, expected, `${pattern} over ${protocol}`);
      }
    });
  }

  it('a client leaving a streamed response: the app sees aborted and close', async () => {
    for (const [protocol, server, ref] of servers()) {
      const id = `stream-${nextId++}`;
      const first = await exchange(ref, 'GET', `/stream?id=${id}`, { leave: true });
      assert.match(first.body, /^data: hello/);
      const expected = await eventsOf(ref, id, (e) => e.some((x) => x.startsWith('close')), `Node's events for a client that left (${protocol})`);
      assert.deepEqual(expected, ['aborted', 'close aborted=true']);
      await exchange(server, 'GET', `/stream?id=${id}`, { leave: true });
      const events = await eventsOf(server, id, (e) => e.some((x) => x.startsWith('close')), `keel's events over ${protocol} for a client that left`);
      assert.deepEqual(events, expected, `over ${protocol}`);
    }
  });

  it('the request looks the same to the app while it is handled', async () => {
    assert.deepEqual(JSON.parse((await exchange(reference, 'GET', '/state')).body), { readableEnded: false, destroyed: false, readable: true, complete: false });
    for (const [protocol, server, ref] of servers()) {
      const expected = await exchange(ref, 'GET', '/state');
      assert.deepEqual(await exchange(server, 'GET', '/state'), expected, `over ${protocol}`);
    }
  });
});
