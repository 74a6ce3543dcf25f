// The pre-fork process model, black-box: workers that die, hang, crash, cannot boot, or are
// recycled, and what keel does about each (issue 3, point 2).
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, request } from 'undici';
import { isAlive, runKeel, startKeel } from '../helpers/keel.js';
import { startLoad } from '../helpers/load.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { getFresh } from '../helpers/http.js';

const APP = 'test/fixtures/pm-app.js';


/** Keep-alive connections, one to each of `count` workers, keyed by the pid that answers on them. */
async function connectionPerWorker(url, count) {
  const byPid = new Map();
  const extra = [];
  await waitFor(
    async () => {
      const client = new Client(url, { pipelining: 1 });
      const res = await client.request({ path: '/', method: 'GET', headersTimeout: 10_000 });
      await res.body.text();
      const pid = Number(res.headers['x-pid']);
      if (byPid.has(pid)) extra.push(client);
      else byPid.set(pid, client);
      return byPid.size === count;
    },
    { timeout: 10_000, interval: 10, what: `a keep-alive connection to each of ${count} workers` },
  );
  for (const client of extra) await client.destroy().catch(() => {});
  return byPid;
}

async function requestOn(client, path, headers = {}) {
  const res = await client.request({ path, method: 'GET', headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

function canListen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

/** stderr without the JSON error-log lines: what a person reads. */
function humanLines(stderr) {
  return stderr.split('\n').filter((line) => line && !line.startsWith('{'));
}

function findLog(keel, predicate) {
  return keel.errorLog().find(predicate);
}

describe('kill -9 of one worker under continuous load', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--timeout', '5'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('keeps serving, replaces the worker, and logs the exit with its cause', async () => {
    const original = keel.workerPids();
    assert.equal(original.length, 2);
    const victim = original[0];
    const connections = 8;
    const load = startLoad(keel.url, { connections, maxMs: 40_000 });
    let result;
    try {
      await waitFor(() => load.result.ok >= 100, { timeout: 10_000, what: 'the load to warm up' });
      process.kill(victim, 'SIGKILL');
      await waitFor(
        () => {
          const now = keel.workerPids();
          return now.length === 2 && !now.includes(victim) && now.some((pid) => !original.includes(pid));
        },
        { timeout: 10_000, what: 'a replacement worker' },
      );
      await keel.waitReady();
      const okAtReplacement = load.result.ok;
      await waitFor(() => load.result.ok >= okAtReplacement + 200, { timeout: 10_000, what: 'the load to keep succeeding after the replacement' });
    } finally {
      result = await load.stop();
    }
    // Only requests in flight on the dead worker's connections may fail: at most one per connection.
    assert.ok(result.failed <= connections, `failed ${result.failed} > ${connections}: ${JSON.stringify(result)}`);
    assert.ok(result.ok >= 300, `only ${result.ok} requests succeeded`);

    const replacement = keel.workerPids().find((pid) => !original.includes(pid));
    await waitFor(async () => Number((await getFresh(`${keel.url}/`)).headers['x-pid']) === replacement, {
      timeout: 10_000,
      what: 'the replacement worker to serve requests',
    });

    const exit = await waitFor(() => findLog(keel, (e) => e.worker_pid === victim && /worker exited unexpectedly/.test(e.msg ?? '')), {
      what: 'the error log line for the killed worker',
    });
    assert.equal(exit.level, 'error');
    assert.equal(exit.role, 'primary');
    assert.equal(exit.signal, 'SIGKILL');
    assert.match(exit.msg, /killed by SIGKILL/);
  });
});

describe('a worker whose event loop is blocked (--timeout 2)', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--timeout', '2'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('is killed and replaced, logged with its pid, while the other worker keeps serving', async () => {
    const byPid = await connectionPerWorker(keel.url, 2);
    const [stuckPid, healthyPid] = [...byPid.keys()];
    try {
      const blocked = requestOn(byPid.get(stuckPid), '/block', { 'x-request-id': 'pm-block-1' });
      blocked.catch(() => {});

      // Requests keep being answered by the other worker until keel has dealt with the stuck one.
      let servedMeanwhile = 0;
      const timeoutMsg = `WORKER TIMEOUT (pid:${stuckPid})`;
      await waitFor(
        async () => {
          const res = await requestOn(byPid.get(healthyPid), '/');
          assert.equal(res.status, 200);
          assert.equal(Number(res.headers['x-pid']), healthyPid);
          servedMeanwhile++;
          return findLog(keel, (e) => (e.msg ?? '').includes(timeoutMsg));
        },
        { timeout: 15_000, interval: 20, what: `"${timeoutMsg}" in the error log` },
      );
      assert.ok(servedMeanwhile >= 10, `only ${servedMeanwhile} requests served while a worker was stuck`);

      const entry = findLog(keel, (e) => (e.msg ?? '').includes(timeoutMsg));
      assert.equal(entry.worker_pid, stuckPid);
      assert.equal(entry.level, 'error');

      await assert.rejects(blocked, 'the blocked request cannot be answered: its worker was killed');
      await waitFor(() => !isAlive(stuckPid), { what: 'the stuck worker to be killed' });
      await waitFor(
        () => {
          const now = keel.workerPids();
          return now.length === 2 && now.includes(healthyPid) && !now.includes(stuckPid);
        },
        { timeout: 10_000, what: 'a replacement worker' },
      );
      await keel.waitReady();

      // The watchdog thread wrote the stuck request's access-log line before the worker died.
      const line = await waitFor(() => keel.accessLines().find((l) => l.includes('pm-block-1')), { what: 'an access-log line for the blocked request' });
      assert.match(line, /"GET \/block HTTP\/1\.1" 504 /);
      assert.match(line, / pm-block-1 worker-timeout$/);
    } finally {
      for (const client of byPid.values()) await client.destroy().catch(() => {});
    }
  });

  it('still logs the requests it answered just before it got stuck (their lines were only batched)', async () => {
    // Pipelined: the worker answers the first request and blocks on the second in the same turn of its
    // event loop, before the 20 ms batch of access-log lines is written.
    const socket = connect({ host: '127.0.0.1', port: keel.port });
    socket.on('error', () => {});
    try {
      socket.write(
        'GET /?before-block HTTP/1.1\r\nHost: x\r\nX-Request-Id: pm-before-block\r\n\r\n' + 'GET /block HTTP/1.1\r\nHost: x\r\nX-Request-Id: pm-block-2\r\n\r\n',
      );
      const lines = await waitFor(
        () => {
          const all = keel.accessLines();
          const before = all.find((l) => l.includes('pm-before-block'));
          const blocked = all.find((l) => l.includes('pm-block-2'));
          return before && blocked ? { before, blocked } : null;
        },
        { timeout: 15_000, what: 'access-log lines for both pipelined requests' },
      );
      assert.match(lines.before, /"GET \/\?before-block HTTP\/1\.1" 200 /);
      assert.match(lines.blocked, /"GET \/block HTTP\/1\.1" 504 .* pm-block-2 worker-timeout$/);
    } finally {
      socket.destroy();
    }
  });
});

describe('an app that crashes right after it starts, every time', () => {
  it('makes keel exit with status 3 and the cause on stderr, not restart forever', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const { code, stderr } = await runKeel(['serve', 'test/fixtures/pm-crashloop.js', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`], {
      timeout: 40_000,
    });
    assert.equal(code, 3, stderr);
    const human = humanLines(stderr).join('\n');
    assert.equal((human.match(/^keel: /gm) ?? []).length, 1, stderr);
    assert.match(human.slice(human.indexOf('keel: ')), /^keel: workers keep exiting right after they start/);
    // The app's own error, and where it was thrown, is on stderr (in the error log, or from Node when the
    // worker died before keel's handlers were in place); the last line names it when the worker reported it.
    assert.match(stderr, /boom: crash-loop fixture/);
    assert.match(stderr, /pm-crashloop\.js:7:\d+/);
    assert.ok(await canListen(port), 'the app port is free after keel exited');
    assert.ok(await canListen(adminPort), 'the admin port is free after keel exited');
  });
});

describe('an app that cannot boot', () => {
  const cases = [
    { name: 'a syntax error in a .ts app', app: 'test/fixtures/pm-syntax-error.ts', code: 4, expect: [/failed to load/, /pm-syntax-error\.ts:4:\d+/] },
    { name: 'a throw at import', app: 'test/fixtures/pm-throw-at-import.js', code: 4, expect: [/failed to load/, /pm fixture: thrown at import/, /pm-throw-at-import\.js:3:\d+/] },
    { name: 'a missing named export', app: 'test/fixtures/pm-app.js:nope', code: 2, expect: [/pm-app\.js/, /no export nope/] },
    { name: 'a missing file', app: 'test/fixtures/pm-missing.js', code: 2, expect: [/pm-missing\.js/, /does not exist/] },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.code}, one message naming the file, nothing left listening`, async () => {
      const port = await freePort();
      const adminPort = await freePort();
      const { code, stderr } = await runKeel(['serve', c.app, '--workers', '2', '--bind', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`], { timeout: 20_000 });
      assert.equal(code, c.code, stderr);
      const human = humanLines(stderr).join('\n');
      // Printed once, by the primary, however many workers tried.
      assert.equal((human.match(/^keel: /gm) ?? []).length, 1, stderr);
      const message = human.slice(human.indexOf('keel: '));
      assert.match(message, /^keel: APP: /);
      for (const pattern of c.expect) assert.match(message, pattern);
      assert.doesNotMatch(human, /listen\s+http:/, 'no banner: keel never served');
      assert.ok(await canListen(port), 'the app port is free after keel exited');
      assert.ok(await canListen(adminPort), 'the admin port is free after keel exited');
    });
  }
});

describe('an uncaught exception in a worker', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--graceful-timeout', '10'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('thrown after responding: logged with its request ID; the worker is replaced', async () => {
    const res = await getFresh(`${keel.url}/late-throw`, { 'x-request-id': 'pm-late-1' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'responded\n');
    const pid = Number(res.headers['x-pid']);

    const entry = await waitFor(() => findLog(keel, (e) => e.requestId === 'pm-late-1' && /uncaught exception/.test(e.msg ?? '')), {
      what: 'the uncaught exception in the error log with its request ID',
    });
    assert.equal(entry.level, 'error');
    assert.equal(entry.pid, pid);
    assert.equal(entry.err?.message, 'late throw after responding');

    await waitFor(() => !isAlive(pid), { what: 'the crashed worker to exit' });
    await waitFor(() => keel.workerPids().length === 2 && !keel.workerPids().includes(pid), { what: 'a replacement worker' });
    await keel.waitReady();
  });

  it('thrown in a callback while another request is in flight: that request still completes, then the worker is replaced', async () => {
    await keel.waitReady();
    const byPid = await connectionPerWorker(keel.url, 2);
    const [pid] = byPid.keys();
    const slowClient = byPid.get(pid);
    try {
      const slow = await slowClient.request({ path: '/slow?ms=2500', method: 'GET', headers: { 'x-request-id': 'pm-slow-1' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
      assert.equal(Number(slow.headers['x-pid']), pid, 'the slow request is in flight on the worker');
      const slowBody = slow.body.text();
      slowBody.catch(() => {});

      // Fresh connections alternate between the two workers; keep trying until one lands on `pid`.
      let crashed = null;
      await waitFor(
        async () => {
          const client = new Client(keel.url);
          const probe = await requestOn(client, '/');
          if (Number(probe.headers['x-pid']) !== pid) {
            await client.destroy();
            return false;
          }
          crashed = await requestOn(client, '/throw-in-callback', { 'x-request-id': 'pm-cb-1', accept: 'application/json' });
          await client.destroy();
          return true;
        },
        { what: 'a connection to the worker with the slow request' },
      );
      // The request whose callback threw gets the generic 500, with its request ID and nothing else.
      assert.equal(crashed.status, 500);
      assert.deepEqual(JSON.parse(crashed.body), { error: 'Internal Server Error', status: 500, requestId: 'pm-cb-1' });

      const entry = await waitFor(() => findLog(keel, (e) => e.requestId === 'pm-cb-1' && /uncaught exception/.test(e.msg ?? '')), {
        what: 'the uncaught exception in the error log with its request ID',
      });
      assert.equal(entry.pid, pid);
      assert.equal(entry.err?.message, 'thrown inside a callback');

      // The crashed worker stopped accepting: new connections go elsewhere while its slow request runs.
      for (let i = 0; i < 4; i++) {
        const r = await getFresh(`${keel.url}/`);
        assert.equal(r.status, 200);
        assert.notEqual(Number(r.headers['x-pid']), pid, 'a new connection reached the crashed worker');
      }
      assert.ok(isAlive(pid), 'the crashed worker waits for its in-flight request');

      assert.equal(slow.statusCode, 200);
      assert.equal(await slowBody, 'slow done\n');

      await waitFor(() => !isAlive(pid), { what: 'the crashed worker to exit' });
      await waitFor(() => keel.workerPids().length === 2 && !keel.workerPids().includes(pid), { what: 'a replacement worker' });
      await keel.waitReady();
    } finally {
      for (const client of byPid.values()) await client.destroy().catch(() => {});
    }
  });
});

/** Sequential requests on one keep-alive client until `enough(pids)`; every request must succeed. */
async function sequentialUntil(url, enough, what) {
  const client = new Client(url, { pipelining: 1 });
  const seen = [];
  const failures = [];
  try {
    await waitFor(
      async () => {
        try {
          const res = await requestOn(client, '/');
          seen.push({ status: res.status, pid: Number(res.headers['x-pid']) });
        } catch (err) {
          failures.push(`${err.code ?? ''} ${err.message}`);
        }
        return enough(seen);
      },
      { timeout: 20_000, interval: 5, what },
    );
  } finally {
    await client.destroy().catch(() => {});
  }
  return { seen, failures };
}

describe('--max-requests', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--max-requests', '20', '--timeout', '2'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('replaces the worker gracefully after N requests, with no failed request', async () => {
    const { seen, failures } = await sequentialUntil(keel.url, (s) => new Set(s.map((r) => r.pid)).size >= 3, 'three successive workers');
    assert.deepEqual(failures, []);
    assert.ok(seen.every((r) => r.status === 200), JSON.stringify(seen.filter((r) => r.status !== 200)));
    const first = seen[0].pid;
    assert.ok(seen.filter((r) => r.pid === first).length >= 20, 'the first worker served at least --max-requests requests');
    const entry = await waitFor(() => findLog(keel, (e) => e.worker_pid === first && /max-requests/.test(e.msg ?? '')), { what: 'the recycling in the error log' });
    assert.ok(entry.requests >= 20);
    const exit = await waitFor(() => findLog(keel, (e) => e.worker_pid === first && /^worker exited/.test(e.msg ?? '')), { what: 'the exit of the recycled worker' });
    assert.equal(exit.level, 'info', 'a recycled worker is an expected exit');
    assert.equal(exit.reason, 'max-requests');
  });
});

describe('--max-memory', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--max-memory', '1m', '--timeout', '2'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('recycles workers above the limit while sequential requests keep succeeding', async () => {
    const { seen, failures } = await sequentialUntil(keel.url, (s) => new Set(s.map((r) => r.pid)).size >= 3, 'three successive workers');
    assert.deepEqual(failures, []);
    assert.ok(seen.every((r) => r.status === 200), JSON.stringify(seen.filter((r) => r.status !== 200)));
    const first = seen[0].pid;
    const entry = await waitFor(() => findLog(keel, (e) => e.worker_pid === first && /max-memory/.test(e.msg ?? '')), { what: 'the recycling in the error log' });
    assert.ok(entry.rss > 1024 * 1024);
    const exit = await waitFor(() => findLog(keel, (e) => e.worker_pid === first && /^worker exited/.test(e.msg ?? '')), { what: 'the exit of the recycled worker' });
    assert.equal(exit.reason, 'memory');
    assert.equal(exit.level, 'info', 'a recycled worker is an expected exit');
  });
});

describe('--request-timeout', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--request-timeout', '1'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('answers 504 with the generic page, logs the request, and the worker survives', async () => {
    const [pid] = keel.workerPids();
    const html = await getFresh(`${keel.url}/hang`, { 'x-request-id': 'pm-hang-1' });
    assert.equal(html.status, 504);
    assert.equal(html.headers['x-request-id'], 'pm-hang-1');
    assert.match(html.headers['content-type'], /^text\/html/);
    assert.match(html.body, /504 Gateway Timeout/);
    assert.match(html.body, /pm-hang-1/);

    const json = await getFresh(`${keel.url}/hang`, { 'x-request-id': 'pm-hang-2', accept: 'application/json' });
    assert.equal(json.status, 504);
    assert.deepEqual(JSON.parse(json.body), { error: 'Gateway Timeout', status: 504, requestId: 'pm-hang-2' });

    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('pm-hang-1')), { what: 'the access-log line of the timed-out request' });
    assert.match(line, /"GET \/hang HTTP\/1\.1" 504 /);
    assert.match(line, / pm-hang-1 timeout$/);
    const entry = await waitFor(() => findLog(keel, (e) => e.requestId === 'pm-hang-1'), { what: 'the timeout in the error log' });
    assert.match(entry.msg, /request timed out/);

    // The same worker serves the next request: a slow request is not a dead worker.
    const next = await getFresh(`${keel.url}/`);
    assert.equal(next.status, 200);
    assert.equal(Number(next.headers['x-pid']), pid);
    assert.deepEqual(keel.workerPids(), [pid]);
  });

  it('a response under way goes on while it keeps sending, past the timeout', async () => {
    const res = await request(`${keel.url}/trickle?every=250&for=3200`, { headers: { 'x-request-id': 'pm-trickle' } });
    assert.equal(res.statusCode, 200);
    const body = await res.body.text();
    assert.match(body, /done\n$/);
    assert.ok(body.split('tick').length > 10, body);
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('pm-trickle')), { what: 'the access-log line of the long response' });
    assert.doesNotMatch(line, /timeout$/);
  });

  it('a response under way that sends nothing for the timeout is cut, and logged', async () => {
    const res = await request(`${keel.url}/slow?ms=8000`, { headers: { 'x-request-id': 'pm-silent' } });
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.text(), 'the body is cut, not completed');
    const entry = await waitFor(() => findLog(keel, (e) => e.requestId === 'pm-silent'), { what: 'the stall in the error log' });
    assert.match(entry.msg, /response stalled/);
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('pm-silent')), { what: 'the access-log line of the cut response' });
    assert.match(line, / pm-silent timeout$/);
  });
});
