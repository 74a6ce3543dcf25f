// WebSocket (HTTP Upgrade) through a proxy route: a real `ws` echo server upstream, a real `ws`
// client through keel; messages both ways, closes carried both ways, refusals that never hang.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { makeCertificates } from '../helpers/certs.js';
import { rawExchange, parseResponses, writeUntilRefused } from '../helpers/raw-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** A ws echo server; records each connection's request headers and how it closed. */
async function startEchoServer() {
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  const seen = { connections: [], closes: [] };
  wss.on('connection', (ws, req) => {
    seen.connections.push({ url: req.url, headers: req.headers, ws });
    ws.on('message', (data, binary) => {
      if (String(data) === 'server-close') ws.close(4001, 'server says bye');
      else ws.send(data, { binary });
    });
    ws.on('close', (code, reason) => seen.closes.push({ code, reason: String(reason) }));
  });
  await once(wss, 'listening');
  return { port, wss, seen, url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }) };
}

function openSocket(url, options) {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      const err = new Error(`unexpected response ${res.statusCode}`);
      err.statusCode = res.statusCode;
      err.headers = res.headers;
      res.resume();
      reject(err);
    });
  });
}

function nextMessage(ws, timeoutMs = 5000) {
  return once(ws, 'message', { signal: AbortSignal.timeout(timeoutMs) }).then(([data, binary]) => ({ data, binary }));
}

describe('WebSocket through a proxy route', () => {
  let keel;
  let echo;
  before(async () => {
    echo = await startEchoServer();
    keel = await startKeel(null, ['--proxy', `/ws=${echo.url}`, '--lingering-timeout', '1'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await echo?.close();
  });

  it('echoes text and binary messages both ways, with forwarding headers upstream', async () => {
    const ws = await openSocket(`${keel.url.replace('http', 'ws')}/ws/chat?room=1`);
    ws.send('hello');
    assert.equal(String((await nextMessage(ws)).data), 'hello');
    const big = Buffer.alloc(256 * 1024, 7);
    ws.send(big);
    const echoed = await nextMessage(ws);
    assert.equal(echoed.binary, true);
    assert.ok(Buffer.from(echoed.data).equals(big));
    const conn = echo.seen.connections.at(-1);
    assert.equal(conn.url, '/ws/chat?room=1');
    assert.equal(conn.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(conn.headers['x-forwarded-proto'], 'http');
    assert.match(conn.headers['x-request-id'], /\S/);
    ws.close(4000, 'client says bye');
    await once(ws, 'close');
    await waitFor(() => echo.seen.closes.find((c) => c.code === 4000 && c.reason === 'client says bye'), { timeout: 5000, what: 'the upstream to see the client close' });
    // The access log has the exchange as a 101, once it closed.
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('/ws/chat?room=1')), { timeout: 5000, what: 'the access line' });
    assert.match(line, /" 101 /);
    assert.match(line, /upgraded/);
  });

  it('carries a close from the upstream to the client', async () => {
    const ws = await openSocket(`${keel.url.replace('http', 'ws')}/ws/x`);
    ws.send('server-close');
    const [code, reason] = await once(ws, 'close');
    assert.equal(code, 4001);
    assert.equal(String(reason), 'server says bye');
  });

  it('keeps several sockets apart', async () => {
    const sockets = await Promise.all([1, 2, 3].map(() => openSocket(`${keel.url.replace('http', 'ws')}/ws/many`)));
    const answers = await Promise.all(sockets.map((ws, i) => { ws.send(`m${i}`); return nextMessage(ws); }));
    assert.deepEqual(answers.map((a) => String(a.data)), ['m0', 'm1', 'm2']);
    for (const ws of sockets) ws.terminate();
  });

  it('refuses an upgrade outside any proxy route with 404 and closes', async () => {
    await assert.rejects(openSocket(`${keel.url.replace('http', 'ws')}/elsewhere`), (err) => err.statusCode === 404);
    const raw = await rawExchange(keel.port, 'GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', { timeout: 3000 });
    assert.equal(raw.timedOut, false, 'the connection closed');
    assert.equal(parseResponses(raw.data)[0].status, 404);
    // A client that never closes its side, and sends nothing more, is cut after --lingering-timeout
    // (1 s here), not left open for good: its writes then draw a reset.
    const idle = connect({ host: '127.0.0.1', port: keel.port, allowHalfOpen: true });
    try {
      const received = [];
      const errors = [];
      idle.on('data', (d) => received.push(d));
      idle.on('error', (err) => errors.push(err.code));
      idle.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      await waitFor(() => idle.readableEnded, { timeout: 5000, what: "the 404 and the end of keel's side" });
      assert.equal(parseResponses(Buffer.concat(received))[0]?.status, 404);
      await sleep(2500);
      assert.notDeepEqual(await writeUntilRefused(idle, errors), [], `keel closed the connection after its linger: ${errors.join(', ') || 'writes still accepted'}`);
    } finally {
      idle.destroy();
    }
  });
});

describe('WebSocket to an upstream that is down', () => {
  let keel;
  before(async () => {
    const deadPort = await freePort();
    keel = await startKeel(null, ['--proxy', `/ws=http://127.0.0.1:${deadPort}`], { workers: 1 });
  });
  after(() => keel?.stop());

  it('answers 502 and closes', async () => {
    await assert.rejects(openSocket(`${keel.url.replace('http', 'ws')}/ws`), (err) => err.statusCode === 502 && /\S/.test(err.headers['x-request-id']));
  });
});

describe('a WebSocket outlives the request timeouts', () => {
  let keel;
  let echo;
  before(async () => {
    echo = await startEchoServer();
    keel = await startKeel(null, ['--proxy', `/ws=${echo.url}`, '--request-timeout', '1', '--header-timeout', '1', '--keep-alive', '1'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await echo?.close();
  });

  it('still echoes after the request, header and keep-alive timeouts have passed', async () => {
    const ws = await openSocket(`${keel.url.replace('http', 'ws')}/ws/long`);
    await new Promise((r) => setTimeout(r, 2500));
    ws.send('still here');
    assert.equal(String((await nextMessage(ws)).data), 'still here');
    ws.close();
  });
});

describe('a WebSocket during a graceful stop', () => {
  let keel;
  let echo;
  before(async () => {
    echo = await startEchoServer();
    keel = await startKeel(null, ['--proxy', `/ws=${echo.url}`, '--graceful-timeout', '2'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await echo?.close();
  });

  it('keeps working while keel drains, and is closed at --graceful-timeout', async () => {
    const ws = await openSocket(`${keel.url.replace('http', 'ws')}/ws/drain`);
    // Rejects (AbortError) if still open 6.5 s after SIGTERM; its timer, unlike a setTimeout's, does not hold the process.
    const closed = once(ws, 'close', { signal: AbortSignal.timeout(6500) });
    keel.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    ws.send('during drain');
    assert.equal(String((await nextMessage(ws)).data), 'during drain');
    await closed;
    await keel.waitExit(5000);
  });
});

describe('WebSocket over TLS (wss://) through a proxy route', () => {
  let keel;
  let echo;
  let pki;
  let leaf;
  let port;
  before(async () => {
    pki = makeCertificates();
    leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    echo = await startEchoServer();
    port = await freePort();
    keel = await startKeel(null, ['--bind', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key, '--proxy', `/ws=${echo.url}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await echo?.close();
    pki?.cleanup();
  });

  it('upgrades on the TLS listener and tells the upstream the client used https', async () => {
    const ws = await openSocket(`wss://127.0.0.1:${port}/ws/secure`, { ca: pki.ca.certPem });
    ws.send('over tls');
    assert.equal(String((await nextMessage(ws)).data), 'over tls');
    const conn = echo.seen.connections.at(-1);
    assert.equal(conn.headers['x-forwarded-proto'], 'https');
    assert.match(conn.headers.forwarded, /proto=https/);
    ws.close();
  });
});
