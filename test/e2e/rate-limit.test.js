// Rate limits (--rate-limit, routes' rateLimit) and the per-client connection limit (--limit-conn),
// counted in the primary so they are exact across workers. Rates are slow (per minute) wherever a
// test counts, so how fast the machine is never changes the answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startKeel, tempDir } from '../helpers/keel.js';
import { getFresh } from '../helpers/http.js';
import { rawExchange, parseResponses, hasResponseHead } from '../helpers/raw-client.js';
import { waitFor, sleep } from '../helpers/wait.js';

const APP = 'test/fixtures/rl-pid.js';
/** PID, client address, status, path: enough to tell which worker decided what for whom. */
const PID_FORMAT = '%(p)s %(h)s %(s)s %(U)s';

/** `n` concurrent requests, each on a connection of its own (so the primary spreads them over the workers). */
function fire(url, n, headers = {}) {
  return Promise.all(Array.from({ length: n }, () => getFresh(url, headers)));
}

const count = (responses, status) => responses.filter((r) => r.status === status).length;

/** Access lines in PID_FORMAT for one client address, once `n` of them have been written. */
async function linesFor(keel, client, n) {
  return waitFor(
    () => {
      const lines = keel.accessLines().map((l) => l.split(' ')).filter((f) => f[1] === client);
      return lines.length >= n ? lines.map(([pid, h, status, path]) => ({ pid, h, status: Number(status), path })) : null;
    },
    { timeout: 5000, what: `${n} access lines for ${client}` },
  );
}

function assertRefused(res) {
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After is whole seconds ≥ 1, got ${res.headers['retry-after']}`);
  assert.ok(res.headers['x-request-id'], 'the 429 carries the request ID');
}

describe('--rate-limit across two workers', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--rate-limit', '1r/m burst=3', '--forwarded-allow-ips', '127.0.0.1', '--access-logformat', PID_FORMAT], { workers: 2 });
  });
  after(() => keel?.stop());

  it('lets exactly burst+1 requests through however the workers share them, and answers 429 with Retry-After to the rest', async () => {
    const client = '203.0.113.10';
    const responses = await fire(`${keel.url}/exact`, 12, { 'x-forwarded-for': client });
    assert.equal(count(responses, 200), 4, `statuses: ${responses.map((r) => r.status).join(' ')}`);
    for (const res of responses.filter((r) => r.status !== 200)) assertRefused(res);
    // With 1r/m the next request is allowed in about a minute after the 4 taken at once.
    const retry = Math.max(...responses.filter((r) => r.status === 429).map((r) => Number(r.headers['retry-after'])));
    assert.ok(retry > 1 && retry <= 60, `Retry-After ${retry} is the time until the bucket lets one more through`);
    // Both workers decided requests of this one client: the count is shared, not per worker.
    const lines = await linesFor(keel, client, 12);
    const pids = new Set(lines.map((l) => l.pid));
    assert.equal(pids.size, 2, `both workers served this client's requests: ${[...pids].join(', ')}`);
    assert.equal(lines.filter((l) => l.status === 200).length, 4);
  });

  it('keys counters by client address: a trusted X-Forwarded-For gives each client its own bucket', async () => {
    const a = await fire(`${keel.url}/a`, 6, { 'x-forwarded-for': '198.51.100.1' });
    const b = await fire(`${keel.url}/b`, 6, { 'x-forwarded-for': '198.51.100.2' });
    assert.equal(count(a, 200), 4);
    assert.equal(count(b, 200), 4, 'a second client is not refused because the first used its burst');
  });
});

describe('--rate-limit: which rule applies', () => {
  let keel;
  let upstream;
  before(async () => {
    // A real upstream for a proxy route, and a directory for a static route: limits apply to every kind of route.
    upstream = createServer((req, res) => res.end('upstream\n'));
    await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const dir = tempDir('keel-rl-');
    const files = join(dir, 'files');
    mkdirSync(files);
    writeFileSync(join(files, 'index.html'), '<p>hello</p>\n');
    const configFile = join(dir, 'keel.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        routes: [
          { path: '/files', static: files, rateLimit: '1r/m burst=1' },
          { path: '/up', proxy: [`http://127.0.0.1:${upstream.address().port}`] },
        ],
      }),
    );
    keel = await startKeel(APP, ['--config', configFile, '--rate-limit', '1r/m burst=4', '--rate-limit', '/api 1r/m burst=2', '--rate-limit', '/up 1r/m burst=0'], { workers: 2 });
  });
  after(async () => {
    await keel?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('counts a prefix rule apart from the global one, and the global one everywhere else', async () => {
    const client = { 'x-forwarded-for': '192.0.2.1' };
    const api = await fire(`${keel.url}/api/items`, 6, client);
    assert.equal(count(api, 200), 3, '/api: burst 2, so 3 at once');
    for (const res of api.filter((r) => r.status !== 200)) assertRefused(res);
    // The /api requests did not use the global bucket.
    const other = await fire(`${keel.url}/other`, 8, client);
    assert.equal(count(other, 200), 5, 'elsewhere: the global burst 4, untouched by /api');
    // /apix is not under /api: it falls to the global rule, now spent.
    assert.equal((await getFresh(`${keel.url}/apix`, client)).status, 429);
  });

  it('matches prefixes on the normalised path, as the router does (/%61pi is /api)', async () => {
    const client = { 'x-forwarded-for': '192.0.2.2' };
    const statuses = [];
    for (const path of ['/api/1', '/%61pi/2', '/x/../api/3', '/api/4']) statuses.push((await getFresh(`${keel.url}${path}`, client)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });

  it("uses a route's own rateLimit from the config file, over the global rule (static route)", async () => {
    const client = { 'x-forwarded-for': '192.0.2.3' };
    const files = await fire(`${keel.url}/files/index.html`, 5, client);
    const refused = files.filter((r) => r.status === 429);
    assert.equal(files.length - refused.length, 2, `route rule burst 1: ${files.map((r) => r.status).join(' ')}`);
    for (const res of refused) assertRefused(res);
    // The global bucket of this client is untouched by the route's requests.
    assert.equal(count(await fire(`${keel.url}/app`, 5, client), 200), 5);
  });

  it('limits a proxy route by its prefix rule before the upstream is asked', async () => {
    const client = { 'x-forwarded-for': '192.0.2.4' };
    const up = await fire(`${keel.url}/up/x`, 4, client);
    const refused = up.filter((r) => r.status === 429);
    assert.equal(up.length - refused.length, 1, `burst 0: one at a time: ${up.map((r) => r.status).join(' ')}`);
    for (const res of refused) assertRefused(res);
  });

  it('writes rate-limited in the access line of a refused request', async () => {
    const res = await request(`${keel.url}/api/logged`, { headers: { 'x-forwarded-for': '192.0.2.1' } });
    await res.body.text();
    assert.equal(res.statusCode, 429);
    const id = res.headers['x-request-id'];
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes(id)), { timeout: 5000, what: 'the access line of the 429' });
    assert.match(line, / 429 .* rate-limited$/);
  });
});

describe('--rate-limit: refill and untrusted forwarding headers', () => {
  let keel;
  before(async () => {
    // Only 10.9.9.9 may vouch for clients: loopback is not trusted, so X-Forwarded-For is ignored.
    keel = await startKeel(APP, ['--rate-limit', '/fast 4r/s burst=0', '--rate-limit', '1r/m burst=0', '--forwarded-allow-ips', '10.9.9.9'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('an untrusted peer cannot pick its bucket with X-Forwarded-For', async () => {
    const first = await getFresh(`${keel.url}/one`, { 'x-forwarded-for': '203.0.113.50' });
    const second = await getFresh(`${keel.url}/two`, { 'x-forwarded-for': '203.0.113.51' });
    // Both count as 127.0.0.1, whose one request a minute is spent.
    assert.equal(first.status, 200);
    assertRefused(second);
  });

  it('lets a refused client through again once the interval has passed', async () => {
    const burst = await fire(`${keel.url}/fast`, 4);
    assert.ok(count(burst, 200) >= 1 && count(burst, 429) >= 1, `some refused: ${burst.map((r) => r.status).join(' ')}`);
    const refused = burst.find((r) => r.status === 429);
    assert.equal(refused.headers['retry-after'], '1', 'less than a second to wait rounds up to 1');
    // 4r/s: one more every 250 ms. Waiting 300 ms is enough whatever the machine's speed.
    await sleep(300);
    assert.equal((await getFresh(`${keel.url}/fast`)).status, 200);
  });
});

describe('--limit-conn across two workers', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--limit-conn', '2'], { workers: 2 });
  });
  after(() => keel?.stop());

  const GET = (path) => `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`;

  /** Sends a request on an open socket and resolves with the parsed answer. */
  function ask(socket, path) {
    return new Promise((resolve, reject) => {
      let data = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error(`no answer for ${path}`)), 5000);
      const onData = (chunk) => {
        data = Buffer.concat([data, chunk]);
        const [res] = parseResponses(data);
        if (res && res.body.length === Number(res.headers['content-length'])) {
          clearTimeout(timer);
          socket.removeListener('data', onData);
          resolve(res);
        }
      };
      socket.on('data', onData);
      socket.write(GET(path));
    });
  }

  it('answers 429 and closes a third open connection while the first two keep working', async (t) => {
    const port = keel.port;
    const first = await rawExchange(port, GET('/c1'), { keepOpen: true, until: hasResponseHead });
    const second = await rawExchange(port, GET('/c2'), { keepOpen: true, until: hasResponseHead });
    t.after(() => {
      first.socket.destroy();
      second.socket.destroy();
    });
    assert.equal(parseResponses(first.data)[0].status, 200);
    assert.equal(parseResponses(second.data)[0].status, 200);
    // Over the limit: 429, then the connection is closed.
    const third = await rawExchange(port, [GET('/c3'), GET('/c3-again')], { stopAfterClose: true });
    const [answer] = parseResponses(third.data);
    assert.equal(answer.status, 429);
    assert.match(answer.headers.connection ?? '', /close/i);
    assert.equal(third.closed, true, 'the refused connection is closed');
    // The two counted connections still work.
    assert.equal((await ask(first.socket, '/c1-again')).status, 200);
    assert.equal((await ask(second.socket, '/c2-again')).status, 200);
    // Closing one frees its place for a new connection (the close is counted in the primary first).
    first.socket.destroy();
    await waitFor(
      async () => {
        const next = await rawExchange(port, GET('/c4'), { until: hasResponseHead });
        return parseResponses(next.data)[0]?.status === 200;
      },
      { timeout: 5000, what: 'a new connection to be allowed once one closed' },
    );
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('/c3 ')), { timeout: 5000, what: 'the access line of the refused connection' });
    assert.match(line, / 429 .* conn-limited$/);
  });
});

describe('--limit-conn over TLS', () => {
  it('counts TLS connections by their peer: the second of a limit of one gets 429 and is closed', async (t) => {
    const { makeCertificates } = await import('../helpers/certs.js');
    const tls = await import('node:tls');
    const pki = makeCertificates();
    t.after(() => pki.cleanup());
    const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    const keel = await startKeel(APP, ['--certfile', leaf.cert, '--keyfile', leaf.key, '--limit-conn', '1'], { workers: 2 });
    t.after(() => keel.stop());
    /** One HTTP/1.1 exchange on a TLS socket: the raw answer once its head (and a close, if any) came. */
    const exchange = (socket, path) =>
      new Promise((resolve, reject) => {
        let data = '';
        const timer = setTimeout(() => reject(new Error(`no answer for ${path}`)), 5000);
        const done = () => {
          clearTimeout(timer);
          resolve({ data, closed: socket.destroyed || socket.readableEnded });
        };
        socket.on('data', (chunk) => {
          data += chunk;
          const [res] = parseResponses(Buffer.from(data));
          if (res && res.body.length === Number(res.headers['content-length']) && !/close/i.test(res.headers.connection ?? '')) done();
        });
        socket.once('close', done);
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      });
    const open = () =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: keel.port, servername: 'localhost', ca: pki.ca.certPem, ALPNProtocols: ['http/1.1'] }, () => resolve(socket));
        socket.once('error', reject);
      });
    const first = await open();
    t.after(() => first.destroy());
    assert.equal(parseResponses(Buffer.from((await exchange(first, '/t1')).data))[0].status, 200);
    const second = await open();
    t.after(() => second.destroy());
    const refused = await exchange(second, '/t2');
    assert.equal(parseResponses(Buffer.from(refused.data))[0].status, 429);
    assert.equal(refused.closed, true, 'the refused connection is closed');
    // The counted connection still works.
    assert.equal(parseResponses(Buffer.from((await exchange(first, '/t1-again')).data))[0].status, 200);
  });
});

describe('rate-limit settings', () => {
  it('refuses two rules for one prefix before anything listens', async () => {
    const keel = await startKeel(APP, ['--rate-limit', '/api 1r/s', '--rate-limit', '/api 2r/s'], { waitReady: false });
    const exit = await keel.waitExit();
    assert.equal(exit.code, 2);
    assert.match(keel.stderr, /--rate-limit: two rules for the prefix \/api/);
  });

  it('refuses a malformed rule with the setting named', async () => {
    const keel = await startKeel(APP, ['--rate-limit', '10 per second'], { waitReady: false });
    const exit = await keel.waitExit();
    assert.equal(exit.code, 2);
    assert.match(keel.stderr, /rate-limit/);
  });
});
