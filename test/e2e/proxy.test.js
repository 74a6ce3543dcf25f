// The reverse proxy (--proxy): balancing, health, retries, timeouts, streaming, headers,
// hop-by-hop removal and refused smuggling, against real node:http upstreams on loopback.
// One worker where a test counts per upstream, so the balancer's counters are the only ones.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { rawExchange, parseResponses } from '../helpers/raw-client.js';
import { startUpstream } from '../helpers/upstreams.js';
import { makeCertificates } from '../helpers/certs.js';
import { createServer as createHttpsServer } from 'node:https';
import { sleep, waitFor } from '../helpers/wait.js';

async function get(keel, path, options = {}) {
  const res = await request(`${keel.url}${path}`, options);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

const total = (ups) => ups.reduce((n, u) => n + u.count, 0);

/** A TCP server that accepts and at once resets every connection: an upstream that fails before answering, counted. */
async function startResetter() {
  const server = createNetServer((socket) => {
    server.accepted++;
    socket.resetAndDestroy();
  });
  server.accepted = 0;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('round-robin over three upstreams', () => {
  let keel;
  const ups = [];
  before(async () => {
    for (const name of ['a', 'b', 'c']) ups.push(await startUpstream(name));
    keel = await startKeel(null, ['--proxy', `/api=${ups.map((u) => u.url).join(',')}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await Promise.all(ups.map((u) => u.close()));
  });

  it('spreads requests evenly and forwards the full URL as received', async () => {
    for (let i = 0; i < 30; i++) {
      const r = await get(keel, `/api/items/${i}?q=${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.json().url, `/api/items/${i}?q=${i}`);
    }
    assert.deepEqual(ups.map((u) => u.count), [10, 10, 10]);
  });

  it('leaves paths outside the prefix alone (404 with no app)', async () => {
    const before = total(ups);
    const r = await get(keel, '/apix');
    assert.equal(r.status, 404);
    assert.equal(total(ups), before);
  });

  it('fails over when an upstream dies mid-test: every request still succeeds', async () => {
    await ups[2].close();
    const before = ups[2].count;
    for (let i = 0; i < 20; i++) assert.equal((await get(keel, `/api/after-death/${i}`)).status, 200);
    assert.equal(ups[2].count, before);
    // The failures are in the error log with the upstream's address.
    await waitFor(() => keel.errorLog().some((l) => l.upstream === ups[2].url && /retrying/.test(l.msg)), { timeout: 5000, what: 'the retry in the error log' });
  });
});

describe('least-conn', () => {
  let keel;
  const ups = [];
  const held = [];
  before(async () => {
    const hold = (req, res, up) => {
      if (req.url.includes('slow')) held.push(() => res.end(up.name));
      else res.end(up.name);
    };
    for (const name of ['a', 'b']) ups.push(await startUpstream(name, hold));
    keel = await startKeel(null, ['--proxy', `/=${ups.map((u) => u.url).join(',')} balance=least-conn`], { workers: 1 });
  });
  after(async () => {
    for (const release of held) release();
    await keel?.stop();
    await Promise.all(ups.map((u) => u.close()));
  });

  it('sends new requests to the upstream with fewer in flight', async () => {
    const slow = get(keel, '/slow');
    await waitFor(() => held.length === 1, { timeout: 5000, what: 'the slow request upstream' });
    const busy = ups.find((u) => u.count === 1);
    const idle = ups.find((u) => u !== busy);
    for (let i = 0; i < 10; i++) assert.equal((await get(keel, `/quick/${i}`)).text, idle.name);
    assert.equal(busy.count, 1, 'the busy upstream got nothing more');
    held.shift()();
    assert.equal((await slow).text, busy.name);
    // Both idle again: the next ones spread over both.
    const names = new Set();
    for (let i = 0; i < 4; i++) names.add((await get(keel, `/again/${i}`)).text);
    assert.equal(names.size, 2);
  });
});

describe('hash-ip and hash-header', () => {
  let keel;
  let keelHeader;
  const ups = [];
  before(async () => {
    for (const name of ['a', 'b', 'c']) ups.push(await startUpstream(name));
    const list = ups.map((u) => u.url).join(',');
    // Loopback is a trusted proxy by default, so X-Forwarded-For stands in for many clients.
    keel = await startKeel(null, ['--proxy', `/=${list} balance=hash-ip`, '--proxy-max-fails', '1', '--proxy-fail-timeout', '60'], { workers: 2 });
    keelHeader = await startKeel(null, ['--proxy', `/=${list}`, '--balance', 'hash-header:X-User'], { workers: 2 });
  });
  after(async () => {
    await keel?.stop();
    await keelHeader?.stop();
    await Promise.all(ups.map((u) => u.close()));
  });

  const clients = Array.from({ length: 24 }, (_, i) => `203.0.113.${i + 1}`);

  it('hash-ip: a client always reaches the same upstream, whichever worker; clients spread', async () => {
    const home = new Map();
    for (let round = 0; round < 3; round++) {
      for (const ip of clients) {
        const name = (await get(keel, '/who', { headers: { 'x-forwarded-for': ip } })).json().name;
        if (round === 0) home.set(ip, name);
        else assert.equal(name, home.get(ip), `${ip} moved`);
      }
    }
    assert.ok(new Set(home.values()).size >= 2, 'clients use more than one upstream');
    // Removing an upstream moves only its own clients.
    const victim = ups.find((u) => [...home.values()].includes(u.name));
    await victim.close();
    for (const ip of clients) {
      const r = await get(keel, '/who', { headers: { 'x-forwarded-for': ip } });
      assert.equal(r.status, 200);
      if (home.get(ip) !== victim.name) assert.equal(r.json().name, home.get(ip), `${ip} moved though its upstream lives`);
      else assert.notEqual(r.json().name, victim.name);
    }
  });

  it('hash-header: the same header value sticks; without the header requests go round-robin', async () => {
    const live = ups.filter((u) => u.server.listening);
    const names = new Set();
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      const first = (await get(keelHeader, '/u', { headers: { 'x-user': user } })).json().name;
      names.add(first);
      for (let i = 0; i < 4; i++) assert.equal((await get(keelHeader, '/u', { headers: { 'x-user': user } })).json().name, first);
    }
    const spread = new Set();
    for (let i = 0; i < 12; i++) spread.add((await get(keelHeader, '/anon')).json().name);
    assert.ok(spread.size >= Math.min(2, live.length), 'requests without the header spread');
  });
});

describe('passive health: an upstream that keeps failing is skipped', () => {
  let keel;
  let good;
  let bad;
  before(async () => {
    good = await startUpstream('good');
    bad = await startResetter();
    keel = await startKeel(null, ['--proxy', `/=${bad.url},${good.url}`, '--proxy-max-fails', '2', '--proxy-fail-timeout', '60'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await good?.close();
    await bad?.close();
  });

  it('stops trying it after --proxy-max-fails failures; GETs never see the failures', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get(keel, `/x/${i}`)).status, 200);
    assert.equal(bad.server.accepted, 2, 'two failures, then skipped');
    assert.equal(good.count, 20);
  });
});

describe('active health checks', () => {
  let keel;
  const ups = [];
  const sick = new Set();
  before(async () => {
    const handler = (req, res, up) => {
      if (req.url === '/healthz') {
        res.writeHead(sick.has(up.name) ? 503 : 200);
        res.end();
        return;
      }
      res.end(up.name);
    };
    for (const name of ['a', 'b']) ups.push(await startUpstream(name, handler));
    keel = await startKeel(null, ['--proxy', `/=${ups.map((u) => u.url).join(',')} health=/healthz:0.2s:200-299`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await Promise.all(ups.map((u) => u.close()));
  });

  const names = async (n) => {
    const seen = [];
    for (let i = 0; i < n; i++) seen.push((await get(keel, `/r${i}`)).text);
    return seen;
  };

  it('probes each upstream, takes a failing one out, and back in once it passes', async () => {
    await waitFor(() => ups.every((u) => u.requests.some((r) => r.url === '/healthz' && r.headers['user-agent'] === 'keel-health-check')), { timeout: 5000, what: 'health probes' });
    sick.add('b');
    await waitFor(async () => (await names(6)).every((n) => n === 'a'), { timeout: 5000, what: 'b out of rotation' });
    assert.ok((await names(10)).every((n) => n === 'a'));
    await waitFor(() => keel.errorLog().some((l) => l.upstream === ups[1].url && /failed its health check/.test(l.msg)), { timeout: 5000, what: 'the log line' });
    sick.delete('b');
    await waitFor(async () => (await names(4)).includes('b'), { timeout: 5000, what: 'b back in rotation' });
  });
});

describe('retry on connect failure: GET yes, POST no', () => {
  let keel;
  let live;
  before(async () => {
    live = await startUpstream('live');
    const dead = `http://127.0.0.1:${await freePort()}`;
    // --proxy-max-fails 0: the dead upstream is never skipped, so every other request meets it.
    keel = await startKeel(null, ['--proxy', `/=${dead},${live.url}`, '--proxy-max-fails', '0'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await live?.close();
  });

  it('retries idempotent requests on the next upstream', async () => {
    for (let i = 0; i < 6; i++) {
      assert.equal((await get(keel, `/g${i}`)).status, 200);
      assert.equal((await get(keel, `/p${i}`, { method: 'PUT', body: 'x' })).status, 200);
    }
  });

  it('answers 502 to a POST that met the dead upstream, and never sends it twice', async () => {
    const statuses = [];
    const before = live.count;
    for (let i = 0; i < 6; i++) {
      const r = await get(keel, `/post${i}`, { method: 'POST', body: `body${i}` });
      statuses.push(r.status);
      if (r.status === 502) {
        assert.match(r.headers['x-request-id'], /\S/);
        assert.ok(r.text.includes(r.headers['x-request-id']), 'the page carries the request ID');
        assert.ok(!/ECONNREFUSED|127\.0\.0\.1/.test(r.text), 'no upstream detail leaks');
      }
    }
    assert.deepEqual(statuses.filter((s) => s === 502).length, 3);
    assert.equal(live.count - before, 3);
    await waitFor(() => keel.errorLog().some((l) => l.code === 'ECONNREFUSED' && l.requestId && /answered 502/.test(l.msg)), { timeout: 5000, what: 'the 502 in the error log' });
  });
});

describe('timeouts and failures: 502 and 504', () => {
  let keel;
  let slow;
  let garbage;
  const stalls = [];
  before(async () => {
    slow = await startUpstream('slow', (req, res) => {
      if (req.url === '/no-head') return; // never answers
      if (req.url === '/stall') {
        res.writeHead(200, { 'content-length': '100000' });
        res.write('x'.repeat(1000));
        stalls.push(res);
        return;
      }
      if (req.url === '/break') {
        res.writeHead(200, { 'content-length': '100000' });
        res.write('y'.repeat(1000));
        setTimeout(() => res.socket.destroy(), 50);
        return;
      }
      if (req.url === '/hints') res.writeEarlyHints({ link: '</a.css>; rel=preload' });
      res.end('ok');
    });
    garbage = createNetServer((socket) => socket.end('HELLO THERE\r\n\r\n'));
    garbage.listen(0, '127.0.0.1');
    await once(garbage, 'listening');
    keel = await startKeel(null, [
      '--proxy', `/=${slow.url}`,
      '--proxy', `/down=http://127.0.0.1:${await freePort()}`,
      '--proxy', `/garbage=http://127.0.0.1:${garbage.address().port}`,
      '--proxy-header-timeout', '0.5', '--proxy-idle-timeout', '0.5',
    ], { workers: 1 });
  });
  after(async () => {
    for (const res of stalls) res.destroy();
    await keel?.stop();
    await slow?.close();
    garbage?.close();
  });

  it('502 when the upstream answers something that is not HTTP', async () => {
    const r = await get(keel, '/garbage');
    assert.equal(r.status, 502);
    assert.doesNotMatch(r.text, /HELLO/);
  });

  it('passes the final answer after a 1xx (Early Hints)', async () => {
    const r = await get(keel, '/hints');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok');
  });

  it('504 when the upstream sends no head within --proxy-header-timeout', async () => {
    const r = await get(keel, '/no-head');
    assert.equal(r.status, 504);
    assert.ok(r.text.includes(r.headers['x-request-id']));
    await waitFor(() => keel.errorLog().some((l) => l.requestId === r.headers['x-request-id'] && l.upstream === slow.url && /504/.test(l.msg)), { timeout: 5000, what: 'the 504 in the error log' });
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes(r.headers['x-request-id'])), { timeout: 5000, what: 'the access line' });
    assert.match(line, /" 504 /);
  });

  it('502 when nothing listens', async () => {
    const r = await get(keel, '/down/x');
    assert.equal(r.status, 502);
  });

  it('cuts the response when the body stalls past --proxy-idle-timeout, or breaks off', async () => {
    for (const path of ['/stall', '/break']) {
      const res = await request(`${keel.url}${path}`);
      assert.equal(res.statusCode, 200);
      await assert.rejects(res.body.text(), `${path}: the client sees a truncated body, not a complete one`);
    }
    await waitFor(() => keel.errorLog().some((l) => l.code === 'UND_ERR_BODY_TIMEOUT' && l.requestId), { timeout: 5000, what: 'the idle timeout in the error log' });
  });
});

/**
 * A listener whose accept queue is full, so the kernel drops further SYNs and a connect hangs: what
 * an overloaded or firewalled upstream looks like. Python, because Node accepts everything at once.
 */
async function startBlackhole() {
  const child = spawn('/usr/bin/python3', ['-c', [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'fill = []',
    'for i in range(4):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(s.getsockname())',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(120)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout, 'data');
  return { url: `http://127.0.0.1:${String(line).trim()}`, stop: () => child.kill('SIGKILL') };
}

describe('connect timeout', () => {
  let keel;
  let hole;
  let live;
  before(async () => {
    hole = await startBlackhole();
    live = await startUpstream('live');
    keel = await startKeel(null, ['--proxy', `/=${hole.url},${live.url}`, '--proxy-connect-timeout', '0.3', '--proxy-max-fails', '0'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    hole?.stop();
    await live?.close();
  });

  it('an upstream that does not accept in time: GETs go to the next one, a POST gets 502', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await get(keel, `/g${i}`)).status, 200);
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await get(keel, `/p${i}`, { method: 'POST', body: 'x' })).status);
    assert.deepEqual(statuses.sort(), [200, 502]);
    await waitFor(() => keel.errorLog().some((l) => l.code === 'UND_ERR_CONNECT_TIMEOUT' && l.upstream === hole.url), { timeout: 5000, what: 'the connect timeout in the error log' });
  });
});

describe('streaming both ways', () => {
  let keel;
  let up;
  const progress = { written: 0, finished: false };
  // Larger than what the kernel can hold in flight: loopback buffers here grow to 32 MiB per
  // receiving socket (tcp_rmem), so a few of them hold ~70 MiB without any help from keel.
  const BIG = 256 * 1024 * 1024;
  before(async () => {
    up = await startUpstream('stream', (req, res) => {
      if (req.url === '/upload') {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (c) => {
          hash.update(c);
          length += c.length;
        });
        req.on('end', () => res.end(JSON.stringify({ length, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null })));
        return;
      }
      if (req.url === '/endless') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const tick = setInterval(() => res.write('data: tick\n\n'), 100);
        progress.endless = res;
        res.on('close', () => clearInterval(tick));
        return;
      }
      if (req.url === '/slow-upload') {
        // Reads nothing for a while: keel must not soak up the upload meanwhile.
        progress.uploadHeld = true;
        setTimeout(() => {
          let length = 0;
          req.on('data', (c) => (length += c.length));
          req.on('end', () => {
            res.write(JSON.stringify({ length }));
            res.end();
          });
        }, 1500);
        return;
      }
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
        const chunk = Buffer.alloc(1024 * 1024, 'z');
        const pump = () => {
          while (progress.written < BIG) {
            progress.written += chunk.length;
            if (!res.write(chunk)) return res.once('drain', pump);
          }
          progress.finished = true;
          res.end();
        };
        pump();
      }
    });
    // Streaming with backpressure is what this block is about; by default keel reads a request body
    // whole first and holds a response for a client that falls behind (proxy-buffering.test.js).
    keel = await startKeel(null, ['--proxy', `/=${up.url}`, '--max-body', '1g', '--proxy-request-buffering', 'off', '--proxy-response-buffer', '0'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await up?.close();
  });

  it('uploads a multi-MiB body intact, with a length or chunked', async () => {
    const data = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const withLength = (await get(keel, '/upload', { method: 'POST', body: data })).json();
    assert.deepEqual(withLength, { length: data.length, sha256, te: null });
    const chunked = (await get(keel, '/upload', { method: 'POST', body: Readable.from((function* () { for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20)); })()) })).json();
    assert.equal(chunked.length, data.length);
    assert.equal(chunked.sha256, sha256);
  });

  it('a client that goes away mid-response: the upstream request is aborted too', async () => {
    const socket = netConnect(keel.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    await waitFor(() => progress.endless, { timeout: 5000, what: 'the upstream to start answering' });
    const upstreamClosed = once(progress.endless, 'close');
    socket.destroy();
    await Promise.race([upstreamClosed, sleep(5000).then(() => { throw new Error('the upstream request was left open after the client left'); })]);
  });

  it('uploads with backpressure: an upstream that does not read holds the client back', async () => {
    const socket = netConnect(keel.port, '127.0.0.1');
    await once(socket, 'connect');
    const size = BIG;
    socket.write(`POST /slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    let sent = 0;
    let answer = '';
    socket.on('data', (c) => (answer += c));
    const chunk = Buffer.alloc(1024 * 1024, 'u');
    let sentAtOneSecond = -1;
    const timer = setTimeout(() => (sentAtOneSecond = sent), 1000);
    while (sent < size) {
      sent += chunk.length;
      if (!socket.write(chunk)) await once(socket, 'drain', { signal: AbortSignal.timeout(20_000) });
    }
    clearTimeout(timer);
    assert.ok(sentAtOneSecond >= 0 && sentAtOneSecond < size / 2, `keel soaked up ${sentAtOneSecond} bytes of the upload while the upstream read nothing`);
    await waitFor(() => answer.includes('"length"'), { timeout: 30_000, what: 'the answer' });
    assert.ok(answer.includes(`{"length":${size}}`), answer.slice(0, 300));
    socket.destroy();
    // A chunked answer to a POST is counted in the access log (keel keeps the request's socket).
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('POST /slow-upload')), { timeout: 5000, what: 'the access line' });
    assert.match(line, /" 200 \d+ /, 'a byte count, not "-"');
  });

  it('downloads with backpressure: a client that stops reading holds the upstream back', async () => {
    const socket = netConnect(keel.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /download HTTP/1.1\r\nHost: x\r\n\r\n');
    let received = 0;
    socket.on('data', (c) => (received += c.length));
    await waitFor(() => received > 0, { timeout: 5000, what: 'the first bytes' });
    socket.pause();
    await sleep(1500);
    assert.ok(!progress.finished && progress.written < BIG / 2, `keel buffered the response: the upstream wrote ${progress.written} bytes to a client that read ${received}`);
    socket.resume();
    await waitFor(() => received >= BIG, { timeout: 30_000, what: 'the whole body' });
    assert.equal(progress.finished, true);
    socket.destroy();
  });
});

describe('headers', () => {
  let keel;
  let untrusted;
  let up;
  before(async () => {
    up = await startUpstream('echo', (req, res, upstream) => {
      if (req.url === '/hop') {
        res.writeHead(200, [
          'Connection', 'X-Resp-Hop, keep-alive',
          'X-Resp-Hop', 'secret',
          'Keep-Alive', 'timeout=5',
          'Proxy-Authenticate', 'Basic',
          'Set-Cookie', 'a=1',
          'Set-Cookie', 'b=2',
          'X-Kept', 'yes',
        ]);
        res.end('hop');
        return;
      }
      const body = JSON.stringify({ headers: req.headers, raw: req.rawHeaders, name: upstream.name });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    keel = await startKeel(null, ['--proxy', `/=${up.url}`], { workers: 1 });
    untrusted = await startKeel(null, ['--proxy', `/=${up.url}`, '--forwarded-allow-ips', '10.9.9.9'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await untrusted?.stop();
    await up?.close();
  });

  it('sets X-Forwarded-For/-Proto/-Host, Forwarded and X-Request-Id; passes Host through', async () => {
    const r = await get(keel, '/h', { headers: { host: 'shop.example:8443' } });
    const h = r.json().headers;
    assert.equal(h.host, 'shop.example:8443');
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'shop.example:8443');
    assert.equal(h.forwarded, 'for=127.0.0.1;host="shop.example:8443";proto=http');
    assert.equal(h['x-request-id'], r.headers['x-request-id']);
  });

  it('appends to a trusted X-Forwarded-For; replaces an untrusted one', async () => {
    const trusted = (await get(keel, '/h', { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } })).json().headers;
    assert.equal(trusted['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(trusted['x-forwarded-proto'], 'https');
    assert.match(trusted.forwarded, /^for=203\.0\.113\.7;host="[^"]+";proto=https, for=127\.0\.0\.1$/);
    const spoofed = (await get(untrusted, '/h', { headers: { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=1.2.3.4', 'x-forwarded-host': 'evil.example', 'x-request-id': 'chosen-by-client' } })).json();
    assert.equal(spoofed.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(spoofed.headers.forwarded.includes('1.2.3.4'), false);
    assert.notEqual(spoofed.headers['x-forwarded-host'], 'evil.example');
    assert.notEqual(spoofed.headers['x-request-id'], 'chosen-by-client');
    assert.equal(spoofed.raw.filter((n) => /^x-forwarded-for$/i.test(n)).length, 1, 'one X-Forwarded-For, not the client\'s and keel\'s');
  });

  it('HEAD gets the head only, with the upstream\'s Content-Length', async () => {
    const raw = await rawExchange(keel.port, 'HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeout: 3000 });
    const text = raw.data.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /content-length: \d+/i);
    assert.ok(text.endsWith('\r\n\r\n'), 'no body after the head');
  });

  it('removes hop-by-hop headers from the request', async () => {
    const raw = await rawExchange(keel.port, [
      'GET /h HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=9\r\nProxy-Connection: keep-alive\r\n' +
        'TE: trailers, deflate\r\nTrailer: X-T\r\nProxy-Authorization: Basic cHJveHk=\r\nAuthorization: Bearer app-token\r\nExpect: 100-continue\r\nX-End: kept\r\n\r\n',
    ], { until: (d) => d.toString('latin1').endsWith('}') });
    // Node answers the Expect with 100 Continue first.
    const h = JSON.parse(parseResponses(Buffer.from(raw.data.toString('latin1').replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''), 'latin1'))[0].body).headers;
    for (const name of ['x-hop', 'keep-alive', 'proxy-connection', 'trailer', 'proxy-authorization', 'expect', 'upgrade']) assert.equal(h[name], undefined, name);
    assert.equal(h.te, 'trailers');
    assert.equal(h.authorization, 'Bearer app-token');
    assert.equal(h['x-end'], 'kept');
    assert.notEqual(h.connection?.toLowerCase().includes('x-hop'), true);
  });

  it('removes hop-by-hop headers from the response; keeps repeated Set-Cookie', async () => {
    const raw = await rawExchange(keel.port, 'GET /hop HTTP/1.1\r\nHost: x\r\n\r\n', { until: (d) => parseResponses(d).length === 1 });
    const text = raw.data.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.doesNotMatch(head, /x-resp-hop|keep-alive: timeout=5|proxy-authenticate/i);
    assert.match(head, /x-kept: yes/i);
    assert.equal(head.match(/^set-cookie:/gim).length, 2);
    assert.equal(parseResponses(raw.data)[0].body.toString(), 'hop');
  });

  it('HTTP/2 clients (h2c) reach an HTTP/1.1 upstream: :authority becomes Host, cookies joined, bodies stream', async () => {
    const h2keel = await startKeel(null, ['--proxy', `/=${up.url}`, '--h2c'], { workers: 1 });
    try {
      const session = h2connect(h2keel.url);
      const answer = (headers, body) =>
        new Promise((resolve, reject) => {
          const stream = session.request(headers);
          let data = '';
          let status = 0;
          stream.on('response', (h) => (status = h[':status']));
          stream.on('data', (c) => (data += c));
          stream.on('end', () => resolve({ status, data }));
          stream.on('error', reject);
          stream.end(body);
        });
      const r = await answer({ ':path': '/h2?x=1', ':authority': 'h2.example', cookie: ['a=1', 'b=2'] });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.data);
      assert.equal(seen.headers.host, 'h2.example');
      assert.equal(seen.headers.cookie, 'a=1; b=2');
      assert.equal(seen.raw.some((n) => n.startsWith(':')), false);
      const post = await answer({ ':method': 'POST', ':path': '/h2post', ':authority': 'h2.example' }, 'payload');
      assert.equal(post.status, 200);
      session.close();
    } finally {
      await h2keel.stop();
    }
  });
});

describe('ambiguous framing is never forwarded', () => {
  let keel;
  let up;
  before(async () => {
    up = await startUpstream('target');
    keel = await startKeel(null, ['--proxy', `/=${up.url}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await up?.close();
  });

  const cases = {
    'Content-Length with Transfer-Encoding': 'POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'Transfer-Encoding other than chunked': 'POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    'chunked twice': 'POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'differing Content-Lengths': 'POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    'Content-Length list': 'POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd',
    'obs-fold': 'GET /s HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n',
    'two Host headers': 'GET /s HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n',
    'chunked in HTTP/1.0': 'POST /s HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'space before colon': 'POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\nabcd',
    'bare LF in a header value': 'GET /s HTTP/1.1\r\nHost: x\r\nX-A: 1\nTransfer-Encoding: chunked\r\n\r\n',
    'asterisk-form target': 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  };
  for (const [name, bytes] of Object.entries(cases)) {
    it(`${name}: 400 and closed, the upstream sees nothing`, async () => {
      const before = up.count;
      const r = await rawExchange(keel.port, bytes, { timeout: 3000 });
      assert.equal(r.timedOut, false, 'the connection was closed');
      const responses = parseResponses(r.data);
      assert.equal(responses[0]?.status, 400, r.data.toString('latin1').slice(0, 200));
      await sleep(100);
      assert.equal(up.count, before, 'the upstream never got the request');
    });
  }

  it('a plain request on the same keel still goes through', async () => {
    assert.equal((await get(keel, '/fine')).status, 200);
  });
});

describe('an upstream that closes every connection (Connection: close, as Gunicorn\'s sync workers)', () => {
  // keel switches stack capture off while undici resets such a connection (reset-without-stack.ts);
  // everything after must have its stacks again.
  let keel;
  let up;
  let connections = 0;
  before(async () => {
    up = await startUpstream('closer', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`closing after ${req.url}`);
    });
    up.server.on('connection', () => connections++);
    keel = await startKeel('test/fixtures/front-errors.js', ['--proxy', `/up=${up.url}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await up?.close();
  });

  it('answers every request, each over a new upstream connection', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get(keel, `/up/${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.text, `closing after /up/${i}`);
      assert.equal(r.headers.connection, 'keep-alive', 'the client connection stays open: Connection is hop-by-hop');
    }
    assert.equal(connections, 3);
  });

  it('an app error after those answers is logged with its whole stack', async () => {
    await get(keel, '/up/before-the-throw');
    const r = await get(keel, '/sync-throw');
    assert.equal(r.status, 500);
    const id = r.headers['x-request-id'];
    const entry = await waitFor(() => keel.errorLog().find((l) => l.requestId === id && l.err?.stack), { timeout: 5000, what: 'the app error in the error log' });
    assert.match(entry.err.stack, /\n\s+at .*front-errors\.js/, 'the stack has its frames, down to the app');
  });
});

describe('unix-socket upstreams and --intercept-errors', () => {
  let keel;
  let up;
  before(async () => {
    const path = join(tempDir(), 'up.sock');
    up = await startUpstream('unix', (req, res) => {
      if (req.url === '/fail') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('Traceback (most recent call last): secret stuff');
        return;
      }
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such thing');
        return;
      }
      res.end(`hello over ${req.headers.host}`);
    }, { path });
    keel = await startKeel(null, ['--proxy', `/=${up.url} intercept-errors`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await up?.close();
  });

  it('proxies to unix:/path', async () => {
    const r = await get(keel, '/', { headers: { host: 'site.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hello over site.example');
  });

  it('replaces a 5xx body with the error page and the request ID; logs the original', async () => {
    const r = await get(keel, '/fail', { headers: { accept: 'application/json' } });
    assert.equal(r.status, 500);
    assert.ok(!r.text.includes('Traceback'));
    const id = r.headers['x-request-id'];
    assert.equal(r.json().requestId, id);
    await waitFor(() => keel.errorLog().some((l) => l.requestId === id && l.status === 500 && l.body?.includes('Traceback')), { timeout: 5000, what: 'the original body in the error log' });
  });

  it('passes other statuses through, and logs the status the client got', async () => {
    const r = await get(keel, '/missing');
    assert.equal(r.status, 404);
    assert.equal(r.text, 'no such thing');
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes(r.headers['x-request-id'])), { timeout: 5000, what: 'the access line' });
    assert.match(line, /" 404 /);
  });
});

describe('https:// upstreams', () => {
  let pki;
  let server;
  let url;
  before(async () => {
    pki = makeCertificates();
    const { certPem, keyPem } = pki.leaf('upstream', { dns: ['upstream.internal'], ip: ['127.0.0.1'] });
    server = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => res.end(`tls ok, host ${req.headers.host}, sni ${req.socket.servername || 'none'}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `https://127.0.0.1:${server.address().port}`;
  });
  after(() => {
    server?.close();
    pki?.cleanup();
  });

  it('verifies the upstream\'s certificate against its own address, not the client\'s Host', async () => {
    const keel = await startKeel(null, ['--proxy', `/=${url}`], { workers: 1, env: { NODE_EXTRA_CA_CERTS: join(pki.dir, 'ca.pem') } });
    try {
      const r = await get(keel, '/', { headers: { host: 'shop.example' } });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'tls ok, host shop.example, sni none');
    } finally {
      await keel.stop();
    }
  });

  it('refuses an upstream certificate it cannot verify: 502', async () => {
    const keel = await startKeel(null, ['--proxy', `/=${url}`], { workers: 1 });
    try {
      const r = await get(keel, '/');
      assert.equal(r.status, 502);
    } finally {
      await keel.stop();
    }
  });
});
