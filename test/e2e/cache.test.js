// The response cache (--cache, in the primary, shared by the workers): RFC 9111 for each
// Cache-Control directive the issue lists (s-maxage, max-age, no-store, private, no-cache), Expires,
// Set-Cookie, Vary, stale-while-revalidate, X-Cache HIT/MISS/STALE, one app call for concurrent
// misses across two workers, conditional requests, HEAD from a GET entry, and the LRU byte bound.
// The fixture app counts its calls across workers in a file; a hit is a request that added none.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { request } from 'undici';
import { appCalls, fetchVia } from '../helpers/cache-client.js';
import { startKeel, tempDir } from '../helpers/keel.js';
import { sleep, waitFor } from '../helpers/wait.js';

const APP = 'test/fixtures/cache-app.js';

/** Starts keel with the fixture app and a fresh call counter. */
async function startCacheKeel(args, options = {}) {
  const hits = join(tempDir('keel-cache-'), 'hits');
  return startKeel(APP, args, { workers: 2, ...options, env: { CACHE_HITS_FILE: hits, ...options.env } });
}

describe('response cache in memory (--cache)', () => {
  let keel;
  let get;
  let calls;
  before(async () => {
    keel = await startCacheKeel(['--cache', '256k']);
    get = (path, opts) => fetchVia(keel.url, path, opts);
    calls = (path) => appCalls(keel.url, path);
  });
  after(() => keel?.stop());

  /** Two GETs; returns both, after checking the app's call count. */
  async function twice(path, expectedCalls, opts) {
    const first = await get(path, opts);
    if (expectedCalls === 1) {
      // The store reaches the primary a moment after the answer (calls are batched per event-loop
      // turn, and the other worker may answer next): wait for the entry, asking with only-if-cached,
      // which never reaches the app (504 while nothing is stored).
      const onlyCached = { ...opts, headers: { ...opts?.headers, 'cache-control': 'only-if-cached' } };
      await waitFor(async () => (await get(path, onlyCached)).status !== 504, { timeout: 5000, interval: 20, what: `the entry for ${path} to be stored` });
    }
    const second = await get(path, opts);
    assert.equal(await calls(path.split('?')[0]), expectedCalls, `app calls for ${path}`);
    return [first, second];
  }

  it('max-age: a MISS is kept and the next request is a HIT with the same body and an Age header', async () => {
    const [a, b] = await twice('/max-age?cc=max-age%3D60', 1);
    assert.equal(a.headers['x-cache'], 'MISS');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.status, 200);
    assert.equal(b.text, a.text);
    assert.match(b.headers.age, /^\d+$/);
    // The app's headers come back on the hit.
    assert.equal(b.headers['content-type'], 'application/json');
    assert.equal(b.headers['cache-control'], 'max-age=60');
    assert.equal(b.headers['x-app'], 'cache-fixture');
    assert.equal(Number(b.headers['content-length']), Buffer.byteLength(b.text));
  });

  it('s-maxage wins over max-age for a shared cache, both ways', async () => {
    const [, kept] = await twice('/smaxage-keeps?cc=max-age%3D0%2C%20s-maxage%3D60', 1);
    assert.equal(kept.headers['x-cache'], 'HIT');
    const [, notKept] = await twice('/smaxage-zero?cc=max-age%3D60%2C%20s-maxage%3D0', 2);
    assert.equal(notKept.headers['x-cache'], 'MISS');
  });

  it('no-store, private and no-cache responses are never served from the cache', async () => {
    for (const cc of ['no-store%2C%20max-age%3D60', 'private%2C%20max-age%3D60', 'no-cache%2C%20max-age%3D60', 'private%3D%22set-cookie%22%2C%20max-age%3D60']) {
      const path = `/refused-${cc.slice(0, 7).replace(/%/g, '')}${cc.length}`;
      const [a, b] = await twice(`${path}?cc=${cc}`, 2);
      assert.equal(a.headers['x-cache'], 'MISS', cc);
      assert.equal(b.headers['x-cache'], 'MISS', cc);
      assert.notEqual(a.json.n, b.json.n);
    }
  });

  it('a response without explicit freshness is not kept', async () => {
    const [, b] = await twice('/no-freshness', 2);
    assert.equal(b.headers['x-cache'], 'MISS');
  });

  it('Expires in the future is freshness; in the past, or invalid, it is not', async () => {
    const [, future] = await twice('/expires-future?expires=60', 1);
    assert.equal(future.headers['x-cache'], 'HIT');
    const [, past] = await twice('/expires-past?expires=-60', 2);
    assert.equal(past.headers['x-cache'], 'MISS');
    const [, invalid] = await twice('/expires-invalid?expires=0', 2);
    assert.equal(invalid.headers['x-cache'], 'MISS');
  });

  it('a response with Set-Cookie is not kept, so no client gets another one\'s cookie', async () => {
    const [a, b] = await twice('/cookie?cc=max-age%3D60&cookie=1', 2);
    assert.ok(a.headers['set-cookie']);
    assert.equal(b.headers['x-cache'], 'MISS');
  });

  it('the age a response arrives with counts: its Age header and a Date in the past', async () => {
    const [, aged] = await twice('/arrived-aged?cc=max-age%3D60&age=50', 1);
    assert.equal(aged.headers['x-cache'], 'HIT');
    assert.ok(Number(aged.headers.age) >= 50, `Age ${aged.headers.age}`);
    const [, tooOld] = await twice('/arrived-too-old?cc=max-age%3D60&age=70', 2);
    assert.equal(tooOld.headers['x-cache'], 'MISS');
    const [, dated] = await twice('/arrived-dated?cc=max-age%3D60&date=-30', 1);
    assert.ok(Number(dated.headers.age) >= 29, `Age ${dated.headers.age}`);
    const [, expiredByDate] = await twice('/arrived-expired-by-date?cc=max-age%3D60&date=-120', 2);
    assert.equal(expiredByDate.headers['x-cache'], 'MISS');
  });

  it('an entry expires with its max-age', async () => {
    const path = '/expiring?cc=max-age%3D1';
    await get(path);
    assert.equal((await get(path)).headers['x-cache'], 'HIT');
    await sleep(1300);
    const after = await get(path);
    assert.equal(after.headers['x-cache'], 'MISS');
    assert.equal(after.json.n, 2);
  });

  it('Vary: each variant is kept apart, keyed by the named request header', async () => {
    const path = '/vary?cc=max-age%3D60&vary=Accept-Language';
    const fr1 = await get(path, { headers: { 'accept-language': 'fr' } });
    const fr2 = await get(path, { headers: { 'accept-language': 'fr' } });
    const en1 = await get(path, { headers: { 'accept-language': 'en' } });
    const en2 = await get(path, { headers: { 'accept-language': 'en' } });
    const none = await get(path);
    assert.deepEqual([fr1, fr2, en1, en2, none].map((r) => r.headers['x-cache']), ['MISS', 'HIT', 'MISS', 'HIT', 'MISS']);
    assert.equal(fr2.json.lang, 'fr');
    assert.equal(en2.json.lang, 'en');
    assert.equal(en2.headers.vary, 'Accept-Language');
    assert.equal((await get(path, { headers: { 'accept-language': 'fr' } })).json.n, fr1.json.n);
    assert.equal(await calls('/vary'), 3);
  });

  it('Vary: * is never kept', async () => {
    const [, b] = await twice('/vary-star?cc=max-age%3D60&vary=*', 2);
    assert.equal(b.headers['x-cache'], 'MISS');
  });

  it('stale-while-revalidate: a stale entry is served (X-Cache: STALE) while one background refresh replaces it', async () => {
    // The refresh takes 300 ms, so it cannot finish before the stale lookups are done. The refreshed
    // answer lives 60 s (then=), so a slow poll cannot find it stale and start a second refresh.
    const path = '/swr?cc=max-age%3D1%2C%20stale-while-revalidate%3D30&delay=300&then=max-age%3D60';
    const first = await get(path);
    assert.equal(first.headers['x-cache'], 'MISS');
    await sleep(1300);
    // Several stale requests at once, across both workers: all get the stale copy, one refresh runs.
    const stale = await Promise.all(Array.from({ length: 6 }, () => get(path)));
    for (const r of stale) {
      assert.equal(r.headers['x-cache'], 'STALE');
      assert.equal(r.json.n, first.json.n);
    }
    await waitFor(async () => (await calls('/swr')) === 2, { timeout: 5000, what: 'the background refresh' });
    const fresh = await waitFor(async () => {
      const r = await get(path);
      return r.headers['x-cache'] === 'HIT' && r;
    }, { timeout: 5000, what: 'the refreshed entry' });
    assert.equal(fresh.json.n, 2);
    await sleep(200);
    assert.equal(await calls('/swr'), 2, 'exactly one refresh');
  });

  it('stale-if-error: an expired entry stands in for a 500 within its window (X-Cache: STALE); without it the 500 passes', async () => {
    const path = '/sie?cc=max-age%3D1%2C%20stale-if-error%3D60&fail-after=1';
    const first = await get(path);
    await sleep(1300);
    const stale = await get(path);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers['x-cache'], 'STALE');
    assert.equal(stale.text, first.text);
    assert.equal(await calls('/sie'), 2, 'the app was asked and failed');
    const again = await get(path);
    assert.equal(again.status, 200, 'the failure did not replace the kept copy');

    const plainPath = '/sie-none?cc=max-age%3D1&fail-after=1';
    await get(plainPath);
    await sleep(1300);
    const failed = await get(plainPath);
    assert.equal(failed.status, 500);
    assert.equal(failed.headers['x-cache'], 'MISS');
  });

  it('concurrent misses for one key make one app call, across two workers', async () => {
    const path = '/coalesce?cc=max-age%3D60&delay=300';
    const results = await Promise.all(Array.from({ length: 20 }, () => get(path)));
    assert.equal(await calls('/coalesce'), 1);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.text, results[0].text);
    }
    const tags = results.map((r) => r.headers['x-cache']).sort();
    assert.equal(tags.filter((t) => t === 'MISS').length, 1);
    assert.equal(tags.filter((t) => t === 'HIT').length, 19);
  });

  it('concurrent requests for an uncacheable URL do not queue behind each other for long, and each reaches the app', async () => {
    const path = '/coalesce-uncacheable?delay=200';
    const results = await Promise.all(Array.from({ length: 6 }, () => get(path)));
    for (const r of results) assert.equal(r.status, 200);
    assert.equal(await calls('/coalesce-uncacheable'), 6);
  });

  it('HEAD is answered from a GET entry, and a HEAD miss fills the entry for GET', async () => {
    const path = '/head-after-get?cc=max-age%3D60';
    const getFirst = await get(path);
    const head = await get(path, { method: 'HEAD' });
    assert.equal(head.headers['x-cache'], 'HIT');
    assert.equal(head.text, '');
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(getFirst.text));

    const path2 = '/head-first?cc=max-age%3D60';
    const headMiss = await get(path2, { method: 'HEAD' });
    assert.equal(headMiss.headers['x-cache'], 'MISS');
    assert.equal(headMiss.text, '');
    const getHit = await get(path2);
    assert.equal(getHit.headers['x-cache'], 'HIT');
    assert.equal(getHit.json.method, 'GET', 'the app was asked with GET');
    assert.equal(await calls('/head-first'), 1);
  });

  it('conditional requests get 304 from the entry, and on a miss while the full answer is kept', async () => {
    const path = '/conditional?cc=max-age%3D60&etag=v1&lm=Tue%2C%2001%20Jan%202030%2000%3A00%3A00%20GMT';
    const miss = await get(path, { headers: { 'if-none-match': '"v1"' } });
    assert.equal(miss.status, 304);
    assert.equal(miss.headers['x-cache'], 'MISS');
    const full = await get(path);
    assert.equal(full.status, 200);
    assert.equal(full.headers['x-cache'], 'HIT');
    assert.equal(full.json.conditional, null, 'the app got an unconditional request');
    const hit304 = await get(path, { headers: { 'if-none-match': 'W/"v1"' } });
    assert.equal(hit304.status, 304);
    assert.equal(hit304.headers['x-cache'], 'HIT');
    assert.equal(hit304.headers.etag, '"v1"');
    const other = await get(path, { headers: { 'if-none-match': '"v2"' } });
    assert.equal(other.status, 200);
    const ims = await get(path, { headers: { 'if-modified-since': 'Wed, 02 Jan 2030 00:00:00 GMT' } });
    assert.equal(ims.status, 304);
    assert.equal(await calls('/conditional'), 1);
  });

  it('request Cache-Control no-cache fetches a fresh answer and keeps it; only-if-cached gets 504 on a miss', async () => {
    const path = '/request-no-cache?cc=max-age%3D60';
    const first = await get(path);
    const forced = await get(path, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(forced.headers['x-cache'], 'MISS');
    assert.equal(forced.json.n, first.json.n + 1);
    // Another worker may answer next, and the store from the forced request reaches the primary a
    // moment later (calls to it are batched per event-loop turn): wait for it, boundedly.
    const after = await waitFor(async () => {
      const next = await get(path);
      return next.json.n === forced.json.n ? next : null;
    }, { timeout: 5000, what: 'the forced answer to replace the entry' });
    assert.equal(after.headers['x-cache'], 'HIT');
    assert.equal(await calls('/request-no-cache'), 2, 'no request went to the app meanwhile');
    const onlyCached = await get('/never-seen?cc=max-age%3D60', { headers: { 'cache-control': 'only-if-cached' } });
    assert.equal(onlyCached.status, 504);
    assert.equal(await calls('/never-seen'), 0);
  });

  it('request Cache-Control no-store: the answer is not kept', async () => {
    const path = '/request-no-store?cc=max-age%3D60';
    await get(path, { headers: { 'cache-control': 'no-store' } });
    const b = await get(path);
    assert.equal(b.headers['x-cache'], 'MISS');
    assert.equal(await calls('/request-no-store'), 2);
  });

  it('a request with Authorization is kept only when the response says public or s-maxage', async () => {
    const auth = { authorization: 'Bearer secret' };
    const [, plain] = await twice('/auth-plain?cc=max-age%3D60', 2, { headers: auth });
    assert.equal(plain.headers['x-cache'], 'MISS');
    const [, pub] = await twice('/auth-public?cc=public%2C%20max-age%3D60', 1, { headers: auth });
    assert.equal(pub.headers['x-cache'], 'HIT');
  });

  it('cacheable error statuses (404) are kept with explicit freshness; 500 is not', async () => {
    const [, notFound] = await twice('/status-404?cc=max-age%3D60&status=404', 1);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers['x-cache'], 'HIT');
    const [, failed] = await twice('/status-500?cc=max-age%3D60&status=500', 2);
    assert.equal(failed.headers['x-cache'], 'MISS');
  });

  it('chunked answers (no Content-Length) are kept and served with one', async () => {
    const [a, b] = await twice('/chunked?cc=max-age%3D60&chunked=1', 1);
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.text, a.text);
    assert.equal(Number(b.headers['content-length']), Buffer.byteLength(a.text));
  });

  it('other methods pass (X-Cache: BYPASS), and a successful POST drops the URL\'s entry', async () => {
    const path = '/invalidate?cc=max-age%3D60';
    await get(path);
    assert.equal((await get(path)).headers['x-cache'], 'HIT');
    const post = await get(path, { method: 'POST' });
    assert.equal(post.headers['x-cache'], 'BYPASS');
    await waitFor(async () => (await get(path)).headers['x-cache'] === 'MISS', { timeout: 3000, what: 'the entry to be dropped' });
  });

  it('a response over the per-entry bound (1/8 of --cache) passes uncached', async () => {
    const [a, b] = await twice('/too-big?cc=max-age%3D60&size=40000', 2);
    assert.equal(a.text.length, 40000);
    assert.equal(b.headers['x-cache'], 'MISS');
  });
});

describe('response cache size bound (LRU by bytes)', () => {
  let keel;
  before(async () => {
    keel = await startCacheKeel(['--cache', '16k']);
  });
  after(() => keel?.stop());

  it('evicts the least recently used entries once the bytes exceed --cache', async () => {
    const get = (path) => fetchVia(keel.url, path);
    // Entries of ~1.5 KiB (body plus headers) in 16 KiB: fewer than 11 fit.
    const url = (i) => `/lru-${i}?cc=max-age%3D60&size=1500`;
    await get(url(0));
    for (let i = 1; i < 12; i++) {
      await get(url(i));
      // Keep entry 0 the most recently used.
      assert.equal((await get(url(0))).headers['x-cache'], 'HIT', `entry 0 after adding ${i}`);
    }
    assert.equal((await get(url(1))).headers['x-cache'], 'MISS', 'the least recently used entry was evicted');
    assert.equal((await get(url(11))).headers['x-cache'], 'HIT', 'the newest entry stays');
    assert.equal(await appCalls(keel.url, '/lru-0'), 1);
  });

  it('entries live in the primary, so they survive a reload (HUP) that replaces every worker', async () => {
    const path = '/survives-reload?cc=max-age%3D60';
    await fetchVia(keel.url, path);
    const pids = keel.workerPids();
    keel.signal('SIGHUP');
    await waitFor(() => keel.errorLog().some((e) => /^reload complete/.test(e.msg ?? '')), { timeout: 15_000, what: 'the reload' });
    await waitFor(() => !keel.workerPids().some((pid) => pids.includes(pid)), { timeout: 15_000, what: 'the old workers to go' });
    const after = await fetchVia(keel.url, path);
    assert.equal(after.headers['x-cache'], 'HIT');
    assert.equal(await appCalls(keel.url, '/survives-reload'), 1);
  });
});

describe('response cache and routes', () => {
  let keel;
  let upstream;
  let upstreamCalls = 0;
  const callsByUrl = new Map();
  before(async () => {
    // A plain upstream for the proxy route, counting its calls. `cc` is the first answer's
    // Cache-Control for a URL, `then` the later ones' (so a refreshed entry can outlive a slow poll).
    const { createServer } = await import('node:http');
    upstream = createServer((req, res) => {
      upstreamCalls++;
      const q = new URL(req.url, 'http://x').searchParams;
      const seen = callsByUrl.get(req.url) ?? 0;
      callsByUrl.set(req.url, seen + 1);
      const cacheControl = (seen > 0 && q.get('then')) || q.get('cc') || 'max-age=60';
      const body = JSON.stringify({ n: upstreamCalls, url: req.url, inm: req.headers['if-none-match'] ?? null });
      const send = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl, etag: '"u1"', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      setTimeout(send, Number(q.get('delay') ?? 0));
    });
    await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${upstream.address().port}`;
    const assets = tempDir('keel-cache-static-');
    keel = await startCacheKeel(['--cache', '256k', '--proxy', `/api=${origin}`, '--proxy', `/live=${origin} cache=off`, '--static', `/assets=${assets}`]);
  });
  after(async () => {
    await keel?.stop();
    upstream?.close();
  });

  it('proxied responses pass through the cache; cache=off and static routes do not', async () => {
    const proxied = await fetchVia(keel.url, '/api/x');
    assert.equal(proxied.headers['x-cache'], 'MISS');
    const live = await fetchVia(keel.url, '/live/x');
    assert.equal(live.headers['x-cache'], undefined);
    const asset = await fetchVia(keel.url, '/assets/x.txt');
    assert.equal(asset.headers['x-cache'], undefined);
  });

  it('a proxied response is kept and answered from the cache', async (t) => {
    const first = await fetchVia(keel.url, '/api/kept');
    if (first.status === 501) return t.skip('the proxy route is not implemented in this build');
    const second = await fetchVia(keel.url, '/api/kept');
    assert.equal(second.headers['x-cache'], 'HIT');
    assert.equal(second.text, first.text);
    const calls = upstreamCalls;
    await fetchVia(keel.url, '/api/kept');
    assert.equal(upstreamCalls, calls);
  });

  it('proxied: concurrent misses make one upstream request; a conditional miss gets 304 while the full answer is kept', async (t) => {
    const probe = await fetchVia(keel.url, '/api/probe');
    if (probe.status === 501) return t.skip('the proxy route is not implemented in this build');
    const before = upstreamCalls;
    const results = await Promise.all(Array.from({ length: 20 }, () => fetchVia(keel.url, '/api/coalesce?delay=300')));
    assert.equal(upstreamCalls - before, 1);
    for (const r of results) assert.equal(r.text, results[0].text);

    const conditional = await fetchVia(keel.url, '/api/conditional', { headers: { 'if-none-match': '"u1"' } });
    assert.equal(conditional.status, 304);
    const full = await fetchVia(keel.url, '/api/conditional');
    assert.equal(full.headers['x-cache'], 'HIT');
    assert.equal(full.json.inm, null, 'the upstream got an unconditional request');
  });

  it('proxied: stale-while-revalidate refreshes through the upstream in the background', async (t) => {
    // The refreshed answer lives 60 s: with max-age=1 again, a poll on a busy machine could find it stale and start a second refresh.
    const path = '/api/swr?cc=max-age%3D1%2C%20stale-while-revalidate%3D30&then=max-age%3D60';
    const first = await fetchVia(keel.url, path);
    if (first.status === 501) return t.skip('the proxy route is not implemented in this build');
    await sleep(1300);
    const before = upstreamCalls;
    const stale = await fetchVia(keel.url, path);
    assert.equal(stale.headers['x-cache'], 'STALE');
    assert.equal(stale.text, first.text);
    const fresh = await waitFor(async () => {
      const r = await fetchVia(keel.url, path);
      return r.headers['x-cache'] === 'HIT' && r;
    }, { timeout: 5000, what: 'the refreshed entry' });
    assert.notEqual(fresh.text, first.text);
    assert.equal(upstreamCalls - before, 1);
  });

  it('a hit is compressed for the client like a fresh answer', async (t) => {
    const { gunzipSync } = await import('node:zlib');
    const path = '/compressed?cc=max-age%3D60&size=4000';
    const raw = async () => {
      const res = await request(`${keel.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
      return { headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
    };
    const miss = await raw();
    if (miss.headers['content-encoding'] !== 'gzip') return t.skip('compression is not implemented in this build');
    const hit = await raw();
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(hit.body).toString(), gunzipSync(miss.body).toString());
    const plain = await fetchVia(keel.url, path);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, gunzipSync(miss.body).toString());
  });
});

describe('response cache over HTTP/2 (h2c)', () => {
  let keel;
  before(async () => {
    keel = await startCacheKeel(['--cache', '256k', '--h2c']);
  });
  after(() => keel?.stop());

  /** curl over cleartext HTTP/2: status line and headers (lower-cased names), and the body. */
  function h2(path, ...args) {
    const out = execFileSync('curl', ['-s', '-i', '--http2-prior-knowledge', ...args, `${keel.url}${path}`], { encoding: 'utf8', timeout: 10_000 });
    const [head, ...rest] = out.split('\r\n\r\n');
    const lines = head.split('\r\n');
    const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
  }

  it('MISS then HIT with the original Date and an Age; HEAD and a conditional answered from the entry', async () => {
    const path = '/h2?cc=max-age%3D60&etag=h2';
    const miss = h2(path);
    assert.equal(miss.headers['x-cache'], 'MISS');
    await sleep(1100);
    const hit = h2(path);
    assert.equal(hit.status, 200);
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.body, miss.body);
    assert.equal(hit.headers.date, miss.headers.date, 'the Date of the original response');
    assert.ok(Number(hit.headers.age) >= 1);
    const head = h2(path, '-I');
    assert.equal(head.headers['x-cache'], 'HIT');
    assert.equal(head.body, '');
    const notModified = h2(path, '-H', 'if-none-match: "h2"');
    assert.equal(notModified.status, 304);
    assert.equal(await appCalls(keel.url, '/h2'), 1);
  });

  it('stale-if-error: the kept body stands in for a 500 over HTTP/2 too', async () => {
    // HTTP/2's end() writes through res.write, which the recording swallows: the body must still go out.
    const path = '/h2-sie?cc=max-age%3D1%2C%20stale-if-error%3D60&fail-after=1';
    const first = h2(path);
    await sleep(1300);
    const stale = h2(path);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers['x-cache'], 'STALE');
    assert.equal(stale.body, first.body);
    assert.equal(await appCalls(keel.url, '/h2-sie'), 2);
  });
});
