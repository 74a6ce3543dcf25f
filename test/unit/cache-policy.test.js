// RFC 9111 as pure functions: Cache-Control parsing, which responses a shared cache keeps and for how
// long, ages, stale windows, conditionals; cache keys with Vary; the in-primary LRU's byte bound.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  currentAge,
  entryState,
  isNotModified,
  parseCacheControl,
  requestPolicy,
  responseFreshness,
  storeTtlMs,
} from '../../dist/front/cache/cache-policy.js';
import { primaryKey, variantKey, varyNames } from '../../dist/front/cache/cache-key.js';
import { keptHeaders } from '../../dist/front/cache/cache-entry.js';
import { MemoryCache } from '../../dist/front/cache/memory-store.js';
import { maxEntryBytes } from '../../dist/front/cache/cache-stage.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const DATE = new Date(NOW).toUTCString();

function fresh(headers, { status = 200, authorized = false, requestTime = NOW, responseTime = NOW } = {}) {
  return responseFreshness({ status, headers: { date: DATE, ...headers }, authorized, requestTime, responseTime });
}

describe('parseCacheControl', () => {
  test('reads the directives keel acts on, case-insensitively, ignoring unknown ones', () => {
    const d = parseCacheControl('Public, MAX-AGE=60, s-maxage="120", stale-while-revalidate=30, stale-if-error=600, foo=bar');
    assert.equal(d.public, true);
    assert.equal(d.maxAge, 60);
    assert.equal(d.sMaxAge, 120);
    assert.equal(d.staleWhileRevalidate, 30);
    assert.equal(d.staleIfError, 600);
    assert.equal(d.noStore, false);
  });

  test('a comma inside a quoted argument does not split directives', () => {
    const d = parseCacheControl('no-cache="Set-Cookie, X-Foo", max-age=5');
    assert.equal(d.noCache, true);
    assert.equal(d.maxAge, 5);
  });

  test('invalid delta-seconds read as 0 (stale), never as "no limit"', () => {
    assert.equal(parseCacheControl('max-age=abc').maxAge, 0);
    assert.equal(parseCacheControl('max-age=-5').maxAge, 0);
    assert.equal(parseCacheControl('max-age').maxAge, 0);
    assert.equal(parseCacheControl('max-age=99999999999').maxAge, 2_147_483_648);
  });

  test('several field lines are one list', () => {
    const d = parseCacheControl(['max-age=10', 'private']);
    assert.equal(d.maxAge, 10);
    assert.equal(d.private, true);
  });
});

describe('responseFreshness: what a shared cache may keep', () => {
  test('s-maxage wins over max-age, which wins over Expires', () => {
    assert.equal(fresh({ 'cache-control': 'max-age=10, s-maxage=100' }).lifetime, 100);
    assert.equal(fresh({ 'cache-control': 'max-age=10', expires: new Date(NOW + 500_000).toUTCString() }).lifetime, 10);
    assert.equal(fresh({ expires: new Date(NOW + 500_000).toUTCString() }).lifetime, 500);
    assert.equal(fresh({ 'cache-control': 'max-age=60, s-maxage=0' }).refusal, 'no-freshness');
  });

  test('Expires is relative to Date, not to the local clock', () => {
    const skewed = responseFreshness({
      status: 200,
      headers: { date: new Date(NOW - 3_600_000).toUTCString(), expires: new Date(NOW - 3_600_000 + 60_000).toUTCString() },
      authorized: false,
      requestTime: NOW,
      responseTime: NOW,
    });
    assert.equal(skewed.lifetime, 60);
  });

  test('an invalid or past Expires is no freshness', () => {
    assert.equal(fresh({ expires: '0' }).refusal, 'no-freshness');
    assert.equal(fresh({ expires: new Date(NOW - 1000).toUTCString() }).refusal, 'no-freshness');
  });

  test('refuses no-store, private, no-cache, Set-Cookie, Vary: * and responses without explicit freshness', () => {
    assert.equal(fresh({ 'cache-control': 'no-store, max-age=60' }).refusal, 'no-store');
    assert.equal(fresh({ 'cache-control': 'private, max-age=60' }).refusal, 'private');
    assert.equal(fresh({ 'cache-control': 'no-cache, max-age=60' }).refusal, 'no-cache');
    assert.equal(fresh({ 'cache-control': 'max-age=60', 'set-cookie': ['a=b'] }).refusal, 'set-cookie');
    assert.equal(fresh({ 'cache-control': 'max-age=60', vary: 'Accept, *' }).refusal, 'vary-star');
    assert.equal(fresh({}).refusal, 'no-freshness');
    assert.equal(fresh({ 'cache-control': 'max-age=60' }).refusal, '');
  });

  test('statuses: 200, 301, 404, 410 kept with explicit freshness; 206, 304, 500 never', () => {
    for (const status of [200, 203, 204, 301, 308, 404, 410, 501]) assert.equal(fresh({ 'cache-control': 'max-age=60' }, { status }).refusal, '', String(status));
    for (const status of [206, 304, 400, 500, 502, 503]) assert.equal(fresh({ 'cache-control': 'max-age=60' }, { status }).refusal, 'status', String(status));
  });

  test('Authorization: kept only with public, s-maxage or must-revalidate (RFC 9111 §3.5)', () => {
    assert.equal(fresh({ 'cache-control': 'max-age=60' }, { authorized: true }).refusal, 'authorization');
    assert.equal(fresh({ 'cache-control': 'public, max-age=60' }, { authorized: true }).refusal, '');
    assert.equal(fresh({ 'cache-control': 's-maxage=60' }, { authorized: true }).refusal, '');
    assert.equal(fresh({ 'cache-control': 'must-revalidate, max-age=60' }, { authorized: true }).refusal, '');
  });

  test('the initial age counts the Age header, the response delay and a Date in the past', () => {
    assert.equal(fresh({ 'cache-control': 'max-age=60', age: '10' }, { requestTime: NOW - 2000 }).initialAge, 12);
    const old = responseFreshness({ status: 200, headers: { date: new Date(NOW - 30_000).toUTCString(), 'cache-control': 'max-age=60' }, authorized: false, requestTime: NOW, responseTime: NOW });
    assert.equal(old.initialAge, 30);
  });

  test('no-cache is kept only with a validator, as always stale (lifetime 0, no stale serving), to be revalidated on each use', () => {
    assert.equal(fresh({ 'cache-control': 'no-cache' }).refusal, 'no-cache');
    assert.equal(fresh({ 'cache-control': 'no-cache', 'last-modified': 'not a date' }).refusal, 'no-cache');
    for (const validator of [{ etag: '"a"' }, { 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' }]) {
      const f = fresh({ 'cache-control': 'no-cache, max-age=60, stale-while-revalidate=30, stale-if-error=60', ...validator });
      assert.equal(f.refusal, '');
      assert.equal(f.revalidatable, true);
      assert.deepEqual([f.lifetime, f.staleWhileRevalidate, f.staleIfError], [0, 0, 0]);
      // Age 0, the instant it arrived, is already stale and may not be served stale.
      assert.equal(entryState({ ...f, responseTime: NOW }, requestPolicy(undefined), NOW), 'expired');
    }
    // Without no-cache, a lifetime of 0 is still nothing worth keeping, validator or not.
    assert.equal(fresh({ 'cache-control': 'max-age=0', etag: '"a"' }).refusal, 'no-freshness');
  });

  test('an entry with a validator stays in the store 10 minutes past its stale windows, to be revalidated', () => {
    assert.equal(storeTtlMs(fresh({ 'cache-control': 'max-age=100, stale-while-revalidate=50', etag: '"a"' })), 750_000);
    assert.equal(storeTtlMs(fresh({ 'cache-control': 'no-cache', etag: '"a"' })), 600_000);
    assert.equal(fresh({ 'cache-control': 'max-age=100' }).revalidatable, false);
  });

  test('must-revalidate turns off serving stale', () => {
    const f = fresh({ 'cache-control': 'max-age=60, stale-while-revalidate=30, must-revalidate' });
    assert.equal(f.staleWhileRevalidate, 0);
  });

  test('a store keeps an entry for freshness plus the stale window, minus the age it came with', () => {
    assert.equal(storeTtlMs(fresh({ 'cache-control': 'max-age=100, stale-while-revalidate=50' })), 150_000);
    assert.equal(storeTtlMs(fresh({ 'cache-control': 'max-age=100', age: '40' })), 60_000);
  });
});

describe('entryState and requestPolicy', () => {
  const entry = { lifetime: 10, initialAge: 0, responseTime: NOW, staleWhileRevalidate: 5, staleIfError: 20 };
  const plain = requestPolicy(undefined);

  test('fresh, then stale-while-revalidate, then stale-if-error, then expired', () => {
    assert.equal(entryState(entry, plain, NOW + 9_000), 'fresh');
    assert.equal(entryState(entry, plain, NOW + 12_000), 'stale-while-revalidate');
    assert.equal(entryState(entry, plain, NOW + 25_000), 'stale-if-error');
    assert.equal(entryState(entry, plain, NOW + 31_000), 'expired');
  });

  test('the request\'s max-age and min-fresh narrow what counts as fresh', () => {
    assert.equal(entryState(entry, requestPolicy('max-age=3'), NOW + 5_000), 'expired');
    assert.equal(entryState(entry, requestPolicy('max-age=30'), NOW + 5_000), 'fresh');
    assert.equal(entryState(entry, requestPolicy('min-fresh=8'), NOW + 5_000), 'expired');
  });

  test('request no-cache and max-age=0 skip the lookup; no-store skips storing', () => {
    assert.equal(requestPolicy('no-cache').lookup, false);
    assert.equal(requestPolicy('max-age=0').lookup, false);
    assert.equal(requestPolicy('no-store').store, false);
    assert.equal(requestPolicy('only-if-cached').onlyIfCached, true);
    assert.equal(plain.lookup && plain.store, true);
  });

  test('currentAge adds the time kept', () => {
    assert.equal(currentAge(5, NOW, NOW + 3000), 8);
  });
});

describe('isNotModified', () => {
  test('If-None-Match compares weakly and wins over If-Modified-Since', () => {
    assert.equal(isNotModified('"a"', undefined, 'W/"a"', undefined), true);
    assert.equal(isNotModified('"b", "a"', undefined, '"a"', undefined), true);
    assert.equal(isNotModified('*', undefined, '"a"', undefined), true);
    assert.equal(isNotModified('"b"', 'Wed, 01 Jan 2031 00:00:00 GMT', '"a"', 'Tue, 01 Jan 2030 00:00:00 GMT'), false);
  });

  test('If-Modified-Since against Last-Modified', () => {
    assert.equal(isNotModified(undefined, 'Wed, 01 Jan 2031 00:00:00 GMT', undefined, 'Tue, 01 Jan 2030 00:00:00 GMT'), true);
    assert.equal(isNotModified(undefined, 'Mon, 01 Jan 2029 00:00:00 GMT', undefined, 'Tue, 01 Jan 2030 00:00:00 GMT'), false);
    assert.equal(isNotModified(undefined, 'garbage', undefined, 'Tue, 01 Jan 2030 00:00:00 GMT'), false);
  });
});

describe('cache keys', () => {
  test('primary key: scheme, lower-cased host, target as sent', () => {
    assert.equal(primaryKey('https', 'Example.COM:8443', '/a?b=1'), 'keel:c:https://example.com:8443/a?b=1');
    assert.notEqual(primaryKey('http', 'x', '/a'), primaryKey('https', 'x', '/a'));
    assert.notEqual(primaryKey('http', 'x', '/a?b=1'), primaryKey('http', 'x', '/a?b=2'));
  });

  test('Vary names: lower-case, sorted, unique; * means never', () => {
    assert.deepEqual(varyNames('Accept-Language, accept-encoding,Accept-Language'), ['accept-encoding', 'accept-language']);
    assert.deepEqual(varyNames(undefined), []);
    assert.equal(varyNames('Accept, *'), null);
  });

  test('variant keys differ by the named headers\' values only, whitespace around commas aside', () => {
    const k = primaryKey('http', 'x', '/a');
    const names = ['accept-language'];
    assert.equal(variantKey(k, names, { 'accept-language': 'fr, en', cookie: 'a' }), variantKey(k, names, { 'accept-language': 'fr,en', cookie: 'b' }));
    assert.notEqual(variantKey(k, names, { 'accept-language': 'fr' }), variantKey(k, names, { 'accept-language': 'en' }));
    assert.notEqual(variantKey(k, names, {}), variantKey(k, names, { 'accept-language': '' }), 'absent only matches absent');
  });
});

describe('kept headers', () => {
  test('drop hop-by-hop headers, those named in Connection, Set-Cookie, Age, Content-Length and keel\'s own', () => {
    const kept = keptHeaders({
      'content-type': 'text/plain',
      etag: '"1"',
      connection: 'close, x-hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'set-cookie': ['a=b'],
      age: '3',
      'content-length': 5,
      'x-cache': 'MISS',
      'x-request-id': 'abc',
      vary: 'Accept',
    });
    assert.deepEqual(Object.keys(kept).sort(), ['content-type', 'etag', 'vary']);
  });
});

describe('MemoryCache (the in-primary LRU)', () => {
  const rec = (size) => ({ meta: '{}', body: 'x', size });

  test('evicts least recently used entries once the bytes exceed the bound', () => {
    const lru = new MemoryCache(100);
    lru.set('a', rec(40), 60_000, NOW);
    lru.set('b', rec(40), 60_000, NOW);
    assert.ok(lru.get('a', NOW)); // a is now the most recently used
    lru.set('c', rec(40), 60_000, NOW);
    assert.equal(lru.get('b', NOW), null);
    assert.ok(lru.get('a', NOW));
    assert.ok(lru.get('c', NOW));
    assert.equal(lru.bytesUsed, 80);
  });

  test('refuses an entry larger than the whole bound; replacing an entry frees its bytes', () => {
    const lru = new MemoryCache(100);
    assert.equal(lru.set('big', rec(101), 60_000, NOW), false);
    lru.set('a', rec(60), 60_000, NOW);
    lru.set('a', rec(30), 60_000, NOW);
    assert.equal(lru.bytesUsed, 30);
  });

  test('an older answer stored late does not replace a newer one; Vary lists and pass marks always replace', () => {
    const lru = new MemoryCache(1000);
    const answer = (responseTime, body) => ({ meta: JSON.stringify({ responseTime }), body, size: 20 });
    lru.set('k', answer(NOW + 5, 'newer'), 60_000, NOW);
    assert.equal(lru.set('k', answer(NOW + 1, 'older'), 60_000, NOW), false);
    assert.equal(lru.get('k', NOW).body, 'newer');
    assert.equal(lru.set('k', answer(NOW + 9, 'newest'), 60_000, NOW), true);
    assert.equal(lru.get('k', NOW).body, 'newest');
    assert.equal(lru.set('k', { meta: JSON.stringify({ kind: 'pass' }), body: '', size: 10 }, 60_000, NOW), true);
    assert.equal(lru.get('k', NOW).body, '');
  });

  test('expired entries are gone', () => {
    const lru = new MemoryCache(100);
    lru.set('a', rec(10), 1000, NOW);
    assert.ok(lru.get('a', NOW + 999));
    assert.equal(lru.get('a', NOW + 1000), null);
    assert.equal(lru.bytesUsed, 0);
  });

  test('a lock is held by one token until unlocked by it or expired', () => {
    const lru = new MemoryCache(100);
    assert.equal(lru.lock('k', 't1', 1000, NOW), true);
    assert.equal(lru.lock('k', 't2', 1000, NOW), false);
    lru.unlock('k', 't2');
    assert.equal(lru.lock('k', 't2', 1000, NOW + 10), false);
    assert.equal(lru.lock('k', 't2', 1000, NOW + 1000), true);
    lru.unlock('k', 't2');
    assert.equal(lru.lock('k', 't3', 1000, NOW + 1000), true);
  });
});

describe('maxEntryBytes', () => {
  test('1/8 of --cache, at most 8 MiB; 1 MiB with Redis alone', () => {
    assert.equal(maxEntryBytes({ cache: 64 * 1024, cacheRedis: null }), 8 * 1024);
    assert.equal(maxEntryBytes({ cache: 1024 ** 3, cacheRedis: null }), 8 * 1024 * 1024);
    assert.equal(maxEntryBytes({ cache: 0, cacheRedis: 'redis://x' }), 1024 * 1024);
  });
});

describe('registerCacheServices (the primary side, over the real PrimaryServices)', async () => {
  const { PrimaryServices, SERVICES } = await import('../../dist/supervisor/primary-services.js');
  const { registerCacheServices } = await import('../../dist/front/cache/memory-store.js');
  let id = 0;
  const call = (services, service, args) => {
    let reply;
    services.answer({ type: 'keel:call', calls: [{ id: ++id, service, args }] }, (r) => (reply = r.replies[0]));
    return reply.result;
  };
  const record = (size) => ({ meta: '{}', body: Buffer.alloc(size).toString('base64'), size });

  test('set, get and delete through the services; a reload can shrink, turn off and turn on the cache', () => {
    const services = new PrimaryServices();
    const cache = registerCacheServices(services, { cache: 1000, cacheRedis: null });
    call(services, SERVICES.cacheSet, { key: 'a', record: record(400), ttlMs: 60_000 });
    call(services, SERVICES.cacheSet, { key: 'b', record: record(400), ttlMs: 60_000 });
    assert.equal(call(services, SERVICES.cacheGet, { key: 'a' }).meta, '{}');
    cache.reconfigure({ cache: 500, cacheRedis: null });
    assert.equal(call(services, SERVICES.cacheGet, { key: 'b' }), null, 'shrinking evicted the least recently used');
    assert.ok(call(services, SERVICES.cacheGet, { key: 'a' }));
    call(services, SERVICES.cacheSet, { key: 'a', record: null, ttlMs: 0 });
    assert.equal(call(services, SERVICES.cacheGet, { key: 'a' }), null);
    cache.reconfigure({ cache: 500, cacheRedis: 'redis://x' });
    assert.equal(call(services, SERVICES.cacheLock, { key: 'k', token: 't', ttlMs: 1000 }), true, 'off: nobody waits');
    assert.equal(call(services, SERVICES.cacheGet, { key: 'a' }), null);
    cache.reconfigure({ cache: 500, cacheRedis: null });
    assert.equal(call(services, SERVICES.cacheLock, { key: 'k', token: 't', ttlMs: 1000 }), true);
  });
});
