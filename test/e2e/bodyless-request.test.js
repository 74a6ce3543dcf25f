// keel skips the end-of-body stream lifecycle of a request without a body (src/front/bodyless-request.ts)
// and gives it back as soon as the app listens for a body event. These tests hold every common way
// of waiting on a body to Node's own behaviour: the same fixture app runs under a plain node:http
// server (the reference) and under keel, over HTTP/1.1 and HTTPS/1.1, and must see the same events
// in the same order, for GETs without a body and for POSTs with one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { ROOT, killTree, startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { makeCertificates } from '../helpers/certs.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'body-events.mjs');

/** Patterns that answer once they have seen the end of the body. */
const ANSWER_AFTER_END = ['data-end', 'end-resume', 'end-later', 'iterate', 'pipe', 'finished', 'once-end', 'readable'];

let nextId = 0;

/** One request; resolves { status, body }. `leave` reads the first chunk of the body and then closes the connection. */
function exchange(server, method, path, { body = null, leave = false } = {}) {
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

/** The plain node:http server running the fixture: Node's own behaviour. */
async function startReference() {
  const port = await freePort();
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  await waitFor(() => new Promise((resolve) => {
    const probe = httpRequest(`http://127.0.0.1:${port}/seen?id=probe`, { timeout: 500 }, (res) => { res.resume(); resolve(true); });
    probe.on('error', () => resolve(false));
    probe.on('timeout', () => probe.destroy());
    probe.end();
  }), { timeout: 10_000, what: 'the reference node:http server' });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => killTree(child.pid) };
}

describe('requests without a body: the same events as under plain Node', () => {
  const pki = makeCertificates();
  const leaf = pki.leaf('bodyless.test', { dns: ['localhost'], ip: ['127.0.0.1'] });
  let reference;
  let plain;
  let secure;
  const servers = () => [['HTTP/1.1', { url: plain.url }], ['HTTPS/1.1', { url: `https://127.0.0.1:${secure.tlsPort}`, ca: pki.ca.certPem }]];

  before(async () => {
    reference = await startReference();
    plain = await startKeel(FIXTURE, [], { workers: 1 });
    const tlsPort = await freePort();
    secure = await startKeel(FIXTURE, ['-b', `https://127.0.0.1:${tlsPort}`, '--certfile', leaf.cert, '--keyfile', leaf.key], { workers: 1 });
    secure.tlsPort = tlsPort;
  });
  after(() => {
    reference?.stop();
    plain?.stop();
    secure?.stop();
    pki.cleanup();
  });

  for (const pattern of ANSWER_AFTER_END) {
    it(`${pattern}: a GET and a POST are answered after the same events`, async () => {
      for (const [method, body] of [['GET', null], ['POST', 'hello body']]) {
        const id = `${pattern}-${method}-${nextId++}`;
        const expected = await exchange(reference, method, `/${pattern}?id=${id}`, { body });
        assert.equal(expected.status, 200);
        const expectedEvents = await seenBy(reference, id);
        assert.ok(expectedEvents.length > 0, `Node itself saw events for ${pattern}`);
        for (const [protocol, server] of servers()) {
          const got = await exchange(server, method, `/${pattern}?id=${id}`, { body });
          assert.deepEqual(got, expected, `${method} /${pattern} over ${protocol}`);
          assert.deepEqual(await seenBy(server, id), expectedEvents, `${method} /${pattern} over ${protocol}: events`);
        }
      }
    });
  }

  for (const pattern of ['after-response', 'close-only']) {
    it(`${pattern}: 'end' and 'close' still come after the response`, async () => {
      const id = `${pattern}-${nextId++}`;
      assert.equal((await exchange(reference, 'GET', `/${pattern}?id=${id}`)).status, 200);
      const expected = await waitFor(async () => {
        const events = await seenBy(reference, id);
        return events.includes('close') ? events : null;
      }, { timeout: 5000, what: `Node's events for ${pattern}` });
      for (const [protocol, server] of servers()) {
        assert.equal((await exchange(server, 'GET', `/${pattern}?id=${id}`)).body, 'answered\n');
        const events = await waitFor(async () => {
          const seen = await seenBy(server, id);
          return seen.length >= expected.length ? seen : null;
        }, { timeout: 5000, what: `keel's events for ${pattern} over ${protocol}` });
        assert.deepEqual(events, expected, `${pattern} over ${protocol}`);
      }
    });
  }

  it('a client leaving a streamed response: the app sees aborted and close', async () => {
    const id = `stream-${nextId++}`;
    const first = await exchange(reference, 'GET', `/stream?id=${id}`, { leave: true });
    assert.match(first.body, /^data: hello/);
    const expected = await waitFor(async () => {
      const events = await seenBy(reference, id);
      return events.some((e) => e.startsWith('close')) ? events : null;
    }, { timeout: 5000, what: "Node's events for a client that left" });
    assert.deepEqual(expected, ['aborted', 'close aborted=true']);
    for (const [protocol, server] of servers()) {
      await exchange(server, 'GET', `/stream?id=${id}`, { leave: true });
      const events = await waitFor(async () => {
        const seen = await seenBy(server, id);
        return seen.some((e) => e.startsWith('close')) ? seen : null;
      }, { timeout: 5000, what: `keel's events over ${protocol} for a client that left` });
      assert.deepEqual(events, expected, `over ${protocol}`);
    }
  });

  it('the request looks the same to the app while it is handled', async () => {
    const expected = await exchange(reference, 'GET', '/state');
    assert.deepEqual(JSON.parse(expected.body), { readableEnded: false, destroyed: false, readable: true, complete: false });
    for (const [protocol, server] of servers()) {
      assert.deepEqual(await exchange(server, 'GET', '/state'), expected, `over ${protocol}`);
    }
  });
});
