// Protection of the front: request smuggling (CL+TE), body, request-line and header limits, slow
// clients, and the headers every response carries (or must not carry). Raw sockets where a real
// client library would refuse to send the bytes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startKeel, tempDir } from '../helpers/keel.js';
import { makeCertificates } from '../helpers/certs.js';
import { waitFor } from '../helpers/wait.js';
import { rawExchange, parseResponses, hasResponseHead } from '../helpers/raw-client.js';

const ECHO = 'test/fixtures/front-echo.js';
const EXPRESS = 'test/fixtures/front-express.js';

/** The app-side events recorded by the echo fixture (start of a request, end of its body). */
function appHits(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Asserts the headers keel puts on (and keeps off) every response. */
function assertFrontHeaders(headers, what) {
  assert.match(String(headers['x-request-id'] ?? ''), /^[A-Za-z0-9._:-]{8,128}$/, `${what}: X-Request-Id present`);
  assert.equal(headers['x-powered-by'], undefined, `${what}: no X-Powered-By`);
  assert.equal(headers.server, undefined, `${what}: no Server header`);
}

describe('front limits (echo app, --max-body 1k, small header limits, --header-timeout 2)', () => {
  let keel;
  let hitsFile;
  let port;

  before(async () => {
    hitsFile = join(tempDir('keel-front-limits-'), 'hits.jsonl');
    keel = await startKeel(
      ECHO,
      ['--max-body', '1k', '--limit-request-line', '256', '--limit-request-fields', '40', '--limit-request-field-size', '4000', '--header-timeout', '2', '--timeout', '10'],
      { env: { FRONT_HITS_FILE: hitsFile }, workers: 2 },
    );
    port = keel.port;
  });
  after(() => keel?.stop());

  it('refuses Content-Length together with Transfer-Encoding: chunked with 400, closes, and never runs the app', async () => {
    const smuggle =
      'POST /smuggle-outer HTTP/1.1\r\nHost: x\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '0\r\n\r\nGET /smuggle-inner HTTP/1.1\r\nHost: x\r\n\r\n';
    const result = await rawExchange(port, smuggle, { timeout: 5000 });
    assert.equal(result.timedOut, false, 'keel closed the connection (read until close)');
    assert.equal(result.closed, true);
    const responses = parseResponses(result.data);
    assert.equal(responses.length, 1, `exactly one answer, none for the smuggled request: ${result.data.toString('latin1')}`);
    assert.equal(responses[0].status, 400);
    assert.match(responses[0].headers.connection ?? '', /close/i);
    assertFrontHeaders(responses[0].headers, '400 smuggling refusal');
    // A normal request afterwards proves the hits file is being written, so its silence above means something.
    const res = await request(`${keel.url}/after-smuggle`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
    const urls = appHits(hitsFile).map((h) => h.url);
    assert.ok(urls.includes('/after-smuggle'), 'the fixture records requests');
    assert.ok(!urls.includes('/smuggle-outer') && !urls.includes('/smuggle-inner'), `the app never saw the smuggling request: ${urls}`);
  });

  it('answers 413 to a Content-Length over --max-body before the body is sent', async () => {
    // Only the head goes out: the answer must come without keel waiting for (or reading) the body.
    const result = await rawExchange(port, 'POST /too-big-declared HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 5000\r\n\r\n', {
      timeout: 5000,
      until: hasResponseHead,
    });
    assert.equal(result.timedOut, false, 'an answer arrived while the body was still unsent');
    const [res] = parseResponses(result.data);
    assert.equal(res.status, 413);
    assert.match(res.headers.connection ?? '', /close/i, 'the connection will not be reused');
    assertFrontHeaders(res.headers, '413');
    assert.ok(!appHits(hitsFile).some((h) => h.url === '/too-big-declared'), 'the app never ran');
  });

  it('answers 413 to a chunked body once it passes --max-body, and the app never gets it whole', async () => {
    const head = 'POST /too-big-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    const chunk = `200\r\n${'a'.repeat(0x200)}\r\n`; // 512 bytes per chunk: the fourth passes 1 KiB
    const result = await rawExchange(port, [head, chunk, chunk, chunk, chunk, chunk, '0\r\n\r\n'], { timeout: 5000, delayMs: 20, until: hasResponseHead });
    assert.equal(result.timedOut, false);
    const [res] = parseResponses(result.data);
    assert.equal(res.status, 413);
    assertFrontHeaders(res.headers, '413 chunked');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!appHits(hitsFile).some((h) => h.url === '/too-big-chunked' && h.event === 'end'), 'the app never received the whole body');
  });

  it('refuses a chunked body whose trailer holds Host, Connection, Upgrade, TE or Keep-Alive with 400; the app never sees the body end; ordinary trailers reach it', async () => {
    for (const field of ['Host: evil.example', 'Connection: close', 'Upgrade: websocket', 'TE: trailers', 'Keep-Alive: timeout=5']) {
      const url = `/trailer-${field.split(':')[0].toLowerCase()}`;
      const raw = `POST ${url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n${field}\r\n\r\n`;
      const result = await rawExchange(port, raw, { until: hasResponseHead });
      const [res] = parseResponses(result.data);
      assert.equal(res?.status, 400, `${field}: ${result.data.toString('latin1').slice(0, 120)}`);
      assertFrontHeaders(res.headers, `trailer ${field}`);
      assert.equal(res.headers.connection, 'close', `${field}: the connection closes`);
      await waitFor(() => keel.accessLines().some((l) => l.includes(res.headers['x-request-id']) && l.includes(`"POST ${url} HTTP/1.1" 400`)), { what: `the access-log line of ${url}` });
      assert.ok(!appHits(hitsFile).some((h) => h.url === url && h.event === 'end'), `${field}: the app never saw the body end`);
    }
    const ok = await rawExchange(port, 'POST /trailer-ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n');
    const [served] = parseResponses(ok.data);
    assert.equal(served?.status, 200, ok.data.toString('latin1').slice(0, 120));
    assert.equal(JSON.parse(served.body.toString()).bodyLength, 5);
  });

  it('passes bodies under --max-body to the app intact (Content-Length and chunked)', async () => {
    const payload = randomBytes(1000);
    const sha = createHash('sha256').update(payload).digest('hex');
    const fixed = await request(`${keel.url}/under-limit`, { method: 'POST', body: payload, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(fixed.statusCode, 200);
    const seen = await fixed.body.json();
    assert.equal(seen.bodyLength, 1000);
    assert.equal(seen.bodySha256, sha);
    assert.equal(seen.headers['content-length'], '1000');

    const chunked = await rawExchange(
      port,
      ['POST /under-limit-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', `1f4\r\n`, payload.subarray(0, 500), '\r\n1f4\r\n', payload.subarray(500), '\r\n0\r\n\r\n'],
      { timeout: 5000, delayMs: 5, until: (d) => parseResponses(d).some((r) => r.body.length === Number(r.headers['content-length'])) },
    );
    const [res] = parseResponses(chunked.data);
    assert.equal(res.status, 200);
    const seenChunked = JSON.parse(res.body.toString());
    assert.equal(seenChunked.bodyLength, 1000);
    assert.equal(seenChunked.bodySha256, sha);
  });

  it('answers 414 to a request line over --limit-request-line', async () => {
    const result = await rawExchange(port, `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res.status, 414);
    assertFrontHeaders(res.headers, '414');
    // Just under the limit is served.
    const ok = await request(`${keel.url}/${'b'.repeat(200)}`);
    assert.equal(ok.statusCode, 200);
    await ok.body.text();
  });

  it('answers 414 to a request line longer than the whole head allows (parser overflow)', async () => {
    const result = await rawExchange(port, `GET /${'c'.repeat(40 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 414, result.data.toString('latin1').slice(0, 200));
    assertFrontHeaders(res.headers, '414 overflow');
  });

  it('answers 414 to such a line when it reaches keel in two reads (the parser sees only the second)', async () => {
    // A loaded machine delivers one 40 KiB write in two reads now and then; here the split is forced.
    const line = `GET /${'c'.repeat(40 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const result = await rawExchange(port, [line.slice(0, 20 * 1024), line.slice(20 * 1024)], { delayMs: 50, until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 414, result.data.toString('latin1').slice(0, 200));
    assertFrontHeaders(res.headers, '414 overflow in two reads');
  });

  it('refuses what Node lets through and Gunicorn does not (targets, versions, Host, Content-Type, HTTP/1.0 chunked), and never runs the app', async () => {
    const refusals = [
      ['GET * HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'asterisk target with GET'],
      ['GET s://]ufd/ HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'a target that is neither a path nor a URL'],
      ['GET /v2-in-h1 HTTP/2.0\r\nHost: x\r\n\r\n', 505, 'HTTP/2.0 in an HTTP/1 request line'],
      ['GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'Host twice'],
      ['POST /two-types HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}', 400, 'two different Content-Types'],
      ['POST /chunked-10 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n', 400, 'Transfer-Encoding in HTTP/1.0'],
    ];
    for (const [raw, status, what] of refusals) {
      const result = await rawExchange(port, raw, { until: hasResponseHead });
      const [res] = parseResponses(result.data);
      assert.equal(res?.status, status, `${what}: ${result.data.toString('latin1').slice(0, 120)}`);
      assertFrontHeaders(res.headers, what);
    }
    const reached = appHits(hitsFile).map((h) => h.url);
    for (const url of ['*', 's://]ufd/', '/v2-in-h1', '/two-hosts', '/two-types', '/chunked-10']) assert.ok(!reached.includes(url), `${url} reached the app`);
    // Their lawful neighbours are served: OPTIONS *, an absolute URL, the same Content-Type twice.
    for (const [raw, what] of [
      ['OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'OPTIONS *'],
      ['GET http://x/absolute-form HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'absolute-form target'],
      ['POST /same-type-twice HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi', 'the same Content-Type twice'],
    ]) {
      const result = await rawExchange(port, raw);
      assert.equal(parseResponses(result.data)[0]?.status, 200, `${what}: ${result.data.toString('latin1').slice(0, 120)}`);
    }
  });

  it('answers CONNECT with 501 and a request ID instead of closing without a word, and logs it', async () => {
    const result = await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 501, result.data.toString('latin1').slice(0, 120));
    assertFrontHeaders(res.headers, 'CONNECT');
    const id = res.headers['x-request-id'];
    await waitFor(() => keel.accessLines().some((l) => l.includes(id) && / 501 /.test(l)), { what: `an access-log line for the CONNECT refusal ${id}` });
  });

  it('answers 431 to more header fields than --limit-request-fields', async () => {
    const fields = Array.from({ length: 45 }, (_, i) => `X-Field-${i}: v\r\n`).join('');
    const result = await rawExchange(port, `GET /many-fields HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res.status, 431);
    assertFrontHeaders(res.headers, '431 fields');
    // 30 fields (under 40) are fine.
    const few = Array.from({ length: 30 }, (_, i) => `X-Field-${i}: v\r\n`).join('');
    const okResult = await rawExchange(port, `GET /few-fields HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${few}\r\n`);
    assert.equal(parseResponses(okResult.data)[0].status, 200);
  });

  it('answers 431 to one header field over --limit-request-field-size', async () => {
    const result = await rawExchange(port, `GET /big-field HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(5000)}\r\n\r\n`, { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res.status, 431);
    assertFrontHeaders(res.headers, '431 field size');
  });

  it('answers 431 to a 64 KiB header block made of fields each within the limits', async () => {
    // 32 fields of 2 KiB: each under the field-size limit, count under the field limit; only the total is too big.
    const fields = Array.from({ length: 32 }, (_, i) => `X-Block-${String(i).padStart(2, '0')}: ${'z'.repeat(2048 - 14)}\r\n`).join('');
    const result = await rawExchange(port, `GET /huge-block HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 431, result.data.toString('latin1').slice(0, 200));
    assertFrontHeaders(res.headers, '431 block');
  });

  it('answers 431 to a single 64 KiB header field, whole or arriving in pieces', async () => {
    const result = await rawExchange(port, `GET /huge-field HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(64 * 1024)}\r\n\r\n`, { until: hasResponseHead });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 431, result.data.toString('latin1').slice(0, 200));
    // In pieces, the parser overflows on a chunk holding only header bytes: still a header problem, not the request line.
    const pieces = ['GET /huge-field-pieces HTTP/1.1\r\nHost: x\r\nX-Huge: ', ...Array.from({ length: 8 }, () => 'h'.repeat(8192)), '\r\n\r\n'];
    const split = await rawExchange(port, pieces, { delayMs: 5, until: hasResponseHead });
    assert.equal(parseResponses(split.data)[0]?.status, 431, split.data.toString('latin1').slice(0, 200));
  });

  it('keeps serving while 100 slow-header connections are open, and closes those after --header-timeout', async () => {
    const slow = [];
    try {
      await Promise.all(
        Array.from({ length: 100 }, () =>
          new Promise((resolve, reject) => {
            const socket = connect({ host: '127.0.0.1', port });
            const entry = { socket, data: [], closed: false };
            slow.push(entry);
            socket.on('data', (d) => entry.data.push(d));
            socket.on('error', () => {});
            socket.on('close', () => {
              entry.closed = true;
            });
            socket.once('connect', () => socket.write('GET /slow-headers HTTP/1.1\r\nHost: x\r\n', () => resolve()));
            socket.once('error', reject);
          }),
        ),
      );
      // While they hold their connections, normal requests are served.
      const agent = new Agent({ connections: 4 });
      try {
        const results = await Promise.all(
          Array.from({ length: 12 }, async (_, i) => {
            const res = await request(`${keel.url}/normal-${i}`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
            await res.body.text();
            return res.statusCode;
          }),
        );
        assert.deepEqual(results, Array(12).fill(200));
      } finally {
        await agent.close();
      }
      // And the slow ones are cut off: 408 (or a bare close), within bounded time.
      await waitFor(() => slow.every((s) => s.closed), { timeout: 15_000, what: 'every slow-header connection to be closed by keel' });
      for (const s of slow) {
        const text = Buffer.concat(s.data).toString('latin1');
        if (text) assert.match(text, /^HTTP\/1\.1 408 /, 'a slow connection gets 408 or nothing');
      }
      assert.ok(slow.some((s) => Buffer.concat(s.data).length > 0), 'at least some got a 408 answer');
      assert.ok(!appHits(hitsFile).some((h) => h.url === '/slow-headers'), 'no slow request reached the app');
    } finally {
      for (const s of slow) s.socket.destroy();
    }
  });

  it('puts X-Request-Id on every answer, unique per request', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const res = await request(`${keel.url}/ids`);
      await res.body.text();
      assertFrontHeaders(res.headers, `200 #${i}`);
      ids.add(res.headers['x-request-id']);
    }
    assert.equal(ids.size, 5);
  });
});

describe('front headers from an Express app', () => {
  let keel;
  before(async () => {
    keel = await startKeel(EXPRESS, [], { workers: 1 });
  });
  after(() => keel?.stop());

  it('drops X-Powered-By (which Express sets by default) and the Server header the app sets', async () => {
    for (const path of ['/', '/no-such-route', '/next-error']) {
      const res = await request(`${keel.url}${path}`);
      await res.body.text();
      assertFrontHeaders(res.headers, `express ${path} (${res.statusCode})`);
    }
    const res = await request(`${keel.url}/`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'hello from express\n');
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers.server, undefined);
  });
});

describe('trailers over HTTP/2', () => {
  const pki = makeCertificates();
  const leaf = pki.leaf('trailers.test', { dns: ['localhost'], ip: ['127.0.0.1'] });
  let keel;
  let hitsFile;
  before(async () => {
    hitsFile = join(tempDir('keel-h2-trailers-'), 'hits.jsonl');
    keel = await startKeel(ECHO, ['--certfile', leaf.cert, '--keyfile', leaf.key], { workers: 1, env: { FRONT_HITS_FILE: hitsFile } });
  });
  after(async () => {
    await keel?.stop();
    pki.cleanup();
  });

  /** POSTs "hello" over HTTP/2 with `trailers`: { status, requestId }; rejects after 5 s rather than hang. */
  function postWithTrailers(path, trailers) {
    return new Promise((resolve, reject) => {
      const session = http2Connect(`https://127.0.0.1:${keel.port}`, { ca: pki.ca.certPem, servername: 'localhost' });
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`${path}: no answer within 5 s`));
      }, 5000);
      session.on('close', () => clearTimeout(timer));
      session.on('error', reject);
      const stream = session.request({ ':method': 'POST', ':path': path }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      let head = null;
      stream.on('response', (headers) => (head = headers));
      stream.on('data', () => {});
      stream.on('close', () => {
        session.close();
        resolve({ status: head?.[':status'], requestId: head?.['x-request-id'] });
      });
      stream.on('error', () => {});
      stream.end('hello');
    });
  }

  it('refuses a body whose trailer holds Host or Trailer with 400 (nghttp2 resets one with Content-Length itself) and the app never sees it end; an ordinary trailer is served', async () => {
    for (const [path, trailers] of [['/h2-trailer-host', { host: 'evil.example' }], ['/h2-trailer-trailer', { trailer: 'x-more' }]]) {
      const { status, requestId } = await postWithTrailers(path, trailers);
      assert.equal(status, 400, `${path}: ${status}`);
      await waitFor(() => keel.accessLines().some((l) => l.includes(requestId) && l.includes(`"POST ${path} HTTP/2.0" 400`)), { what: `the access-log line of ${path}` });
      assert.ok(!appHits(hitsFile).some((h) => h.url === path && h.event === 'end'), `${path}: the app never saw the body end`);
    }
    assert.equal((await postWithTrailers('/h2-trailer-ok', { 'x-checksum': 'abc' })).status, 200);
  });
});
