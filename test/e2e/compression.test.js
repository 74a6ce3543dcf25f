// Compression on the fly (issue 5, point 2), black-box against the real CLI: brotli and gzip chosen
// by Accept-Encoding q-values, Nginx's gzip rules (compressible types, the size threshold, never
// twice, never ranges, no-transform, 204/304), Vary, weakened ETags, HEAD, HTTP/1.0, event streams
// and res.flush() delivered at once, backpressure and aborts on a large stream, the access log's
// byte count, a plain listener, Express and a fetch-API app, and HTTP/2 over TLS. Bodies are
// decompressed here with zlib and compared byte for byte with what the app sent.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect as h2connect, constants as h2constants } from 'node:http2';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, createBrotliDecompress, createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { request } from 'undici';
import { makeCertificates } from '../helpers/certs.js';
import { startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { parseResponses, rawExchange } from '../helpers/raw-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { bigStreamBody, textOf } from '../fixtures/compress-listener.js';

const LISTENER = 'test/fixtures/compress-listener.js';
const EXPRESS = 'test/fixtures/compress-express.js';
const FETCH = 'test/fixtures/compress-fetch.js';
const FASTIFY = 'test/fixtures/compress-fastify.js:build()';
const KOA = 'test/fixtures/compress-koa.js';

const BIG = textOf(4000);
const JSON_BIG = JSON.stringify({ text: BIG });

/** GET (or another method) with an explicit Accept-Encoding; the body raw, as it came over the wire. */
async function fetchRaw(base, path, acceptEncoding, { method = 'GET', headers = {} } = {}) {
  const res = await request(`${base}${path}`, { method, headers: { ...(acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }), ...headers } });
  const raw = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, raw };
}

/** The body decoded per its Content-Encoding (none, br or gzip). */
function decoded({ headers, raw }) {
  const coding = headers['content-encoding'];
  if (coding === undefined) return raw;
  if (coding === 'br') return brotliDecompressSync(raw);
  if (coding === 'gzip') return gunzipSync(raw);
  throw new Error(`unexpected content-encoding ${coding}`);
}

function varyTokens(headers) {
  const vary = headers.vary;
  return vary === undefined ? [] : String(vary).split(',').map((t) => t.trim().toLowerCase());
}

/** The access line of a request, by its ID; { status, bytes, event }. */
async function accessLine(keel, requestId) {
  const line = await waitFor(() => keel.accessLines().find((l) => l.includes(requestId)), { timeout: 5000, what: `the access line of ${requestId}` });
  const m = /" (\d{3}) (\d+|-) ".*" ".*" \d+\.\d{3} \S+(?: ([a-z-]+))?$/.exec(line);
  assert.ok(m, line);
  return { status: Number(m[1]), bytes: m[2] === '-' ? -1 : Number(m[2]), event: m[3] ?? '' };
}

/** Reads a streamed, compressed body as it arrives: text() so far, next(until) waits for some text, rest() to the end. */
function streamingDecoder(body, coding) {
  const decoder = coding === 'br' ? createBrotliDecompress() : coding === 'gzip' ? createGunzip() : null;
  const source = decoder ? body.pipe(decoder) : body;
  let text = '';
  let ended = false;
  let error = null;
  source.on('data', (d) => (text += d.toString()));
  source.on('end', () => (ended = true));
  source.on('error', (err) => (error = err));
  return {
    text: () => text,
    until: (what) => waitFor(() => {
      if (error) throw error;
      return text.includes(what);
    }, { timeout: 5000, what: `"${what}" in the streamed body` }),
    rest: async () => {
      await waitFor(() => {
        if (error) throw error;
        return ended;
      }, { timeout: 10_000, what: 'the end of the streamed body' });
      return text;
    },
  };
}

function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', ...args], { encoding: 'buffer', timeout: 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr: stderr.toString() }));
  });
}

describe('a plain Node listener, default settings (brotli and gzip, 1024-byte threshold)', () => {
  let keel;
  before(async () => {
    keel = await startKeel(LISTENER, [], { workers: 1 });
  });
  after(() => keel?.stop());

  test('br and gzip: the decoded body is what the app sent; Content-Encoding and Vary set, Content-Length gone, smaller on the wire', async () => {
    for (const coding of ['br', 'gzip']) {
      const res = await fetchRaw(keel.url, '/json-big', coding);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.deepEqual(varyTokens(res.headers), ['accept-encoding']);
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(decoded(res).toString(), JSON_BIG);
      assert.ok(res.raw.length < JSON_BIG.length / 4, `${coding}: ${res.raw.length} bytes on the wire for ${JSON_BIG.length}`);
    }
  });

  test('Accept-Encoding q-values: the client\'s preference, q=0 refusals, `*`, identity', async () => {
    const cases = [
      ['gzip, deflate, br, zstd', 'br'],
      ['gzip;q=1, br;q=0.5', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['br;q=0', undefined],
      ['gzip;q=0, br;q=0', undefined],
      ['identity', undefined],
      ['deflate', undefined],
      ['*;q=0.1', 'br'],
      ['br;q=0, *', 'gzip'],
      ['*;q=0', undefined],
      ['', undefined],
    ];
    for (const [acceptEncoding, expected] of cases) {
      const res = await fetchRaw(keel.url, '/json-big', acceptEncoding);
      assert.equal(res.headers['content-encoding'], expected, `Accept-Encoding: ${acceptEncoding}`);
      assert.equal(decoded(res).toString(), JSON_BIG, `Accept-Encoding: ${acceptEncoding}`);
      // Compressible and long enough: Vary whether or not this client got it compressed, so a shared cache keeps the variants apart.
      assert.deepEqual(varyTokens(res.headers), ['accept-encoding'], `Vary for Accept-Encoding: ${acceptEncoding}`);
      // Uncompressed, Node still frames the body end() carried with its length.
      if (expected === undefined) assert.equal(res.headers['content-length'], String(JSON_BIG.length), `Accept-Encoding: ${acceptEncoding}`);
    }
  });

  test('no Accept-Encoding at all: the response is left exactly as the app made it (no Vary either)', async () => {
    const res = await fetchRaw(keel.url, '/text-length', undefined);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, undefined);
    assert.equal(res.headers['content-length'], String(BIG.length));
    assert.equal(res.headers.etag, '"v1-big"');
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.raw.toString(), BIG);
  });

  test('the size threshold: below 1024 bytes (known length) nothing is compressed and no Vary is added; at 1024 it is', async () => {
    const small = await fetchRaw(keel.url, '/json-small', 'br, gzip');
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers.vary, undefined);
    assert.equal(small.headers['content-length'], String(small.raw.length));
    const below = await fetchRaw(keel.url, '/text-threshold?n=1023', 'gzip');
    assert.equal(below.headers['content-encoding'], undefined);
    assert.equal(below.raw.toString(), textOf(1023));
    const at = await fetchRaw(keel.url, '/text-threshold?n=1024', 'gzip');
    assert.equal(at.headers['content-encoding'], 'gzip');
    assert.equal(decoded(at).toString(), textOf(1024));
  });

  test('writeHead without a length, then end(body): a small body is sent as it is, with its length; a large one is compressed; the reason phrase survives', async () => {
    for (const transport of ['undici', 'raw']) {
      if (transport === 'raw') {
        const result = await rawExchange(keel.port, 'GET /write-head-then-end?n=20 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n', { timeout: 5000 });
        assert.match(result.data.toString('latin1'), /^HTTP\/1\.1 201 Made It\r\n/);
        continue;
      }
      const small = await fetchRaw(keel.url, '/write-head-then-end?n=20', 'br, gzip');
      assert.equal(small.status, 201);
      assert.equal(small.headers['content-encoding'], undefined);
      assert.equal(small.headers.vary, undefined);
      assert.equal(small.headers['content-length'], '20');
      assert.equal(small.raw.toString(), textOf(20));
    }
    const big = await fetchRaw(keel.url, '/write-head-then-end?n=3000', 'gzip');
    assert.equal(big.status, 201);
    assert.equal(big.headers['content-encoding'], 'gzip');
    assert.equal(decoded(big).toString(), textOf(3000));
  });

  test('headers given whole to writeHead: the strong ETag is weakened, Accept-Ranges and Content-Length dropped, X-Request-Id kept', async () => {
    const res = await fetchRaw(keel.url, '/text-length', 'br');
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers.etag, 'W/"v1-big"');
    assert.equal(res.headers['accept-ranges'], undefined);
    assert.equal(res.headers['content-length'], undefined);
    assert.match(res.headers['x-request-id'], /\S{8,}/);
    assert.equal(decoded(res).toString(), BIG);
    // The same response without compression keeps its strong validator.
    const plain = await fetchRaw(keel.url, '/text-length', 'identity');
    assert.equal(plain.headers.etag, '"v1-big"');
    assert.equal(plain.headers['content-length'], String(BIG.length));
  });

  test('a body written in pieces with no length is compressed as it streams; duplicate headers from writeHead\'s array survive', async () => {
    const res = await fetchRaw(keel.url, '/html-stream', 'gzip');
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    const html = decoded(res).toString();
    assert.ok(html.startsWith('<!doctype html>') && html.endsWith('</body></html>\n'), html.slice(-40));
    assert.equal(html.match(/<p>/g).length, 20);
  });

  test('types: SVG is compressed; PNG, octet-stream and a body without Content-Type are not, and get no Vary', async () => {
    const svg = await fetchRaw(keel.url, '/svg', 'br');
    assert.equal(svg.headers['content-encoding'], 'br');
    assert.match(decoded(svg).toString(), /^<svg [^]*<\/svg>$/);
    for (const path of ['/png', '/octet', '/no-type']) {
      const res = await fetchRaw(keel.url, path, 'br, gzip');
      assert.equal(res.headers['content-encoding'], undefined, path);
      assert.equal(res.headers.vary, undefined, path);
    }
    const png = await fetchRaw(keel.url, '/png', 'br, gzip');
    assert.equal(png.raw.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
    assert.equal(png.headers['content-length'], String(png.raw.length));
  });

  test('never twice: a body the app already encoded goes out untouched, whatever the client prefers', async () => {
    for (const coding of ['br', 'gzip', 'br;q=1, gzip;q=0.5']) {
      const res = await fetchRaw(keel.url, '/pre-gzipped', coding);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(res.headers['content-length'], String(res.raw.length));
      assert.deepEqual(res.raw, gzipSync(BIG), 'the very bytes the app sent');
      assert.equal(gunzipSync(res.raw).toString(), BIG);
      assert.deepEqual(varyTokens(res.headers), ['accept-encoding']);
    }
  });

  test('never ranges: a 206, or any response with Content-Range, goes out as it is', async () => {
    const partial = await fetchRaw(keel.url, '/range', 'br, gzip', { headers: { range: 'bytes=100-2099' } });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['content-encoding'], undefined);
    assert.equal(partial.headers['content-range'], `bytes 100-2099/${BIG.length}`);
    assert.equal(partial.raw.toString(), BIG.slice(100, 2100));
    const ranged = await fetchRaw(keel.url, '/content-range-200', 'br, gzip');
    assert.equal(ranged.headers['content-encoding'], undefined);
    assert.equal(ranged.raw.toString(), BIG);
  });

  test('Cache-Control: no-transform is obeyed; 204 and 304 are left alone; a big 404 page is compressed', async () => {
    const noTransform = await fetchRaw(keel.url, '/no-transform', 'br, gzip');
    assert.equal(noTransform.headers['content-encoding'], undefined);
    assert.equal(noTransform.headers.vary, undefined);
    assert.equal(noTransform.raw.toString(), BIG);
    for (const [path, status] of [['/no-content', 204], ['/not-modified', 304]]) {
      const res = await fetchRaw(keel.url, path, 'br, gzip');
      assert.equal(res.status, status);
      assert.equal(res.headers['content-encoding'], undefined, path);
      assert.equal(res.headers.vary, undefined, path);
      assert.equal(res.raw.length, 0);
    }
    const notModified = await fetchRaw(keel.url, '/not-modified', 'gzip');
    assert.equal(notModified.headers.etag, '"v1"', 'a 304 keeps its validator as the app set it');
    const notFound = await fetchRaw(keel.url, '/not-found', 'gzip');
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers['content-encoding'], 'gzip');
    assert.equal(decoded(notFound).toString(), BIG);
  });

  test('Vary is merged with the app\'s, never duplicated; a weak ETag stays as it is', async () => {
    const merged = await fetchRaw(keel.url, '/vary', 'br');
    assert.equal(merged.headers.vary, 'Origin, Accept-Encoding');
    assert.equal(merged.headers['content-encoding'], 'br');
    const already = await fetchRaw(keel.url, '/vary-has', 'br');
    assert.equal(already.headers.vary, 'accept-encoding, Origin');
    assert.equal(already.headers['content-encoding'], 'br');
    const weak = await fetchRaw(keel.url, '/weak-etag', 'gzip');
    assert.equal(weak.headers.etag, 'W/"already-weak"');
    assert.equal(weak.headers['content-encoding'], 'gzip');
  });

  test('HEAD: the same head as GET would get (Content-Encoding, Vary, weak ETag, no Content-Length), and no body', async () => {
    for (const path of ['/text-length', '/json-big']) {
      const head = await fetchRaw(keel.url, path, 'br', { method: 'HEAD' });
      const get = await fetchRaw(keel.url, path, 'br');
      assert.equal(head.raw.length, 0);
      for (const name of ['content-encoding', 'vary', 'etag', 'content-length', 'accept-ranges', 'content-type']) {
        assert.equal(head.headers[name], get.headers[name], `${path}: ${name}`);
      }
      assert.equal(head.headers['content-encoding'], 'br');
    }
    // Below the threshold, HEAD is left alone like GET.
    const small = await fetchRaw(keel.url, '/json-small', 'br', { method: 'HEAD' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers.vary, undefined);
  });

  test('HTTP/1.0: not compressed (no chunked framing to carry it), but Vary is set', async () => {
    const result = await rawExchange(keel.port, 'GET /json-big HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n', { timeout: 5000 });
    const [res] = parseResponses(result.data);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, 'Accept-Encoding');
    assert.equal(res.body.toString(), JSON_BIG);
  });

  test('the access log counts the bytes sent: the compressed body with its chunk framing, not the original length', async () => {
    const result = await rawExchange(keel.port, 'GET /json-big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n', { timeout: 5000 });
    const [res] = parseResponses(result.data);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(res.body).toString(), JSON_BIG);
    const wireBody = result.data.length - (result.data.indexOf('\r\n\r\n') + 4);
    const line = await accessLine(keel, res.headers['x-request-id']);
    assert.equal(line.bytes, wireBody, `logged ${line.bytes}, ${wireBody} body bytes on the wire, ${res.body.length} compressed, ${JSON_BIG.length} original`);
    assert.ok(line.bytes < JSON_BIG.length / 4);
  });

  test('curl --compressed gets the original text back, with far fewer bytes downloaded', async () => {
    const res = await curl(['--compressed', '-w', '\n%{size_download}', `${keel.url}/json-big`]);
    assert.equal(res.code, 0, res.stderr);
    const text = res.stdout.toString();
    const cut = text.lastIndexOf('\n');
    assert.equal(text.slice(0, cut), JSON_BIG);
    assert.ok(Number(text.slice(cut + 1)) < JSON_BIG.length / 4, text.slice(cut + 1));
  });

  test('text/event-stream is flushed after every write: the first event arrives, decoded, before the second exists', async () => {
    for (const coding of ['gzip', 'br']) {
      const res = await request(`${keel.url}/events`, { headers: { 'accept-encoding': coding } });
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers['content-type'], 'text/event-stream');
      const stream = streamingDecoder(res.body, coding);
      await stream.until('data: first');
      assert.ok(!stream.text().includes('second'));
      const release = await fetchRaw(keel.url, '/events-next', undefined);
      assert.equal(release.raw.toString(), 'released\n');
      const all = await stream.rest();
      assert.equal(all, `data: first ${textOf(100)}\n\ndata: second\n\n`);
    }
  });

  test('res.flush() pushes out what the compressor holds, for streams that are not event streams', async () => {
    const res = await request(`${keel.url}/flush`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(res.headers['content-encoding'], 'br');
    const stream = streamingDecoder(res.body, 'br');
    await stream.until('"first"');
    assert.ok(!stream.text().includes('second'));
    await fetchRaw(keel.url, '/events-next', undefined);
    assert.equal(await stream.rest(), `${JSON.stringify({ first: textOf(50) })}\n${JSON.stringify({ second: true })}\n`);
  });

  test('backpressure: a client that does not read stalls the app\'s writes (write() false until drain); reading resumes them, every byte intact', async () => {
    const total = 24 * 1024 * 1024;
    const socket = connect({ host: '127.0.0.1', port: keel.port });
    after(() => socket.destroy());
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.pause();
    socket.write(`GET /big-stream?bytes=${total} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n`);
    const stats = async () => JSON.parse((await fetchRaw(keel.url, '/stream-stats', undefined)).raw.toString());
    // Stalled: the app was told to wait, and what it wrote stops growing while nobody reads.
    let last = -1;
    const stalled = await waitFor(async () => {
      const now = await stats();
      const still = now.sawFalse && now.written === last && now.written > 0;
      last = now.written;
      return still ? now : null;
    }, { timeout: 20_000, interval: 300, what: 'the big stream to stall' });
    assert.ok(stalled.written < total / 2, `the app wrote ${stalled.written} of ${total} bytes with nobody reading`);
    assert.equal(stalled.done, false);
    // Now read it all: it resumes, and decodes to exactly the app's body.
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.resume();
    await waitFor(() => socket.readableEnded || socket.destroyed, { timeout: 30_000, what: 'the whole big stream' });
    const [res] = parseResponses(Buffer.concat(chunks));
    assert.equal(res.headers['content-encoding'], 'gzip');
    const body = gunzipSync(res.body);
    assert.equal(body.length, total);
    assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(bigStreamBody(total)).digest('hex'));
    const done = await stats();
    assert.equal(done.done, true);
    assert.ok(done.drains > 0, 'the app was told to go on through drain');
  });

  test('a client that goes away mid-stream: the response closes as aborted, the app is not fed further, the worker serves on', async () => {
    const total = 24 * 1024 * 1024;
    const result = await rawExchange(keel.port, `GET /big-stream?bytes=${total} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n\r\n`, {
      timeout: 5000,
      until: (data) => data.length > 64 * 1024,
    });
    assert.ok(result.data.length > 64 * 1024);
    const id = /x-request-id: (\S+)/i.exec(result.data.toString('latin1'))[1];
    const line = await accessLine(keel, id);
    assert.equal(line.event, 'aborted');
    const stats = JSON.parse((await fetchRaw(keel.url, '/stream-stats', undefined)).raw.toString());
    await sleep(300);
    const later = JSON.parse((await fetchRaw(keel.url, '/stream-stats', undefined)).raw.toString());
    assert.equal(later.done, false);
    assert.equal(later.written, stats.written, 'no drain reaches the app once its client is gone');
    const res = await fetchRaw(keel.url, '/json-big', 'br');
    assert.equal(decoded(res).toString(), JSON_BIG);
    assert.deepEqual(keel.errorLog().filter((l) => l.level >= 50), [], 'no error logged');
  });
});

describe('Express: res.send sets Content-Length and a strong ETag itself', () => {
  let keel;
  before(async () => {
    keel = await startKeel(EXPRESS, [], { workers: 1 });
  });
  after(() => keel?.stop());

  test('res.send of a large page is compressed, its ETag weakened, and revalidating with that ETag gives an uncompressed 304', async () => {
    const plain = await fetchRaw(keel.url, '/send', undefined);
    assert.match(plain.headers.etag, /^W?\/?"/);
    const res = await fetchRaw(keel.url, '/send', 'gzip, br');
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(decoded(res).toString(), plain.raw.toString());
    assert.equal(res.headers.etag, plain.headers.etag.startsWith('W/') ? plain.headers.etag : `W/${plain.headers.etag}`);
    const revalidated = await fetchRaw(keel.url, '/send', 'gzip, br', { headers: { 'if-none-match': res.headers.etag } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers['content-encoding'], undefined);
    assert.equal(revalidated.raw.length, 0);
  });

  test('res.json: a small body stays as it is; a large one is compressed with gzip when the client prefers it', async () => {
    const small = await fetchRaw(keel.url, '/json-small', 'br');
    assert.equal(small.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(small.raw.toString()), { ok: true });
    const big = await fetchRaw(keel.url, '/json-big', 'br;q=0.5, gzip');
    assert.equal(big.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(decoded(big).toString()), { text: textOf(5000) });
  });
});

describe('a fetch-API app: a streamed Response body', () => {
  let keel;
  before(async () => {
    keel = await startKeel(FETCH, [], { workers: 1 });
  });
  after(() => keel?.stop());

  test('a ReadableStream body of unknown length is compressed as it streams; a whole one too', async () => {
    const expected = Array.from({ length: 30 }, (_, i) => `line ${i}: ${textOf(500)}\n`).join('');
    for (const coding of ['br', 'gzip']) {
      const res = await fetchRaw(keel.url, '/stream', coding);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(decoded(res).toString(), expected);
      assert.ok(res.raw.length < expected.length / 4);
    }
    const whole = await fetchRaw(keel.url, '/whole', 'gzip');
    assert.equal(whole.headers['content-encoding'], 'gzip');
    assert.equal(whole.headers['content-type'], 'application/javascript');
    assert.equal(decoded(whole).toString(), textOf(6000));
  });
});

describe('Fastify and Koa: headers given whole to writeHead, and Node streams piped into the response', () => {
  const apps = [
    [FASTIFY, '/json', 'application/json; charset=utf-8', JSON.stringify({ text: textOf(5000) }), '/stream', Array.from({ length: 20 }, (_, i) => `fastify ${i} ${textOf(400)}\n`).join('')],
    [KOA, '/text', 'text/plain; charset=utf-8', textOf(5000), '/stream', Array.from({ length: 20 }, (_, i) => `.koa-${i} { content: "${textOf(400)}"; }\n`).join('')],
  ];
  for (const [app, wholePath, type, whole, streamPath, streamed] of apps) {
    test(`${app}: a whole body and a streamed one, in br and gzip`, async (t) => {
      const keel = await startKeel(app, [], { workers: 1 });
      t.after(() => keel.stop());
      for (const coding of ['br', 'gzip']) {
        const res = await fetchRaw(keel.url, wholePath, coding);
        assert.equal(res.headers['content-encoding'], coding);
        assert.equal(res.headers['content-type'], type);
        assert.equal(res.headers['content-length'], undefined);
        assert.equal(decoded(res).toString(), whole);
        const stream = await fetchRaw(keel.url, streamPath, coding);
        assert.equal(stream.headers['content-encoding'], coding);
        assert.equal(decoded(stream).toString(), streamed);
      }
      const plain = await fetchRaw(keel.url, wholePath, undefined);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.raw.toString(), whole);
    });
  }
});

describe('--compress false', () => {
  let keel;
  before(async () => {
    keel = await startKeel(LISTENER, ['--compress', 'false'], { workers: 1 });
  });
  after(() => keel?.stop());

  test('nothing is compressed and no Vary is added', async () => {
    const res = await fetchRaw(keel.url, '/text-length', 'br, gzip');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, undefined);
    assert.equal(res.headers.etag, '"v1-big"');
    assert.equal(res.raw.toString(), BIG);
  });
});

describe('HTTP/2 over TLS, --compress-min-length 100', () => {
  const pki = makeCertificates();
  after(() => pki.cleanup());
  const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
  let keel;
  let port;
  let session;
  before(async () => {
    port = await freePort();
    keel = await startKeel(LISTENER, ['-b', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key, '--compress-min-length', '100'], { workers: 1 });
    session = h2connect(`https://127.0.0.1:${port}`, { ca: pki.ca.certPem });
    session.on('error', () => {});
  });
  after(() => {
    session?.close();
    return keel?.stop();
  });

  function h2get(path, headers = {}) {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ':path': path, ...headers });
      stream.setTimeout(10_000, () => stream.close(h2constants.NGHTTP2_CANCEL));
      const chunks = [];
      let head = null;
      stream.on('response', (h) => (head = h));
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => resolve({ status: head[':status'], headers: head, raw: Buffer.concat(chunks) }));
      stream.on('error', reject);
      stream.end();
    });
  }

  test('br and gzip over HTTP/2: decoded bodies match, no Content-Length, and the access log counts the compressed bytes', async () => {
    for (const coding of ['br', 'gzip']) {
      const res = await h2get('/json-big', { 'accept-encoding': coding });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(res.headers['content-length'], undefined);
      assert.deepEqual(varyTokens(res.headers), ['accept-encoding']);
      assert.equal(decoded(res).toString(), JSON_BIG);
      const line = await accessLine(keel, res.headers['x-request-id']);
      assert.equal(line.bytes, res.raw.length);
    }
  });

  test('writeHead without a length, then end(body): the body\'s size decides over HTTP/2 too', async () => {
    const small = await h2get('/write-head-then-end?n=50', { 'accept-encoding': 'br' });
    assert.equal(small.status, 201);
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.raw.toString(), textOf(50));
    const big = await h2get('/write-head-then-end?n=500', { 'accept-encoding': 'br' });
    assert.equal(big.status, 201);
    assert.equal(big.headers['content-encoding'], 'br');
    assert.equal(decoded(big).toString(), textOf(500));
  });

  test('the lower threshold applies: a 211-byte JSON body is compressed; a streamed page keeps both Set-Cookie headers', async () => {
    const small = await h2get('/json-small', { 'accept-encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], 'gzip');
    assert.equal(JSON.parse(decoded(small).toString()).text, textOf(200));
    const html = await h2get('/html-stream', { 'accept-encoding': 'br' });
    assert.equal(html.headers['content-encoding'], 'br');
    assert.deepEqual(html.headers['set-cookie'], ['a=1', 'b=2']);
    assert.ok(decoded(html).toString().endsWith('</body></html>\n'));
  });

  test('HEAD over HTTP/2: the head GET gets, no body', async () => {
    const head = await h2get('/text-length', { ':method': 'HEAD', 'accept-encoding': 'gzip' });
    const get = await h2get('/text-length', { 'accept-encoding': 'gzip' });
    assert.equal(head.raw.length, 0);
    for (const name of ['content-encoding', 'vary', 'etag', 'content-length']) assert.equal(head.headers[name], get.headers[name], name);
    assert.equal(head.headers['content-encoding'], 'gzip');
    assert.equal(head.headers.etag, 'W/"v1-big"');
  });

  test('uncompressed HTTP/2 answers are logged with their real size; an event stream is flushed per event', async () => {
    const png = await h2get('/png', { 'accept-encoding': 'br' });
    assert.equal(png.headers['content-encoding'], undefined);
    const line = await accessLine(keel, png.headers['x-request-id']);
    assert.equal(line.bytes, png.raw.length);

    const stream = session.request({ ':path': '/events', 'accept-encoding': 'br' });
    const head = await new Promise((resolve) => stream.once('response', resolve));
    assert.equal(head['content-encoding'], 'br');
    const events = streamingDecoder(stream, 'br');
    await events.until('data: first');
    assert.ok(!events.text().includes('second'));
    await h2get('/events-next');
    assert.equal(await events.rest(), `data: first ${textOf(100)}\n\ndata: second\n\n`);
  });
});
