// Static files (issue 5, point 1), black-box against the real CLI: GET/HEAD and 405, validators and
// 304/412, single ranges (206/416, multi-range → 200, If-Range), directories (index.html, 301 to
// the slash), Cache-Control defaults, precompressed .br/.gz siblings by Accept-Encoding, dotfiles
// and symlinks out of the root refused, large files streamed (and their descriptors closed when
// the client goes), changes on disk seen within about a second, access-log lines, an app beside a
// static route, a single-page app, and HTTP/2 over TLS.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { connect as h2connect, constants as h2constants } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { makeCertificates } from '../helpers/certs.js';
import { startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { parseResponses, rawExchange } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

// ---- the files, shared by every keel in this file ----

const BASE = tempDir('keel-static-');
const ROOT = join(BASE, 'public');
const SPA = join(BASE, 'spa');
const SECRET = `secret-${randomBytes(12).toString('hex')}`;
const files = {
  'index.html': '<!doctype html><title>home</title>\n',
  'app.js': `console.log(${JSON.stringify('x'.repeat(1000))});\n`,
  'app.3f9a2c1b.js': 'console.log("hashed");\n',
  'style.css': 'body { color: red; }\n',
  'page.html': `<!doctype html><title>page</title>${'<p>compressible text</p>'.repeat(200)}\n`,
  'empty.txt': '',
  'sub/index.html': '<!doctype html><title>sub</title>\n',
  'nodir/readme.txt': 'no index here\n',
  '.env': `TOKEN=${SECRET}\n`,
  '.well-known/security.txt': 'Contact: mailto:security@example.test\n',
  'sub/.hidden': SECRET,
  'changing.txt': 'version one\n',
  'doomed.txt': 'soon gone\n',
};
const BIG = randomBytes(4 * 1024 * 1024 + 123);
const MEDIUM = randomBytes(100 * 1024);

function writeTree() {
  mkdirSync(ROOT, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(ROOT, name, '..'), { recursive: true });
    writeFileSync(join(ROOT, name), body);
  }
  writeFileSync(join(ROOT, 'big.bin'), BIG);
  writeFileSync(join(ROOT, 'medium.bin'), MEDIUM);
  writeFileSync(join(ROOT, 'page.html.gz'), gzipSync(files['page.html']));
  writeFileSync(join(ROOT, 'page.html.br'), brotliCompressSync(files['page.html']));
  writeFileSync(join(BASE, 'secret.txt'), SECRET);
  symlinkSync('../secret.txt', join(ROOT, 'link-out.txt'));
  symlinkSync('app.js', join(ROOT, 'link-in.js'));
  mkdirSync(join(SPA, 'assets'), { recursive: true });
  writeFileSync(join(SPA, 'index.html'), '<!doctype html><div id="app"></div>\n');
  writeFileSync(join(SPA, 'assets', 'main-BkX9s2Qa.js'), 'app();\n');
}
writeTree();

const sha = (buf) => createHash('sha256').update(buf).digest('hex');

/** How many descriptors keel's workers hold open on `path`, from /proc. */
function descriptorsOn(keel, path) {
  let n = 0;
  for (const pid of keel.workerPids()) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === path) n++;
        } catch {}
      }
    } catch {}
  }
  return n;
}

async function get(url, headers = {}, method = 'GET') {
  const res = await request(url, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString() };
}

// ---- a routes-only keel: --static /assets=ROOT ----

describe('--static /assets=DIR, routes only', () => {
  let keel;
  let url;
  before(async () => {
    keel = await startKeel(null, ['--static', `/assets=${ROOT}`, '--access-logformat', 'json'], { workers: 2 });
    url = `${keel.url}/assets`;
  });
  after(() => keel?.stop());

  test('GET: the bytes, Content-Type with charset, Content-Length, ETag, Last-Modified, Accept-Ranges', async () => {
    const res = await get(`${url}/app.js`);
    assert.equal(res.status, 200);
    assert.equal(res.text, files['app.js']);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(files['app.js'])));
    assert.match(res.headers.etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(!Number.isNaN(Date.parse(res.headers['last-modified'])));
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers['cache-control'], 'public, max-age=0, must-revalidate');
    assert.equal((await get(`${url}/style.css`)).headers['content-type'], 'text/css; charset=utf-8');
    const empty = await get(`${url}/empty.txt`);
    assert.equal(empty.status, 200);
    assert.equal(empty.headers['content-length'], '0');
  });

  test('HEAD: the same headers, no body; other methods: 405 with Allow', async () => {
    const head = await get(`${url}/app.js`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(files['app.js'])));
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const res = await get(`${url}/app.js`, {}, method);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD', method);
    }
  });

  test('Cache-Control: a year and immutable for content-hashed names', async () => {
    const res = await get(`${url}/app.3f9a2c1b.js`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  });

  test('304 for If-None-Match and If-Modified-Since; If-None-Match wins when both are sent', async () => {
    const first = await get(`${url}/app.js`);
    const { etag } = first.headers;
    const lastModified = first.headers['last-modified'];
    const byTag = await get(`${url}/app.js`, { 'if-none-match': etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body.length, 0);
    assert.equal(byTag.headers.etag, etag);
    assert.equal(byTag.headers['cache-control'], 'public, max-age=0, must-revalidate');
    assert.equal((await get(`${url}/app.js`, { 'if-none-match': `"nope", ${etag}` })).status, 304);
    assert.equal((await get(`${url}/app.js`, { 'if-modified-since': lastModified })).status, 304);
    assert.equal((await get(`${url}/app.js`, { 'if-modified-since': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).status, 200);
    const both = await get(`${url}/app.js`, { 'if-none-match': '"stale"', 'if-modified-since': lastModified });
    assert.equal(both.status, 200);
    assert.equal(both.text, files['app.js']);
    assert.equal((await get(`${url}/app.js`, { 'if-match': '"stale"' })).status, 412);
  });

  test('single ranges → 206 with Content-Range; unsatisfiable → 416 bytes */size; several → the whole file', async () => {
    const body = Buffer.from(files['app.js']);
    const size = body.length;
    const cases = [
      ['bytes=0-9', 0, 9],
      ['bytes=10-', 10, size - 1],
      ['bytes=-7', size - 7, size - 1],
      ['bytes=5-100000', 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(`${url}/app.js`, { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${size}`, range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
      assert.deepEqual(res.body, body.subarray(start, end + 1), range);
    }
    const bad = await get(`${url}/app.js`, { range: `bytes=${size}-` });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${size}`);
    const multi = await get(`${url}/app.js`, { range: 'bytes=0-1,5-6' });
    assert.equal(multi.status, 200);
    assert.equal(multi.text, files['app.js']);
    const head = await get(`${url}/app.js`, { range: 'bytes=0-1' }, 'HEAD');
    assert.equal(head.status, 200, 'HEAD ignores Range');
  });

  test('If-Range: the range when the validator matches, the whole file when it does not', async () => {
    const { etag } = (await get(`${url}/app.js`)).headers;
    const current = await get(`${url}/app.js`, { range: 'bytes=0-3', 'if-range': etag });
    assert.equal(current.status, 206);
    assert.equal(current.text, files['app.js'].slice(0, 4));
    const stale = await get(`${url}/app.js`, { range: 'bytes=0-3', 'if-range': '"old-1"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, files['app.js']);
  });

  test('directories: index.html with the slash, a 301 to the slash without it (query kept), no listing', async () => {
    const root = await get(`${url}/`);
    assert.equal(root.status, 200);
    assert.equal(root.text, files['index.html']);
    const sub = await get(`${url}/sub/`);
    assert.equal(sub.text, files['sub/index.html']);
    const redirect = await get(`${url}/sub?x=1`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/assets/sub/?x=1');
    const bare = await get(url);
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/assets/');
    assert.equal((await get(`${url}/nodir/`)).status, 404);
    assert.equal((await get(`${url}/app.js/`)).status, 404);
    assert.equal((await get(`${url}/missing.js`)).status, 404);
  });

  test('a 301 never points off-site, whatever slashes the request had', async () => {
    const { data } = await rawExchange(keel.port, 'GET /assets//sub HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [res] = parseResponses(data);
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, '/assets/sub/');
  });

  test('precompressed siblings: br, then gzip, by Accept-Encoding with q-values; Vary always; the original Content-Type', async () => {
    const br = await get(`${url}/page.html`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.status, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.deepEqual(br.body, brotliCompressSync(files['page.html']));
    const gz = await get(`${url}/page.html`, { 'accept-encoding': 'br;q=0, gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(gz.body, gzipSync(files['page.html']));
    assert.equal((await get(`${url}/page.html`, { 'accept-encoding': 'gzip;q=1, br;q=0.1' })).headers['content-encoding'], 'gzip');
    const plain = await get(`${url}/page.html`, { 'accept-encoding': 'identity' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    assert.equal(plain.text, files['page.html']);
    assert.notEqual(br.headers.etag, plain.headers.etag, 'each representation has its own ETag');
    // A range on a precompressed variant counts the variant's bytes (as Nginx's gzip_static does).
    const part = await get(`${url}/page.html`, { 'accept-encoding': 'br', range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-encoding'], 'br');
    assert.deepEqual(part.body, brotliCompressSync(files['page.html']).subarray(0, 10));
    const notModified = await get(`${url}/page.html`, { 'accept-encoding': 'br', 'if-none-match': br.headers.etag });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.vary, 'Accept-Encoding');
    // No sibling, no Vary.
    assert.equal((await get(`${url}/app.js`, { 'accept-encoding': 'br' })).headers.vary, undefined);
  });

  test('dotfiles are 404 (so is a dotfile under a directory); /.well-known/ is served', async () => {
    for (const path of ['/.env', '/sub/.hidden', '/%2eenv', '/.well-known/../.env']) {
      const res = await get(`${url}${path}`);
      assert.equal(res.status, 404, path);
      assert.ok(!res.text.includes(SECRET), path);
    }
    const wellKnown = await get(`${url}/.well-known/security.txt`);
    assert.equal(wellKnown.status, 200);
    assert.equal(wellKnown.text, files['.well-known/security.txt']);
  });

  test('symlinks: one pointing outside the root is 404, one inside is served', async () => {
    const out = await get(`${url}/link-out.txt`);
    assert.equal(out.status, 404);
    assert.ok(!out.text.includes(SECRET));
    const inside = await get(`${url}/link-in.js`);
    assert.equal(inside.status, 200);
    assert.equal(inside.text, files['app.js']);
  });

  test('encoded names decode once: /%61pp.js is app.js; malformed escapes and NUL are 400', async () => {
    assert.equal((await get(`${url}/%61pp.js`)).text, files['app.js']);
    for (const path of ['/%zz', '/app.js%00.txt', '/%c0%ae%c0%ae/secret.txt']) {
      const { data } = await rawExchange(keel.port, `GET /assets${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(parseResponses(data)[0]?.status, 400, path);
    }
  });

  test('a 100 KiB file from memory and a 4 MiB file streamed from disk arrive whole; ranges of the streamed one too', async () => {
    const medium = await get(`${url}/medium.bin`);
    assert.equal(medium.status, 200);
    assert.equal(sha(medium.body), sha(MEDIUM));
    const big = await get(`${url}/big.bin`);
    assert.equal(big.status, 200);
    assert.equal(big.headers['content-length'], String(BIG.length));
    assert.equal(sha(big.body), sha(BIG));
    const start = 1_000_000;
    const part = await get(`${url}/big.bin`, { range: `bytes=${start}-${start + 99_999}` });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes ${start}-${start + 99_999}/${BIG.length}`);
    assert.deepEqual(part.body, BIG.subarray(start, start + 100_000));
  });

  test('clients that go away mid-stream: the file descriptors are closed, the workers keep serving', async () => {
    const openOnBig = () => descriptorsOn(keel, join(ROOT, 'big.bin'));
    for (let i = 0; i < 10; i++) {
      // Read the head and a little of the body, then reset the connection.
      await rawExchange(keel.port, 'GET /assets/big.bin HTTP/1.1\r\nHost: x\r\n\r\n', { until: (d) => d.length > 70_000, timeout: 5000 });
    }
    await waitFor(() => openOnBig() === 0, { timeout: 5000, what: 'no descriptor left open on big.bin' });
    const again = await get(`${url}/big.bin`);
    assert.equal(sha(again.body), sha(BIG));
  });

  test('changes on disk are seen within about a second: new content, a deleted file, a new file', async () => {
    const target = join(ROOT, 'changing.txt');
    assert.equal((await get(`${url}/changing.txt`)).text, 'version one\n');
    const oldTag = (await get(`${url}/changing.txt`)).headers.etag;
    writeFileSync(target, 'version two, longer\n');
    const future = new Date(Date.now() + 5000);
    utimesSync(target, future, future);
    // Every worker must see it: poll with fresh connections, so both are asked.
    await waitFor(async () => {
      for (let i = 0; i < 4; i++) if ((await get(`${url}/changing.txt`, { connection: 'close' })).text !== 'version two, longer\n') return false;
      return true;
    }, { timeout: 4000, interval: 100, what: 'the new content' });
    assert.notEqual((await get(`${url}/changing.txt`)).headers.etag, oldTag);
    assert.equal((await get(`${url}/changing.txt`, { 'if-none-match': oldTag })).status, 200);

    assert.equal((await get(`${url}/doomed.txt`)).status, 200);
    rmSync(join(ROOT, 'doomed.txt'));
    await waitFor(async () => (await get(`${url}/doomed.txt`, { connection: 'close' })).status === 404 && (await get(`${url}/doomed.txt`, { connection: 'close' })).status === 404, {
      timeout: 4000,
      interval: 100,
      what: 'the deleted file to be 404',
    });

    assert.equal((await get(`${url}/born.txt`)).status, 404);
    writeFileSync(join(ROOT, 'born.txt'), 'new\n');
    await waitFor(async () => (await get(`${url}/born.txt`, { connection: 'close' })).text === 'new\n', { timeout: 4000, interval: 100, what: 'the new file' });
  });

  test('access log: status and body bytes of 200, 206, 304, HEAD and 404', async () => {
    const tag = `log-${Date.now()}`;
    const { etag } = (await get(`${url}/app.js`)).headers;
    await get(`${url}/app.js?${tag}=full`);
    await get(`${url}/app.js?${tag}=range`, { range: 'bytes=0-9' });
    await get(`${url}/app.js?${tag}=cond`, { 'if-none-match': etag });
    await get(`${url}/app.js?${tag}=head`, {}, 'HEAD');
    await get(`${url}/big.bin?${tag}=big`);
    await get(`${url}/nope?${tag}=missing`);
    const lines = await waitFor(() => {
      const found = keel.accessLines().map((l) => JSON.parse(l)).filter((r) => r.path.includes(tag));
      return found.length === 6 ? found : null;
    }, { timeout: 5000, what: 'six access-log lines' });
    const by = Object.fromEntries(lines.map((r) => [r.path.split('=')[1], r]));
    assert.deepEqual([by.full.status, by.full.bytes], [200, Buffer.byteLength(files['app.js'])]);
    assert.deepEqual([by.range.status, by.range.bytes], [206, 10]);
    assert.deepEqual([by.cond.status, by.cond.bytes], [304, 0]);
    assert.deepEqual([by.head.status, by.head.method, by.head.bytes], [200, 'HEAD', 0]);
    assert.deepEqual([by.big.status, by.big.bytes], [200, BIG.length]);
    assert.equal(by.missing.status, 404);
  });
});

// ---- an app beside two static routes, one of them a single-page app ----

describe('an app with --static /assets=DIR and --static "/app=DIR spa"', () => {
  let keel;
  before(async () => {
    const appDir = tempDir('keel-static-app-');
    const app = join(appDir, 'app.mjs');
    writeFileSync(app, "export default (req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('app saw ' + req.url); };\n");
    keel = await startKeel(app, ['--static', `/assets=${ROOT}`, '--static', `/app=${SPA} spa`], { workers: 2 });
  });
  after(() => keel?.stop());

  test('the static prefix wins over the app; other paths (and /assetsx) reach the app', async () => {
    assert.equal((await get(`${keel.url}/assets/app.js`)).text, files['app.js']);
    assert.equal((await get(`${keel.url}/other`)).text, 'app saw /other');
    assert.equal((await get(`${keel.url}/assetsx/app.js`)).text, 'app saw /assetsx/app.js');
    assert.equal((await get(`${keel.url}/assets/missing.js`)).status, 404, 'a miss under the prefix does not fall through to the app');
  });

  test('SPA: unknown paths without an extension get index.html (no-cache); missing assets stay 404', async () => {
    const index = await get(`${keel.url}/app/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers['cache-control'], 'no-cache');
    for (const path of ['/app/dashboard', '/app/users/42/settings', '/app/deep/']) {
      const res = await get(`${keel.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.text, '<!doctype html><div id="app"></div>\n', path);
      assert.equal(res.headers['cache-control'], 'no-cache', path);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', path);
    }
    assert.equal((await get(`${keel.url}/app/dashboard`, {}, 'HEAD')).status, 200);
    assert.equal((await get(`${keel.url}/app/assets/missing.js`)).status, 404);
    assert.equal((await get(`${keel.url}/app/favicon.ico`)).status, 404);
    assert.equal((await get(`${keel.url}/app/.env`)).status, 404);
    const asset = await get(`${keel.url}/app/assets/main-BkX9s2Qa.js`);
    assert.equal(asset.text, 'app();\n');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
  });
});

// ---- no bodies in memory: every file streamed ----

describe('--static-cache-size 0: every file is streamed from disk', () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--static', `/assets=${ROOT}`, '--static-cache-size', '0'], { workers: 1 });
  });
  after(() => keel?.stop());

  test('whole files, ranges, 304s and siblings are the same as from memory', async () => {
    const url = `${keel.url}/assets`;
    const full = await get(`${url}/app.js`);
    assert.equal(full.text, files['app.js']);
    assert.equal((await get(`${url}/app.js`, { range: 'bytes=-5' })).text, files['app.js'].slice(-5));
    assert.equal((await get(`${url}/app.js`, { 'if-none-match': full.headers.etag })).status, 304);
    assert.deepEqual((await get(`${url}/page.html`, { 'accept-encoding': 'gzip' })).body, gzipSync(files['page.html']));
    assert.equal((await get(`${url}/empty.txt`)).body.length, 0);
    assert.equal(sha((await get(`${url}/medium.bin`)).body), sha(MEDIUM));
    assert.deepEqual((await get(`${url}/medium.bin`, { range: 'bytes=50000-50099' })).body, MEDIUM.subarray(50_000, 50_100));
    assert.equal(sha((await get(`${url}/big.bin`)).body), sha(BIG));
  });
});

// ---- HTTP/2 over TLS ----

describe('static files over HTTPS with HTTP/2', () => {
  const pki = makeCertificates();
  after(() => pki.cleanup());
  const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
  let keel;
  let port;
  before(async () => {
    port = await freePort();
    keel = await startKeel(null, ['-b', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key, '--static', `/assets=${ROOT}`], { workers: 1 });
  });
  after(() => keel?.stop());

  function h2get(session, path, headers = {}) {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ':path': path, ...headers });
      const chunks = [];
      let head;
      const timer = setTimeout(() => reject(new Error(`no answer for ${path} within 5 s`)), 5000);
      stream.on('response', (h) => (head = h));
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        clearTimeout(timer);
        resolve({ status: head[':status'], headers: head, body: Buffer.concat(chunks) });
      });
      stream.on('error', reject);
      stream.end();
    });
  }

  test('200, 206, 304, a precompressed sibling and a streamed file over one HTTP/2 connection', async () => {
    const session = h2connect(`https://127.0.0.1:${port}`, { ca: pki.ca.certPem });
    try {
      const full = await h2get(session, '/assets/app.js');
      assert.equal(full.status, 200);
      assert.equal(full.body.toString(), files['app.js']);
      assert.equal(full.headers['content-type'], 'text/javascript; charset=utf-8');
      const part = await h2get(session, '/assets/app.js', { range: 'bytes=2-5' });
      assert.equal(part.status, 206);
      assert.equal(part.body.toString(), files['app.js'].slice(2, 6));
      assert.equal((await h2get(session, '/assets/app.js', { 'if-none-match': full.headers.etag })).status, 304);
      const br = await h2get(session, '/assets/page.html', { 'accept-encoding': 'br' });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.deepEqual(br.body, brotliCompressSync(files['page.html']));
      const big = await h2get(session, '/assets/big.bin');
      assert.equal(big.status, 200);
      assert.equal(sha(big.body), sha(BIG));
      const head = await h2get(session, '/assets/app.js', { ':method': 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
    } finally {
      session.close();
    }
  });

  test('HTTP/2 streams cancelled mid-file: descriptors closed, the connection and the worker go on', async () => {
    const session = h2connect(`https://127.0.0.1:${port}`, { ca: pki.ca.certPem });
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve, reject) => {
          const stream = session.request({ ':path': '/assets/big.bin' });
          const timer = setTimeout(() => reject(new Error('no data within 5 s')), 5000);
          stream.once('data', () => {
            clearTimeout(timer);
            stream.close(h2constants.NGHTTP2_CANCEL);
          });
          stream.on('close', resolve);
          stream.on('error', () => {});
          stream.end();
        });
      }
      await waitFor(() => descriptorsOn(keel, join(ROOT, 'big.bin')) === 0, { timeout: 5000, what: 'no descriptor left open on big.bin' });
      const again = await h2get(session, '/assets/app.js');
      assert.equal(again.body.toString(), files['app.js']);
    } finally {
      session.close();
    }
  });
});
