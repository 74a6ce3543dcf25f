// Cache revalidation (Nginx's proxy_cache_revalidate, RFC 9111 §4.3): an expired entry with a
// validator is asked about with If-None-Match / If-Modified-Since; a 304 refreshes it and the
// client gets the kept body with X-Cache: REVALIDATED. Behind keel: a real origin (node:http, in
// this process, through a --proxy route) that records the conditional headers it gets and answers
// 304 when they match. Entries live for max-age=2 and are expired by waiting that long.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fetchVia } from '../helpers/cache-client.js';
import { startKeel } from '../helpers/keel.js';
import { scrape, sumOf } from '../helpers/prom-text.js';
import { startRevalidatingOrigin } from '../helpers/revalidating-origin.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Past max-age=2, counted from when the entry arrived. */
const EXPIRE_MS = 2100;

describe('cache revalidation with the origin (--cache, two workers)', () => {
  let origin;
  let keel;
  const get = (path, headers = {}) => fetchVia(keel.url, path, { headers });
  /** Waits until the entry is fresh (only-if-cached never reaches the origin: 504, or STALE, until then). */
  const freshInCache = (path) =>
    waitFor(async () => (await get(path, { 'cache-control': 'only-if-cached' })).headers['x-cache'] === 'HIT', { timeout: 5000, interval: 20, what: `a fresh entry for ${path}` });
  /** What reached the origin for `path` from request number `from` on. */
  const sentSince = (path, from) => origin.requests(path).slice(from);

  before(async () => {
    origin = await startRevalidatingOrigin();
    keel = await startKeel(null, ['--cache', '256k', '--proxy', `/o=${origin.url}`], { workers: 2 });
  });
  after(async () => {
    await keel?.stop();
    await origin?.close();
  });

  /** Serves `path` once (MISS), waits until it is kept, then until it has expired. */
  async function keptThenExpired(path, resource) {
    origin.set(path, resource);
    const miss = await get(path);
    assert.equal(miss.status, 200);
    assert.equal(miss.headers['x-cache'], 'MISS');
    await freshInCache(path);
    await sleep(EXPIRE_MS);
    return miss;
  }

  it('ETag: one conditional request, a 304, the kept body with X-Cache: REVALIDATED, and the entry fresh again', async () => {
    const path = '/o/etag';
    const startMetrics = await scrape(keel.adminUrl);
    const miss = await keptThenExpired(path, { body: 'the original body', cc: 'max-age=2', etag: '"e1"' });
    // The 304 says max-age=60: the refreshed entry takes its freshness from the 304's headers.
    origin.set(path, { cc: 'max-age=60' });
    const from = origin.requests(path).length;
    const revalidated = await get(path);
    assert.equal(revalidated.status, 200);
    assert.equal(revalidated.headers['x-cache'], 'REVALIDATED');
    assert.equal(revalidated.text, 'the original body');
    assert.equal(revalidated.text, miss.text);
    assert.equal(Number(revalidated.headers['content-length']), Buffer.byteLength('the original body'));
    assert.equal(revalidated.headers['cache-control'], 'max-age=60', "the 304's Cache-Control replaced the kept one");
    assert.equal(revalidated.headers.etag, '"e1"');
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"e1"', ims: undefined, status: 304 }]);

    await freshInCache(path);
    const hit = await get(path);
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.text, 'the original body');
    assert.ok(Number(hit.headers.age) < 2, `Age restarted from the 304, got ${hit.headers.age}`);
    assert.equal(origin.requests(path).length, from + 1, 'no origin request after the revalidation');

    // Counted as its own result in /metrics.
    const before = sumOf(startMetrics, 'keel_cache_requests_total', { result: 'revalidated' });
    await waitFor(async () => sumOf(await scrape(keel.adminUrl), 'keel_cache_requests_total', { result: 'revalidated' }) === before + 1, {
      what: 'keel_cache_requests_total{result="revalidated"} to count one',
    });
  });

  it('Last-Modified: revalidated with If-Modified-Since', async () => {
    const path = '/o/last-modified';
    const lm = 'Mon, 01 Jan 2024 00:00:00 GMT';
    await keptThenExpired(path, { body: 'dated body', cc: 'max-age=2', lm });
    origin.set(path, { cc: 'max-age=60' });
    const from = origin.requests(path).length;
    const revalidated = await get(path);
    assert.equal(revalidated.status, 200);
    assert.equal(revalidated.headers['x-cache'], 'REVALIDATED');
    assert.equal(revalidated.text, 'dated body');
    assert.equal(revalidated.headers['last-modified'], lm);
    assert.deepEqual(sentSince(path, from), [{ path, inm: undefined, ims: lm, status: 304 }]);
    await freshInCache(path);
    assert.equal((await get(path)).headers['x-cache'], 'HIT');
    assert.equal(origin.requests(path).length, from + 1);
  });

  it('a 200 with a new body answers the revalidation (X-Cache: MISS) and replaces the entry', async () => {
    const path = '/o/changed';
    await keptThenExpired(path, { body: 'version one', cc: 'max-age=2', etag: '"v1"' });
    origin.set(path, { body: 'version two', etag: '"v2"', cc: 'max-age=60' });
    const from = origin.requests(path).length;
    const changed = await get(path);
    assert.equal(changed.status, 200);
    assert.equal(changed.headers['x-cache'], 'MISS');
    assert.equal(changed.text, 'version two');
    assert.equal(changed.headers.etag, '"v2"');
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"v1"', ims: undefined, status: 200 }]);
    await freshInCache(path);
    const hit = await get(path);
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.text, 'version two');
    assert.equal(origin.requests(path).length, from + 1);
  });

  it('no-cache with an ETag: kept, but every use is revalidated first, and never served without a 304', async () => {
    const path = '/o/no-cache-etag';
    origin.set(path, { body: 'checked every time', cc: 'no-cache', etag: '"n1"' });
    assert.equal((await get(path)).headers['x-cache'], 'MISS');
    // The store trails the answer: ask until a request finds the entry (each miss is stored again).
    await waitFor(async () => (await get(path)).headers['x-cache'] === 'REVALIDATED', { timeout: 5000, interval: 20, what: 'the first revalidation' });
    const from = origin.requests(path).length;
    for (let i = 0; i < 3; i++) {
      const r = await get(path);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-cache'], 'REVALIDATED', `request ${i}`);
      assert.equal(r.text, 'checked every time');
      assert.equal(r.headers['cache-control'], 'no-cache');
    }
    assert.deepEqual(sentSince(path, from), Array.from({ length: 3 }, () => ({ path, inm: '"n1"', ims: undefined, status: 304 })));
    // Never answered from the cache alone: only-if-cached cannot be satisfied.
    assert.equal((await get(path, { 'cache-control': 'only-if-cached' })).status, 504);
    // The origin changes: the very next request gets the new body.
    origin.set(path, { body: 'changed at the origin', etag: '"n2"' });
    const next = await get(path);
    assert.equal(next.text, 'changed at the origin');
    assert.equal(next.headers['x-cache'], 'MISS');
  });

  it('no-cache without a validator: not kept, every request goes to the origin whole', async () => {
    const path = '/o/no-cache-plain';
    for (let i = 0; i < 4; i++) {
      origin.set(path, { body: `answer ${i}`, cc: 'no-cache, max-age=60' });
      const r = await get(path);
      assert.equal(r.text, `answer ${i}`);
      assert.equal(r.headers['x-cache'], 'MISS');
    }
    assert.deepEqual(origin.requests(path), Array.from({ length: 4 }, () => ({ path, inm: undefined, ims: undefined, status: 200 })));
  });

  it('a 304 that says no-store still answers from the entry, then drops it: the next request is unconditional', async () => {
    const path = '/o/now-no-store';
    await keptThenExpired(path, { body: 'last kept copy', cc: 'max-age=2', etag: '"d1"' });
    origin.set(path, { cc: 'no-store' });
    const from = origin.requests(path).length;
    const r = await get(path);
    assert.equal(r.headers['x-cache'], 'REVALIDATED');
    assert.equal(r.text, 'last kept copy');
    assert.equal(r.headers['cache-control'], 'no-store');
    // Dropped: a later request finds nothing to revalidate (the drop trails the answer, so ask until it shows).
    await waitFor(async () => (await get(path)).headers['x-cache'] === 'MISS', { timeout: 5000, interval: 20, what: 'the entry to be dropped' });
    const sent = sentSince(path, from);
    assert.deepEqual(sent[0], { path, inm: '"d1"', ims: undefined, status: 304 });
    assert.deepEqual(sent.at(-1), { path, inm: undefined, ims: undefined, status: 200 });
  });

  it('must-revalidate past its freshness is revalidated the same way', async () => {
    const path = '/o/must-revalidate';
    await keptThenExpired(path, { body: 'strict', cc: 'max-age=2, must-revalidate', etag: '"m1"' });
    origin.set(path, { cc: 'max-age=60, must-revalidate' });
    const from = origin.requests(path).length;
    const r = await get(path);
    assert.equal(r.headers['x-cache'], 'REVALIDATED');
    assert.equal(r.text, 'strict');
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"m1"', ims: undefined, status: 304 }]);
  });

  it("the client's own conditional request gets a 304 after the revalidation; the origin gets keel's validator", async () => {
    const path = '/o/client-conditional';
    await keptThenExpired(path, { body: 'conditional body', cc: 'max-age=2', etag: '"c1"' });
    origin.set(path, { cc: 'max-age=60' });
    const from = origin.requests(path).length;
    const notModified = await get(path, { 'if-none-match': 'W/"c1", "zz"' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers['x-cache'], 'REVALIDATED');
    assert.equal(notModified.headers.etag, '"c1"');
    assert.equal(notModified.text, '');
    // The origin was asked with the kept ETag, not the client's list.
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"c1"', ims: undefined, status: 304 }]);
    await freshInCache(path);
    // A client whose copy differs gets the whole refreshed entry.
    const other = await get(path, { 'if-none-match': '"old"' });
    assert.equal(other.status, 200);
    assert.equal(other.text, 'conditional body');
  });

  it('stale-while-revalidate: the background refresh is conditional and a 304 refreshes the entry', async () => {
    const path = '/o/swr';
    await keptThenExpired(path, { body: 'served stale', cc: 'max-age=2, stale-while-revalidate=30', etag: '"s1"' });
    origin.set(path, { cc: 'max-age=60, stale-while-revalidate=30' });
    const from = origin.requests(path).length;
    const stale = await get(path);
    assert.equal(stale.headers['x-cache'], 'STALE');
    assert.equal(stale.text, 'served stale');
    await freshInCache(path);
    const hit = await get(path);
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.text, 'served stale');
    assert.equal(hit.headers['cache-control'], 'max-age=60, stale-while-revalidate=30');
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"s1"', ims: undefined, status: 304 }]);
  });

  it('concurrent requests for one stale key, across two workers, make one conditional request', async () => {
    const path = '/o/collapsed';
    await keptThenExpired(path, { body: 'one for all', cc: 'max-age=2', etag: '"k1"' });
    // A slow 304, so every request arrives while the revalidation is under way.
    origin.set(path, { cc: 'max-age=60', delay: 500 });
    const from = origin.requests(path).length;
    const results = await Promise.all(Array.from({ length: 20 }, () => get(path)));
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"k1"', ims: undefined, status: 304 }]);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.text, 'one for all');
    }
    const tags = results.map((r) => r.headers['x-cache']);
    assert.equal(tags.filter((t) => t === 'REVALIDATED').length, 1, tags.join(' '));
    assert.equal(tags.filter((t) => t === 'HIT').length, 19, tags.join(' '));
  });

  it('concurrent requests for a no-cache key share one revalidation made after they arrived', async () => {
    const path = '/o/collapsed-no-cache';
    origin.set(path, { body: 'validated once', cc: 'no-cache', etag: '"q1"' });
    await get(path);
    await waitFor(async () => (await get(path)).headers['x-cache'] === 'REVALIDATED', { timeout: 5000, interval: 20, what: 'the first revalidation' });
    origin.set(path, { delay: 1000 });
    const from = origin.requests(path).length;
    const results = await Promise.all(Array.from({ length: 10 }, () => get(path)));
    assert.deepEqual(sentSince(path, from), [{ path, inm: '"q1"', ims: undefined, status: 304 }]);
    for (const r of results) assert.equal(r.text, 'validated once');
    assert.equal(results.filter((r) => r.headers['x-cache'] === 'REVALIDATED').length, 1);
  });
});

describe('cache revalidation over HTTP/2 (h2c)', () => {
  let origin;
  let keel;
  before(async () => {
    origin = await startRevalidatingOrigin();
    keel = await startKeel(null, ['--cache', '256k', '--h2c', '--proxy', `/o=${origin.url}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await origin?.close();
  });

  /** curl over cleartext HTTP/2, run asynchronously: the origin answers from this process. */
  async function h2(path) {
    const { stdout } = await promisify(execFile)('curl', ['-s', '-i', '-m', '10', '--http2-prior-knowledge', `${keel.url}${path}`], { encoding: 'utf8' });
    const [head, ...rest] = stdout.split('\r\n\r\n');
    const lines = head.split('\r\n');
    const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
  }

  it('an HTTP/2 request is revalidated with If-None-Match and answered with the kept body', async () => {
    const path = '/o/h2';
    origin.set(path, { body: 'over h2', cc: 'max-age=2', etag: '"h1"' });
    assert.equal((await h2(path)).headers['x-cache'], 'MISS');
    await waitFor(async () => (await fetchVia(keel.url, path, { headers: { 'cache-control': 'only-if-cached' } })).headers['x-cache'] === 'HIT', { timeout: 5000, interval: 20, what: 'the entry' });
    await sleep(EXPIRE_MS);
    origin.set(path, { cc: 'max-age=60' });
    const from = origin.requests(path).length;
    const r = await h2(path);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cache'], 'REVALIDATED');
    assert.equal(r.body, 'over h2');
    assert.deepEqual(origin.requests(path).slice(from), [{ path, inm: '"h1"', ims: undefined, status: 304 }]);
  });
});
