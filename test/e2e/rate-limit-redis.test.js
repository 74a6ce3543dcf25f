// Rate limits and connection limits in Redis (--redis): two keel processes, as two machines would,
// share one limit exactly through a real redis-server started here; with Redis gone, requests go
// through (fail open) and keel says so in its error log, once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { startKeel } from '../helpers/keel.js';
import { getFresh } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { rawExchange, parseResponses, hasResponseHead } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const APP = 'test/fixtures/rl-pid.js';

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const redis = { child, port, url: `redis://127.0.0.1:${port}`, exited: false };
  child.on('exit', () => (redis.exited = true));
  await waitFor(() => out.includes('Ready to accept connections') || redis.exited, { timeout: 10_000, what: 'redis-server to start' });
  if (redis.exited) throw new Error(`redis-server did not start:\n${out}`);
  redis.stop = async () => {
    if (redis.exited) return;
    child.kill('SIGKILL');
    await waitFor(() => redis.exited, { timeout: 5000, what: 'redis-server to exit' });
  };
  redis.cli = (...args) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
  return redis;
}

const count = (responses, status) => responses.filter((r) => r.status === status).length;

describe('--redis: one limit for several keel processes', () => {
  let redis;
  let a;
  let b;
  before(async () => {
    redis = await startRedis();
    const args = ['--redis', redis.url, '--rate-limit', '1r/m burst=3', '--forwarded-allow-ips', '127.0.0.1'];
    [a, b] = await Promise.all([startKeel(APP, args, { workers: 1 }), startKeel(APP, args, { workers: 1 })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('lets exactly burst+1 requests of a client through, whichever keel they reach', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.20' };
    const fire = (keel, n) => Array.from({ length: n }, () => getFresh(`${keel.url}/shared`, headers));
    const responses = await Promise.all([...fire(a, 6), ...fire(b, 6)]);
    assert.equal(count(responses, 200), 4, `statuses: ${responses.map((r) => r.status).join(' ')}`);
    for (const res of responses.filter((r) => r.status !== 200)) {
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers['retry-after']) >= 1);
    }
    // The bucket is in Redis, with an expiry (it goes away once refilled).
    // SCAN may return a key more than once: count distinct keys.
    const keys = [...new Set(redis.cli('--scan', '--pattern', 'keel:rl:*203.0.113.20').split('\n').filter(Boolean))];
    assert.equal(keys.length, 1, `one bucket for the client: ${keys.join(', ')}`);
    assert.ok(Number(redis.cli('pttl', keys[0])) > 0, 'the bucket expires');
  });

  it('fails open when Redis is down, and logs that once', async () => {
    await redis.stop();
    const headers = { 'x-forwarded-for': '203.0.113.21' };
    const responses = await Promise.all(Array.from({ length: 8 }, () => getFresh(`${a.url}/open`, headers)));
    assert.equal(count(responses, 200), 8, `statuses: ${responses.map((r) => r.status).join(' ')}`);
    const warnings = await waitFor(
      () => {
        const found = a.errorLog().filter((l) => /rate limits: redis did not answer/.test(l.msg ?? ''));
        return found.length > 0 ? found : null;
      },
      { timeout: 5000, what: "keel's warning about Redis" },
    );
    assert.equal(warnings.length, 1, 'logged once, not once per request');
  });
});

describe('--redis with --limit-conn: one connection count for several keel processes', () => {
  let redis;
  let a;
  let b;
  before(async () => {
    redis = await startRedis();
    const args = ['--redis', redis.url, '--limit-conn', '1'];
    [a, b] = await Promise.all([startKeel(APP, args, { workers: 1 }), startKeel(APP, args, { workers: 1 })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it("refuses a client's second connection on another keel, and allows it once the first closed", async (t) => {
    const GET = 'GET /held HTTP/1.1\r\nHost: t\r\n\r\n';
    const held = await rawExchange(a.port, GET, { keepOpen: true, until: hasResponseHead });
    t.after(() => held.socket.destroy());
    assert.equal(parseResponses(held.data)[0].status, 200);
    const refused = await rawExchange(b.port, GET, { stopAfterClose: true });
    assert.equal(parseResponses(refused.data)[0]?.status, 429);
    assert.equal(refused.closed, true);
    held.socket.destroy();
    await waitFor(
      async () => {
        const next = await rawExchange(b.port, GET, { until: hasResponseHead });
        return parseResponses(next.data)[0]?.status === 200;
      },
      { timeout: 5000, what: 'a connection to be allowed once the first closed' },
    );
  });
});
