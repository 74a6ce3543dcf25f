// The response cache in Redis (--cache-redis): two keel processes on one real redis-server share
// entries (a miss on A is a hit on B) and coalesce concurrent misses between them; entries are
// hashes with a TTL of freshness plus the stale window; Redis going away never fails a request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { appCalls, fetchVia } from '../helpers/cache-client.js';
import { startRevalidatingOrigin } from '../helpers/revalidating-origin.js';
import { Client } from 'undici';

const APP = 'test/fixtures/cache-app.js';
/** Keys include the Host, as Nginx's $proxy_host: machines behind one name share entries. */
const HOST = { host: 'shop.example' };
const via = (keel, path, opts = {}) => fetchVia(keel.url, path, { ...opts, headers: { ...HOST, ...opts.headers } });

async function startRedis(t, port) {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const stop = () => {
    try {
      child.kill('SIGKILL');
    } catch {}
  };
  t.after?.(stop);
  process.on('exit', stop);
  const cli = (...args) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
  await waitFor(() => {
    try {
      return cli('ping') === 'PONG';
    } catch {
      return false;
    }
  }, { timeout: 10_000, what: 'redis-server to answer PING' });
  return { port, child, stop, cli, url: `redis://127.0.0.1:${port}` };
}

describe('response cache in Redis, shared by two keel processes', () => {
  let redis;
  let a;
  let b;
  before(async (t) => {
    redis = await startRedis(t);
    // One call counter for both keels: a hit on B must not reach B's app either.
    const hits = join(tempDir('keel-cache-redis-'), 'hits');
    const env = { CACHE_HITS_FILE: hits };
    [a, b] = await Promise.all([
      startKeel(APP, ['--cache-redis', redis.url], { workers: 2, env }),
      startKeel(APP, ['--cache-redis', redis.url], { workers: 2, env }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    redis?.stop();
  });

  it('a miss on keel A is a hit on keel B', async () => {
    const path = '/shared?cc=max-age%3D60&etag=s1';
    const miss = await via(a, path);
    assert.equal(miss.headers['x-cache'], 'MISS');
    // The store into Redis completes after A's answer: wait for it with only-if-cached (never calls the app).
    await waitFor(async () => (await via(b, path, { headers: { 'cache-control': 'only-if-cached' } })).status !== 504, { timeout: 5000, interval: 20, what: 'the entry in Redis' });
    const hit = await via(b, path);
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.text, miss.text);
    assert.equal(hit.headers.etag, '"s1"');
    assert.equal(await appCalls(a.url, '/shared'), 1);
  });

  it('keeps each entry as a hash with a TTL of freshness plus the stale window', async () => {
    await via(a, '/ttl?cc=max-age%3D100%2C%20stale-while-revalidate%3D50');
    // SCAN may return a key more than once (it walks the hash table while it can rehash).
    const keys = [...new Set(redis.cli('--scan', '--pattern', 'keel:c:*/ttl*').split('\n').filter(Boolean))];
    assert.equal(keys.length, 1, keys.join(' '));
    assert.equal(redis.cli('type', keys[0]), 'hash');
    const ttl = Number(redis.cli('pttl', keys[0]));
    assert.ok(ttl > 140_000 && ttl <= 150_000, `pttl ${ttl}`);
    assert.match(redis.cli('hget', keys[0], 'm'), /"kind":"entry"/);
  });

  it('concurrent misses through both keels (4 workers) make one app call', async () => {
    const path = '/coalesce-redis?cc=max-age%3D60&delay=300';
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => via(i % 2 ? a : b, path)));
    assert.equal(await appCalls(a.url, '/coalesce-redis'), 1);
    for (const r of results) assert.equal(r.text, results[0].text);
    assert.equal(results.filter((r) => r.headers['x-cache'] === 'MISS').length, 1);
  });

  it('stale-while-revalidate across machines: STALE, then one refresh', async () => {
    // The refresh takes 300 ms, so it cannot finish before all three stale lookups are done. The
    // refreshed answer lives 60 s (then=), so a slow poll cannot find it stale and refresh again.
    const path = '/swr-redis?cc=max-age%3D1%2C%20stale-while-revalidate%3D30&delay=300&then=max-age%3D60';
    await via(a, path);
    await sleep(1300);
    const stale = await Promise.all([via(a, path), via(b, path), via(b, path)]);
    for (const r of stale) assert.equal(r.headers['x-cache'], 'STALE');
    await waitFor(async () => (await via(b, path)).headers['x-cache'] === 'HIT', { timeout: 5000, what: 'the refreshed entry' });
    assert.equal(await appCalls(a.url, '/swr-redis'), 2);
  });
});

describe('revalidation through Redis, shared by two keel processes', () => {
  let redis;
  let origin;
  let a;
  let b;
  before(async (t) => {
    redis = await startRedis(t);
    origin = await startRevalidatingOrigin();
    const args = ['--cache-redis', redis.url, '--proxy', `/o=${origin.url}`];
    [a, b] = await Promise.all([startKeel(null, args, { workers: 2 }), startKeel(null, args, { workers: 2 })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await origin?.close();
    redis?.stop();
  });
  const freshIn = (keel, path) =>
    waitFor(async () => (await via(keel, path, { headers: { 'cache-control': 'only-if-cached' } })).headers['x-cache'] === 'HIT', { timeout: 5000, interval: 20, what: `a fresh entry for ${path}` });
  const keysFor = (path) => [...new Set(redis.cli('--scan', '--pattern', `keel:c:*${path}`).split('\n').filter(Boolean))];

  it('a 304 refreshes the entry in Redis: revalidated on keel B, a HIT on keel A with no origin request', async () => {
    const path = '/o/redis-etag';
    origin.set(path, { body: 'kept in redis', cc: 'max-age=2', etag: '"r1"' });
    assert.equal((await via(a, path)).headers['x-cache'], 'MISS');
    await freshIn(b, path);
    await sleep(2100);
    origin.set(path, { cc: 'max-age=60' });
    const from = origin.requests(path).length;
    const revalidated = await via(b, path);
    assert.equal(revalidated.status, 200);
    assert.equal(revalidated.headers['x-cache'], 'REVALIDATED');
    assert.equal(revalidated.text, 'kept in redis');
    assert.deepEqual(origin.requests(path).slice(from), [{ path, inm: '"r1"', ims: undefined, status: 304 }]);
    await freshIn(a, path);
    const hit = await via(a, path);
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.text, 'kept in redis');
    assert.equal(origin.requests(path).length, from + 1);
    // Stored back with the 304's freshness, plus 10 minutes to be revalidated again.
    const [key] = keysFor(path);
    assert.match(redis.cli('hget', key, 'm'), /"cache-control":"max-age=60"/);
    const ttl = Number(redis.cli('pttl', key));
    assert.ok(ttl > 600_000 && ttl <= 660_000, `pttl ${ttl}`);
  });

  it('no-cache: kept in Redis with an ETag, not without one', async (t) => {
    origin.set('/o/redis-no-cache-plain', { body: 'plain', cc: 'no-cache' });
    origin.set('/o/redis-no-cache-etag', { body: 'tagged', cc: 'no-cache', etag: '"t1"' });
    // One connection, so one worker: its writes to Redis go out in order, and once the second
    // answer's entry is there, the first one's would be too.
    const client = new Client(a.url, { pipelining: 1 });
    t.after(() => client.close());
    for (const path of ['/o/redis-no-cache-plain', '/o/redis-no-cache-etag']) {
      const res = await client.request({ path, method: 'GET', headers: HOST });
      await res.body.text();
      assert.equal(res.statusCode, 200);
    }
    await waitFor(() => keysFor('/o/redis-no-cache-etag').length === 1, { timeout: 5000, interval: 20, what: 'the no-cache entry with an ETag in Redis' });
    assert.match(redis.cli('hget', keysFor('/o/redis-no-cache-etag')[0], 'm'), /"kind":"entry"/);
    // Without a validator there is nothing kept, at most the pass mark that spares others the lock.
    for (const key of keysFor('/o/redis-no-cache-plain')) assert.equal(redis.cli('hget', key, 'm'), '{"kind":"pass"}');
  });
});

describe('response cache with Redis down', () => {
  it('serves every request without the cache and logs the outage once', async (t) => {
    const redis = await startRedis(t);
    const hits = join(tempDir('keel-cache-redis-'), 'hits');
    const keel = await startKeel(APP, ['--cache-redis', redis.url], { workers: 1, env: { CACHE_HITS_FILE: hits } });
    t.after(() => keel.stop());
    const path = '/down?cc=max-age%3D60';
    await via(keel, path);
    // The store into Redis completes after the first answer has gone out: a busy machine may see a MISS first.
    await waitFor(async () => (await via(keel, path)).headers['x-cache'] === 'HIT', { timeout: 5000, interval: 50, what: 'the entry to be cached in Redis' });
    redis.stop();
    await waitFor(() => redis.child.exitCode !== null || redis.child.signalCode !== null, { timeout: 5000, what: 'redis-server to exit' });
    for (let i = 0; i < 5; i++) {
      const r = await via(keel, path);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-cache'], 'MISS');
    }
    const warnings = await waitFor(() => {
      const found = keel.errorLog().filter((l) => /Redis unreachable/.test(l.msg));
      return found.length > 0 && found;
    }, { timeout: 5000, what: 'the outage warning' });
    assert.equal(warnings.length, 1);
    // The URL (which may hold a password) never reaches the log.
    assert.ok(!keel.stderr.includes(redis.url));

    // Redis back on the same address: the cache works again, without a restart of keel.
    await startRedis(t, redis.port);
    await waitFor(async () => (await via(keel, path)).headers['x-cache'] === 'HIT', { timeout: 10_000, interval: 200, what: 'caching to resume' });
    assert.ok(keel.errorLog().some((l) => /Redis reachable again/.test(l.msg)));
  });
});

describe('--cache-redis validation', () => {
  it('refuses a value that is not a redis:// or rediss:// URL with exit status 2, without echoing it', async () => {
    const { code, stderr } = await runKeel(['serve', APP, '--cache-redis', 'http://user:hunter2@example', '--admin', 'off', '--workers', '1']);
    assert.equal(code, 2);
    assert.match(stderr, /--cache-redis: expected a redis:\/\/ or rediss:\/\/ URL/);
    assert.ok(!stderr.includes('hunter2'));
  });
});
