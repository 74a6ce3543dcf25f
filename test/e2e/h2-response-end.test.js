// HTTP/2 responses end where they should (issue 4): a response the app ends in the call that sends its head
// it (`res.end(body)`) ends its stream with the body's own DATA frame, not with an empty DATA frame
// sent a tick later, which is how Node's compatibility API ends every response; and trailers still
// reach the client whether the app sets them before end() or while streaming. Frames are read with
// nghttp -v (Debian's nghttp2-client), bodies and trailers with Node's http2 client.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as h2connect } from 'node:http2';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeCertificates } from '../helpers/certs.js';
import { ROOT, killTree, startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const APP = join(ROOT, 'test', 'fixtures', 'h2-endings.js');
const pki = makeCertificates();
after(() => pki.cleanup());
const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });

/** nghttp -nv: the frames the client received, as { type, length, flags } for the request's stream. */
function framesOf(url, method = 'GET') {
  return new Promise((resolve, reject) => {
    // No Accept-Encoding, as h2load sends none: keel's compression then leaves the response alone.
    const args = ['-nv', '--timeout=10', '-H', 'accept-encoding: identity', ...(method === 'HEAD' ? ['-H', ':method: HEAD'] : []), url];
    const child = spawn('nghttp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => killTree(child.pid), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`nghttp exited ${code}:\n${out}`));
      // The request's stream is 13 (nghttp opens 1-11 for its priority tree).
      const frames = [...out.matchAll(/recv (HEADERS|DATA) frame <length=(\d+), flags=0x([0-9a-f]{2}), stream_id=(\d+)>/g)]
        .filter((m) => m[4] !== '0' && Number(m[4]) % 2 === 1)
        .map((m) => ({ type: m[1], length: Number(m[2]), endStream: (parseInt(m[3], 16) & 1) === 1 }));
      resolve({ frames, out });
    });
  });
}

/** One request with Node's http2 client: { status, headers, body, trailers }; onResponse(headers) when the head arrives. */
function fetchH2(origin, path, onResponse = () => {}) {
  return new Promise((resolve, reject) => {
    const session = h2connect(origin, { ca: pki.ca.certPem });
    // Every way out closes the session, so a failed request leaves nothing open to keep the file running.
    const fail = (err) => {
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    const stream = session.request({ ':path': path });
    stream.setTimeout(10_000, () => stream.destroy(new Error(`${path} timed out`)));
    let head = {};
    let trailers = null;
    let ended = false;
    const chunks = [];
    stream.on('response', (h) => {
      head = h;
      onResponse(h);
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', fail);
    stream.on('end', () => {
      ended = true;
      session.close();
      resolve({ status: head[':status'], headers: head, body: Buffer.concat(chunks).toString(), trailers });
    });
    stream.on('close', () => {
      if (!ended) fail(new Error(`${path}: the stream closed before its end (code ${stream.rstCode})`));
    });
  });
}

/** One HTTPS/1.1 request: { status, body }. */
function fetchH1(url) {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca: pki.ca.certPem, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
  });
}

describe('HTTP/2: how responses end', () => {
  let keel;
  let origin;
  before(async () => {
    const port = await freePort();
    keel = await startKeel(APP, ['-b', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key], { workers: 1 });
    origin = `https://127.0.0.1:${port}`;
  });
  after(() => keel?.stop());

  test('res.end(body) ends the stream with the body: one HEADERS frame, then one DATA frame that carries END_STREAM', async () => {
    const { frames, out } = await framesOf(`${origin}/whole`);
    assert.deepEqual(frames, [
      { type: 'HEADERS', length: frames[0]?.length, endStream: false },
      { type: 'DATA', length: 'whole body\n'.length, endStream: true },
    ], out);
  });

  test('writeHead(status, headers) then end(body), the usual small answer: the same two frames', async () => {
    const { frames, out } = await framesOf(`${origin}/head-then-end`);
    assert.deepEqual(frames.map((f) => [f.type, f.endStream]), [['HEADERS', false], ['DATA', true]], out);
    assert.equal(frames[1].length, 'headersSent=true\n'.length, out);
  });

  test('after writeHead, headersSent is true and the headers are all there, as over HTTP/1.1', async () => {
    const h2 = await fetchH2(origin, '/head-then-end');
    assert.equal(h2.status, 200);
    assert.equal(h2.body, 'headersSent=true\n');
    assert.equal(h2.headers['x-kind'], 'held');
    assert.equal(h2.headers['content-type'], 'application/octet-stream');
    assert.match(h2.headers['x-request-id'], /\S/);
    const h1 = await fetchH1(`${origin}/head-then-end`);
    assert.equal(h1.body, 'headersSent=true\n');
  });

  test('writeHead, then writes later: the head goes out with the first write, the body is whole', async () => {
    const res = await fetchH2(origin, '/head-then-write');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'first, second\n');
  });

  /**
   * Requests `path`, whose response the app ends only when /release comes, and sends /release only
   * once the head has arrived: a head held back until the body would never arrive (fetchH2 gives up
   * after 10 s). Returns the head and the response.
   */
  async function headBeforeBody(path) {
    let release = null;
    let head = null;
    const res = await fetchH2(origin, path, (h) => {
      head = h;
      release = fetchH2(origin, '/release');
    });
    assert.ok(release, 'the head arrived before the body');
    assert.equal((await release).body, 'ok\n');
    assert.equal(res.body, 'released\n');
    return head;
  }

  test('flushHeaders() sends the head at once: the client has it while the body is still to come', async () => {
    assert.equal((await headBeforeBody('/flushed'))['x-kind'], 'flushed');
  });

  test('the head of an event stream is not held: the client has it before the first event', async () => {
    assert.equal((await headBeforeBody('/events'))['content-type'], 'text/event-stream');
  });

  test('a second writeHead fails as the compatibility API fails it, and the first head stands', async () => {
    const res = await fetchH2(origin, '/twice');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-second'], undefined);
    assert.equal(res.body, 'ERR_HTTP2_HEADERS_SENT\n');
  });

  test('res.end() with no body: the HEADERS frame itself ends the stream, no DATA frame follows', async () => {
    const { frames, out } = await framesOf(`${origin}/no-body`);
    assert.equal(frames.length, 1, out);
    assert.equal(frames[0].type, 'HEADERS');
    assert.equal(frames[0].endStream, true, out);
    const res = await fetchH2(origin, '/no-body');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-kind'], 'no-body');
    assert.match(res.headers['x-request-id'], /\S/);
    assert.equal(res.body, '');
  });

  test('HEAD of a res.end(body) answer: the head alone, ending the stream', async () => {
    const { frames, out } = await framesOf(`${origin}/whole`, 'HEAD');
    assert.equal(frames.length, 1, out);
    assert.deepEqual([frames[0].type, frames[0].endStream], ['HEADERS', true], out);
  });

  test('the body and its headers are whole', async () => {
    const res = await fetchH2(origin, '/whole');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'whole body\n');
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.match(res.headers['x-request-id'], /\S/);
    assert.equal(res.trailers, null);
  });

  test('a trailer set before end() still reaches the client, after the body', async () => {
    const res = await fetchH2(origin, '/trailer-first');
    assert.equal(res.body, 'with a trailer\n');
    assert.equal(res.trailers?.['x-checksum'], 'first');
  });

  test('a trailer set while streaming still reaches the client', async () => {
    const res = await fetchH2(origin, '/trailer-streamed');
    assert.equal(res.body, 'part one, part two\n');
    assert.equal(res.trailers?.['x-checksum'], 'streamed');
  });

  test('a streamed response without trailers is whole', async () => {
    const res = await fetchH2(origin, '/streamed');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ab\n');
  });

  test('the access log counts the body bytes of a response that ended with its body', async () => {
    await fetchH2(origin, '/whole');
    await waitFor(() => keel.accessLines().some((l) => l.includes('"GET /whole HTTP/2.0"')), { timeout: 5000, what: 'the access-log line of GET /whole' });
    const line = keel.accessLines().findLast((l) => l.includes('"GET /whole HTTP/2.0"'));
    assert.match(line, /" 200 11 "/);
  });
});
