// /metrics and the status snapshot behind the status page (issue 6, point 1), black-box: a known
// load against two workers, then counts that must add up exactly; restart counters against the
// restarts the test causes; upstream, cache and rate-limit metrics; the error inbox; --admin-token.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, request } from 'undici';
import { makeCertificates } from '../helpers/certs.js';
import { getFresh } from '../helpers/http.js';
import { runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { scrape, samplesOf, sumOf } from '../helpers/prom-text.js';
import { waitFor } from '../helpers/wait.js';

const APP = 'test/fixtures/metrics-app.js';
const SECRET = 'billing-secret-5d1e9a';
const REQUESTS = 'keel_http_requests_total';

/** Reads the first `data:` event of /events with a raw HTTP client: the status snapshot. */
async function snapshot(adminUrl, query = '') {
  // Bounded: an event stream never ends by itself.
  const res = await request(`${adminUrl}/events${query}`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'], /^text\/event-stream/);
  let buffered = '';
  for await (const chunk of res.body) {
    buffered += chunk;
    const end = buffered.indexOf('\n\n');
    if (end >= 0) {
      res.body.destroy();
      const line = buffered.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
      return JSON.parse(line.slice(6));
    }
  }
  throw new Error('/events ended before its first event');
}

/** Runs `count` calls of `fn`, `width` at a time. */
async function inParallel(count, width, fn) {
  let next = 0;
  const results = new Array(count);
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}

describe('metrics after a known load on two workers', () => {
  let keel;
  const boomIds = [];
  before(async () => {
    keel = await startKeel(APP, [], { workers: 2, env: { METRICS_API_TOKEN: SECRET } });
    // 120 GETs: 80 answered 200, 30 answered 404 by the app, 10 failing in the app (500).
    const paths = [...Array(80).fill('/ok'), ...Array(30).fill('/missing'), ...Array.from({ length: 10 }, (_, i) => `/boom?n=${i}`)];
    // Fresh connections, so the primary spreads them over both workers.
    await inParallel(paths.length, 8, async (i) => {
      const res = await getFresh(`${keel.url}${paths[i]}`);
      if (paths[i].startsWith('/boom')) boomIds.push(res.headers['x-request-id']);
      return res.status;
    });
    // 5 POSTs with 1000-byte bodies.
    for (let i = 0; i < 5; i++) {
      const res = await request(`${keel.url}/echo`, { method: 'POST', body: 'x'.repeat(1000), headers: { 'content-type': 'text/plain' } });
      assert.equal(await res.body.text(), 'got 1000\n');
    }
  });
  after(() => keel?.stop());

  it('counts every request exactly once, by method, route and status class', async () => {
    const samples = await waitFor(
      async () => {
        const s = await scrape(keel.adminUrl);
        return sumOf(s, REQUESTS) === 125 ? s : null;
      },
      { timeout: 10_000, what: '125 requests in /metrics' },
    );
    assert.equal(sumOf(samples, REQUESTS, { method: 'GET', route: 'app', status_class: '2xx' }), 80);
    assert.equal(sumOf(samples, REQUESTS, { method: 'GET', route: 'app', status_class: '4xx' }), 30);
    assert.equal(sumOf(samples, REQUESTS, { method: 'GET', route: 'app', status_class: '5xx' }), 10);
    assert.equal(sumOf(samples, REQUESTS, { method: 'POST', route: 'app', status_class: '2xx' }), 5);
    // The readyz probes of the test helper go to the admin listener, not through the pipeline.
    assert.equal(sumOf(samples, 'keel_http_request_duration_seconds_count'), 125);
    assert.equal(sumOf(samples, 'keel_http_request_duration_seconds_bucket', { le: '+Inf' }), 125);
    const buckets = samplesOf(samples, 'keel_http_request_duration_seconds_bucket');
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, 'buckets are cumulative');
    const sum = sumOf(samples, 'keel_http_request_duration_seconds_sum');
    assert.ok(sum > 0 && sum < 125 * 10, `duration sum ${sum} s is plausible`);
    assert.equal(sumOf(samples, 'keel_http_request_bytes_total'), 5000);
    // 80 × "hello\n" + 30 × "not here\n" + 5 × "got 1000\n" + 10 generic 500 pages: at least the known bodies.
    const out = sumOf(samples, 'keel_http_response_bytes_total');
    assert.ok(out >= 80 * 6 + 30 * 9 + 5 * 9 && out < 200_000, `response bytes ${out} are plausible`);
    assert.equal(sumOf(samples, 'keel_http_requests_in_flight'), 0);
    assert.equal(sumOf(samples, 'keel_worker_starts_total'), 2);
    assert.equal(sumOf(samples, 'keel_app_errors_total'), 10);
  });

  it('reports event-loop delay and resident memory for each worker', async () => {
    const pids = keel.workerPids().map(String).sort();
    assert.equal(pids.length, 2);
    const samples = await scrape(keel.adminUrl);
    const rss = samplesOf(samples, 'keel_worker_resident_memory_bytes');
    assert.deepEqual(rss.map((s) => s.labels.worker).sort(), pids);
    for (const s of rss) assert.ok(s.value > 10 * 1024 * 1024, `worker ${s.labels.worker} RSS ${s.value}`);
    const delay = samplesOf(samples, 'keel_worker_event_loop_delay_seconds');
    assert.deepEqual(delay.map((s) => s.labels.worker).sort(), pids);
    for (const s of delay) assert.ok(s.value >= 0 && s.value < 5, `worker ${s.labels.worker} delay ${s.value}`);
  });

  it('streams a snapshot whose totals, workers and error inbox match the load', async () => {
    const snap = await snapshot(keel.adminUrl);
    assert.equal(snap.totals.requests, 125);
    assert.equal(snap.totals.errors, 10);
    assert.equal(snap.workers.length, 2);
    assert.equal(snap.workers.reduce((n, w) => n + w.requests, 0) >= 120, true, 'worker rows count their requests');
    for (const w of snap.workers) {
      assert.equal(w.state, 'ready');
      assert.ok(w.rss > 0);
      assert.equal(w.restarts, 0);
    }
    assert.ok(snap.workers.every((w) => w.requests > 0), 'both workers served part of the load');
    // The per-second ring adds up to the load once its current second has closed.
    const trafficTotal = (s) => s.traffic.reduce((n, sample) => n + sample.rps, 0);
    assert.ok(trafficTotal(snap) <= 125, 'the traffic ring never counts more than was served');
    await waitFor(async () => trafficTotal(await snapshot(keel.adminUrl)) === 125, { timeout: 10_000, interval: 250, what: 'the traffic ring to hold all 125 requests' });
    // Ten errors thrown at one place with ten different messages: one group.
    assert.equal(snap.errors.length, 1);
    const [group] = snap.errors;
    assert.equal(group.count, 10);
    assert.match(group.title, /^Error: boom number \d$/);
    assert.match(group.stack, /at boom /);
    assert.match(group.signature, /^[0-9a-f]{12}$/);
    assert.deepEqual([...group.requestIds].sort(), [...boomIds].sort());
    assert.ok(group.firstSeen <= group.lastSeen);
  });

  it('puts an error from another throw site in a group of its own', async () => {
    const res = await getFresh(`${keel.url}/other-boom`);
    assert.equal(res.status, 500);
    const snap = await waitFor(async () => {
      const s = await snapshot(keel.adminUrl);
      return s.errors.length === 2 ? s : null;
    }, { what: 'a second error group' });
    const other = snap.errors.find((g) => g.title.startsWith('TypeError'));
    assert.equal(other.count, 1);
    assert.deepEqual(other.requestIds, [res.headers['x-request-id']]);
    assert.equal(snap.errors.find((g) => g.title.startsWith('Error: boom')).count, 10);
  });

  it('redacts secrets from the titles and stacks it shows', async () => {
    assert.equal((await getFresh(`${keel.url}/secret-boom`)).status, 500);
    const snap = await waitFor(async () => {
      const s = await snapshot(keel.adminUrl);
      return s.errors.length === 3 ? s : null;
    }, { what: 'a third error group' });
    const group = snap.errors.find((g) => g.title.includes('billing API'));
    assert.equal(group.title, 'Error: cannot reach the billing API with [REDACTED]');
    assert.equal(JSON.stringify(snap).includes(SECRET), false);
  });
});

describe('event-loop delay of a worker whose loop is blocked', () => {
  const DELAY = 'keel_worker_event_loop_delay_seconds';
  /** How long each request holds its worker's event loop, synchronously. */
  const BLOCK_MS = 300;
  /** A gauge at or above this means the loop was held; a worker doing nothing stays well under it. */
  const BLOCKED_S = 0.1;
  let keel;
  before(async () => {
    const dir = tempDir('keel-loop-delay-');
    writeFileSync(
      join(dir, 'app.js'),
      [
        'export default function app(req, res) {',
        "  const ms = Number(new URL(req.url, 'http://x').searchParams.get('block') ?? 0);",
        '  // Busy-waits: nothing else runs in this worker meanwhile, as with a slow synchronous call.',
        '  const until = Date.now() + ms;',
        '  while (Date.now() < until);',
        "  res.writeHead(200, { 'content-type': 'text/plain', 'x-pid': String(process.pid) });",
        "  res.end('done\\n');",
        '}',
        '',
      ].join('\n'),
    );
    keel = await startKeel(join(dir, 'app.js'), [], { workers: 2 });
  });
  after(() => keel?.stop());

  /** The gauge per worker pid, from one scrape. */
  async function delays() {
    return new Map(samplesOf(await scrape(keel.adminUrl), DELAY).map((s) => [s.labels.worker, s.value]));
  }

  it('reports the blocked worker at about the block length, and the idle one well under it', async () => {
    const pids = keel.workerPids().map(String).sort();
    assert.equal(pids.length, 2);
    // Before any load: both workers have reported (once a second), each well under the threshold.
    // Waited for, not read once: a report covering start-up may still show its module loading.
    await waitFor(
      async () => {
        const d = await delays();
        return pids.every((pid) => d.has(pid) && d.get(pid) < BLOCKED_S);
      },
      { timeout: 20_000, interval: 100, what: `both workers reporting ${DELAY} under ${BLOCKED_S} s before the load` },
    );

    // One kept-alive connection, so every blocking request lands on the same worker.
    const client = new Client(keel.url, { connections: 1, pipelining: 1 });
    const blocked = new Set();
    let seen = null;
    try {
      seen = await waitFor(
        async () => {
          const res = await client.request({ path: `/?block=${BLOCK_MS}`, method: 'GET', headersTimeout: 10_000 });
          await res.body.text();
          assert.equal(res.statusCode, 200);
          blocked.add(res.headers['x-pid']);
          const d = await delays();
          // The gauge is the p99 of the last one-second report: wait for the report that covers a block.
          return [...blocked].some((pid) => d.get(pid) >= BLOCKED_S) ? d : null;
        },
        { timeout: 30_000, interval: 0, what: `${DELAY} of the blocked worker to reach ${BLOCKED_S} s` },
      );
    } finally {
      await client.close().catch(() => {});
    }
    assert.equal(blocked.size, 1, `every blocking request went to one worker: ${[...blocked]}`);
    const [busy] = blocked;
    const idle = pids.find((pid) => pid !== busy);
    assert.ok(idle, `the blocked worker ${busy} is one of ${pids}`);
    const busyDelay = seen.get(busy);
    // Seconds, not milliseconds: a 300 ms block reads as about 0.3.
    assert.ok(busyDelay >= BLOCKED_S && busyDelay < 5, `blocked worker ${busy}: ${DELAY} ${busyDelay}`);
    assert.ok(seen.get(idle) < BLOCKED_S, `idle worker ${idle}: ${DELAY} ${seen.get(idle)} in the same scrape`);

    // Once the blocks stop, the next reports bring the blocked worker back under the threshold:
    // the gauge is the last second's p99, not the worst since start.
    await waitFor(async () => (await delays()).get(busy) < BLOCKED_S, {
      timeout: 20_000,
      interval: 100,
      what: `${DELAY} of worker ${busy} to fall back under ${BLOCKED_S} s after the load`,
    });
  });
});

describe('restart counters match the restarts caused', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--timeout', '2', '--max-memory', '250m'], { workers: 2 });
  });
  after(() => keel?.stop());

  async function restartsBecome(expected, what) {
    return waitFor(
      async () => {
        const samples = await scrape(keel.adminUrl);
        const got = Object.fromEntries(samplesOf(samples, 'keel_worker_restarts_total').map((s) => [s.labels.reason, s.value]));
        return JSON.stringify(got) === JSON.stringify(expected) ? samples : null;
      },
      { timeout: 15_000, what },
    );
  }

  async function bothReady() {
    await waitFor(async () => (await keel.readyz()) === 200 && keel.workerPids().length === 2, { timeout: 15_000, what: 'two ready workers' });
  }

  it('counts crash, memory, timeout and reload, one at a time', async () => {
    const zero = { crash: 0, timeout: 0, memory: 0, 'max-requests': 0, reload: 0 };
    await restartsBecome(zero, 'all-zero restart counters');

    process.kill(keel.workerPids()[0], 'SIGKILL');
    await restartsBecome({ ...zero, crash: 1 }, 'crash 1 after a SIGKILL');
    await bothReady();

    const alloc = await getFresh(`${keel.url}/alloc?mb=300`);
    assert.equal(alloc.status, 200);
    await restartsBecome({ ...zero, crash: 1, memory: 1 }, 'memory 1 after an allocation past --max-memory');
    await bothReady();

    // The blocked worker never answers: it is killed after --timeout, and the request fails.
    await getFresh(`${keel.url}/block`, {}, 20_000).catch(() => {});
    await restartsBecome({ ...zero, crash: 1, memory: 1, timeout: 1 }, 'timeout 1 after a blocked event loop');
    await bothReady();

    keel.signal('SIGHUP');
    const samples = await restartsBecome({ ...zero, crash: 1, memory: 1, timeout: 1, reload: 2 }, 'reload 2 after HUP');
    assert.equal(sumOf(samples, 'keel_worker_starts_total'), 7);
    assert.equal(sumOf(samples, 'keel_worker_exits_total'), 5);
    await bothReady();
    const snap = await snapshot(keel.adminUrl);
    assert.deepEqual(snap.restarts, { crash: 1, timeout: 1, memory: 1, 'max-requests': 0, reload: 2 });
    // Two slots, five replacements between them.
    const live = snap.workers.filter((w) => w.state === 'ready');
    assert.equal(live.length, 2);
    assert.equal(live.reduce((n, w) => n + w.restarts, 0), 5);
  });
});

describe('--max-requests restarts', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--max-requests', '5'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('counts max-requests once the worker has answered its share', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await getFresh(`${keel.url}/ok`)).status, 200);
    await waitFor(
      async () => sumOf(await scrape(keel.adminUrl), 'keel_worker_restarts_total', { reason: 'max-requests' }) === 1,
      { timeout: 10_000, what: 'max-requests 1' },
    );
    const samples = await scrape(keel.adminUrl);
    assert.equal(sumOf(samples, 'keel_worker_restarts_total', { reason: 'crash' }), 0);
    // The retired worker's five requests stay counted.
    assert.equal(sumOf(samples, REQUESTS), 5);
  });
});

describe('upstream, cache and rate-limit metrics when configured', () => {
  let keel;
  let deadPort;
  before(async () => {
    deadPort = await freePort();
    keel = await startKeel(APP, [
      '--proxy', `/api=http://127.0.0.1:${deadPort}`,
      '--proxy-max-fails', '1',
      '--proxy-fail-timeout', '60',
      '--cache', '1m',
      '--rate-limit', '/limited 1r/m burst=0',
    ], { workers: 1 });
  });
  after(() => keel?.stop());

  it('shows a dead upstream as unhealthy once a request fails on it', async () => {
    let samples = await waitFor(async () => {
      const s = await scrape(keel.adminUrl);
      return samplesOf(s, 'keel_upstream_healthy').length === 1 ? s : null;
    }, { what: 'the upstream in /metrics' });
    const [before] = samplesOf(samples, 'keel_upstream_healthy');
    assert.deepEqual(before.labels, { route: '/api', upstream: `http://127.0.0.1:${deadPort}` });
    assert.equal(before.value, 1);
    const res = await getFresh(`${keel.url}/api/x`);
    assert.equal(res.status, 502);
    samples = await waitFor(async () => {
      const s = await scrape(keel.adminUrl);
      return sumOf(s, 'keel_upstream_healthy') === 0 ? s : null;
    }, { what: 'keel_upstream_healthy 0' });
    assert.equal(sumOf(samples, REQUESTS, { route: '/api', status_class: '5xx' }), 1);
    const snap = await snapshot(keel.adminUrl);
    assert.deepEqual(snap.upstreams, [{ route: '/api', url: `http://127.0.0.1:${deadPort}`, healthy: false }]);
  });

  it('counts cache misses and hits', async () => {
    // The proxied request above went through the cache too: count from here.
    const start = await scrape(keel.adminUrl);
    const hits = sumOf(start, 'keel_cache_requests_total', { result: 'hit' });
    const misses = sumOf(start, 'keel_cache_requests_total', { result: 'miss' });
    assert.equal(samplesOf(start, 'keel_cache_requests_total').length, 4, 'hit, miss, stale and revalidated are shown from the start');
    const first = await getFresh(`${keel.url}/cached`);
    assert.equal(first.headers['x-cache'], 'MISS');
    // The store can trail the answer (the other worker may answer next): ask until a HIT, counting the misses.
    let missed = 1;
    await waitFor(async () => {
      const next = await getFresh(`${keel.url}/cached`);
      if (next.headers['x-cache'] === 'HIT') return true;
      missed += 1;
      return false;
    }, { timeout: 5000, interval: 20, what: 'a cache hit' });
    await waitFor(async () => {
      const s = await scrape(keel.adminUrl);
      return sumOf(s, 'keel_cache_requests_total', { result: 'hit' }) === hits + 1 && sumOf(s, 'keel_cache_requests_total', { result: 'miss' }) === misses + missed;
    }, { what: 'one more cache hit and as many more misses as were seen' });
  });

  it('counts rate-limited requests', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await getFresh(`${keel.url}/limited`)).status);
    assert.deepEqual(statuses, [200, 429, 429]);
    await waitFor(async () => sumOf(await scrape(keel.adminUrl), 'keel_ratelimit_limited_total', { route: 'app' }) === 2, { what: '2 rate-limited requests' });
  });
});

describe('certificates in the snapshot', () => {
  let keel;
  let pki;
  const notAfter = new Date(Date.now() + 20 * 86_400_000);
  before(async () => {
    pki = makeCertificates();
    const leaf = pki.leaf('metrics.localhost', { dns: ['metrics.localhost', 'localhost'], ip: ['127.0.0.1'], notAfter });
    const port = await freePort();
    keel = await startKeel(APP, ['-b', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    pki?.cleanup();
  });

  it('lists the names and expiry of the certificate keel presents', async () => {
    const snap = await snapshot(keel.adminUrl);
    assert.equal(snap.certificates.length, 1);
    const [cert] = snap.certificates;
    assert.deepEqual(cert.names, ['metrics.localhost', 'localhost', '127.0.0.1']);
    assert.equal(cert.source, 'files');
    // X.509 times have whole seconds.
    assert.ok(Math.abs(cert.notAfter - notAfter.getTime()) < 1000, `notAfter ${new Date(cert.notAfter).toISOString()}`);
  });
});

describe('--admin-token', () => {
  const TOKEN = 'metrics-test-token-0123456789';
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--admin-token', TOKEN], { workers: 1 });
  });
  after(() => keel?.stop());

  it('answers 401 without the token on /, /events and /metrics', async () => {
    for (const path of ['/', '/events', '/metrics', `/metrics?token=wrong-${TOKEN}`]) {
      const res = await request(`${keel.adminUrl}${path}`, { headers: path.includes('wrong') ? {} : { authorization: 'Bearer nope' } });
      await res.body.text();
      assert.equal(res.statusCode, 401, path);
      assert.match(res.headers['www-authenticate'], /^Bearer/);
    }
  });

  it('answers with the token as a Bearer header or as ?token=', async () => {
    assert.ok((await scrape(keel.adminUrl, { authorization: `Bearer ${TOKEN}` })).length > 0);
    const res = await request(`${keel.adminUrl}/metrics?token=${TOKEN}`);
    assert.equal(res.statusCode, 200);
    assert.match(await res.body.text(), /keel_http_requests_in_flight/);
    const snap = await snapshot(keel.adminUrl, `?token=${TOKEN}`);
    assert.equal(snap.workers.length, 1);
  });

  it('keeps /healthz and /readyz open for probes', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await request(`${keel.adminUrl}${path}`);
      await res.body.text();
      assert.equal(res.statusCode, 200, path);
    }
  });

  it('never writes the token to the logs', () => {
    assert.equal(keel.stderr.includes(TOKEN), false);
  });
});

describe('an admin listener off loopback', () => {
  it('refuses to start without --admin-token', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const { code, stderr } = await runKeel(['serve', APP, '--bind', `127.0.0.1:${port}`, '--admin', `0.0.0.0:${adminPort}`, '--workers', '1']);
    assert.equal(code, 2);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], new RegExp(`^keel: --admin 0\\.0\\.0\\.0:${adminPort} is not loopback: set --admin-token .*bind it to 127\\.0\\.0\\.1`));
  });

  it('refuses a token too short to guess-proof', async () => {
    const { code, stderr } = await runKeel(['serve', APP, '--admin-token', 'short', '--workers', '1']);
    assert.equal(code, 2);
    assert.match(stderr, /^keel: --admin-token: .*at least 16 characters/);
    assert.equal(stderr.includes('short'), false, 'the secret is not echoed');
  });
});
