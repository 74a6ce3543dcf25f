// Closing a connection the client is still sending on (lingering close, as Nginx and Apache do).
// A server that closes at once makes its kernel answer the client's next bytes with a reset; the
// client's next write then fails and its socket is torn down with the answer still unread. Each
// case here holds the answer unread (the client pauses reading), writes twice after it, then reads:
// the answer must be there and no write may fail. Also: HTTP/1.1 without Host is keel's own 400.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { makeCertificates } from '../helpers/certs.js';
import { waitFor, sleep } from '../helpers/wait.js';
import { parseResponses, writeUntilRefused } from '../helpers/raw-client.js';

const ECHO = 'test/fixtures/front-echo.js';

/**
 * Sends `first`, holds reading, sends each of `later` 200 ms apart, reads after that; then half-closes
 * (unless `keepSending`) and waits for the server to close. Resolves { data, error, closed }.
 */
function exchangeUnread(open, first, later, { readAfterMs = 200 * later.length + 200, keepSending = false } = {}) {
  return new Promise((resolve) => {
    const socket = open();
    const received = [];
    const result = { data: Buffer.alloc(0), error: null, closed: false };
    const finish = () => {
      clearTimeout(deadline);
      result.data = Buffer.concat(received);
      socket.destroy();
      resolve(result);
    };
    const deadline = setTimeout(finish, readAfterMs + 5000);
    socket.on('data', (d) => received.push(d));
    socket.on('error', (err) => (result.error = err));
    socket.on('close', () => {
      result.closed = true;
      finish();
    });
    socket.once(socket.encrypted ? 'secureConnect' : 'connect', () => {
      socket.pause();
      socket.write(first);
      later.forEach((piece, i) => setTimeout(() => !socket.destroyed && socket.write(piece), 200 * (i + 1)));
      setTimeout(() => {
        socket.resume();
        if (!keepSending) socket.end();
      }, readAfterMs);
    });
  });
}

function hits(file) {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((h) => h.event === 'start').map((h) => h.url) : [];
}

const CASES = [
  {
    what: 'HTTP/1.1 without Host, its chunked body still coming',
    first: 'POST /no-host HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    later: ['5\r\nworld\r\n', '0\r\n\r\n'],
    status: 400,
    url: '/no-host',
  },
  {
    what: 'a request pipelined behind one that said Connection: close',
    first: 'GET /closing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    later: ['GET /pipelined HTTP/1.1\r\n', 'Host: x\r\n\r\n'],
    status: 200,
    url: '/pipelined',
  },
  {
    what: 'a chunked upload over --max-body, still sending',
    first: `POST /too-big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'a'.repeat(0x800)}\r\n`,
    later: [`800\r\n${'b'.repeat(0x800)}\r\n`, '0\r\n\r\n'],
    status: 413,
    url: null,
  },
  {
    what: 'a head the parser refuses (Content-Length with Transfer-Encoding), body still coming',
    first: 'POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n',
    later: ['4\r\nabcd\r\n', '0\r\n\r\n'],
    status: 400,
    url: '/smuggle',
  },
];

describe('lingering close: the last answer on a connection survives what the client sends after it', { concurrency: true }, () => {
  const pki = makeCertificates();
  const leaf = pki.leaf('linger.test', { dns: ['localhost'], ip: ['127.0.0.1'] });
  let keel;
  let plainPort;
  let tlsPort;
  let hitsFile;
  const transports = () => [
    ['HTTP/1.1', () => connectTcp({ host: '127.0.0.1', port: plainPort })],
    ['HTTPS/1.1', () => connectTls({ host: '127.0.0.1', port: tlsPort, ca: pki.ca.certPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] })],
  ];

  before(async () => {
    hitsFile = join(tempDir('keel-linger-'), 'hits.jsonl');
    [plainPort, tlsPort] = [await freePort(), await freePort()];
    // Shorter than Nginx's 30 s and 5 s defaults, so the cuts below come within a test's time.
    keel = await startKeel(ECHO, ['-b', `http://127.0.0.1:${plainPort}`, '-b', `https://127.0.0.1:${tlsPort}`, '--certfile', leaf.cert, '--keyfile', leaf.key, '--max-body', '1k', '--lingering-time', '4', '--lingering-timeout', '1'], {
      workers: 1,
      env: { FRONT_HITS_FILE: hitsFile },
    });
  });
  after(async () => {
    await keel?.stop();
    pki.cleanup();
  });

  for (const c of CASES) {
    it(`${c.what}: answered ${c.status}, over HTTP/1.1 and HTTPS/1.1`, async () => {
      for (const [protocol, open] of transports()) {
        const result = await exchangeUnread(open, c.first, c.later);
        const responses = parseResponses(result.data);
        assert.equal(responses[0]?.status, c.status, `${protocol}: ${result.data.toString('latin1').slice(0, 120) || `no answer (${result.error?.code})`}`);
        assert.equal(responses.length, 1, `${protocol}: one answer, nothing for what came after it`);
        assert.match(responses[0].headers['x-request-id'] ?? '', /^[A-Za-z0-9._:-]{8,128}$/, `${protocol}: the answer has a request ID`);
        assert.equal(result.error, null, `${protocol}: no write failed (${result.error?.code})`);
        assert.ok(result.closed, `${protocol}: keel closed the connection once the client ended its side`);
      }
      if (c.url) assert.ok(!hits(hitsFile).includes(c.url), `${c.url} never reached the app`);
    });
  }

  /** A client that holds its side open after keel's last answer (allowHalfOpen), with what it received and its errors. */
  async function openLingering(tls = false) {
    const socket = tls
      ? connectTls({ host: '127.0.0.1', port: tlsPort, ca: pki.ca.certPem, servername: 'localhost', ALPNProtocols: ['http/1.1'], allowHalfOpen: true })
      : connectTcp({ host: '127.0.0.1', port: plainPort, allowHalfOpen: true });
    const errors = [];
    const received = [];
    socket.on('error', (err) => errors.push(err.code));
    socket.on('data', (d) => received.push(d));
    await new Promise((resolve) => socket.once(tls ? 'secureConnect' : 'connect', resolve));
    socket.write(CASES[1].first);
    await waitFor(() => socket.readableEnded, { timeout: 5000, what: "keel's answer and the end of its side" });
    assert.equal(parseResponses(Buffer.concat(received))[0]?.status, 200);
    return { socket, errors };
  }

  /** Writes a byte every `everyMs` for `forMs`: what a slow client still sending its upload does. */
  async function trickle(socket, everyMs, forMs) {
    for (let sent = 0; sent < forMs; sent += everyMs) {
      socket.write('x');
      await sleep(everyMs);
    }
  }

  it('goes on reading a client that keeps sending, past --lingering-timeout: its writes do not fail, over HTTP/1.1 and HTTPS/1.1', async () => {
    // Both at once: 2.7 s of writes, 300 ms apart, well past the 1 s lingering timeout, which each
    // write starts again (and past the fixed 2 s linger keel had before), within the 4 s lingering time.
    const clients = await Promise.all([openLingering(false), openLingering(true)]);
    try {
      await Promise.all(clients.map(({ socket }) => trickle(socket, 300, 2700)));
      assert.deepEqual(clients[0].errors, [], 'HTTP/1.1: writes within the lingering time are read and dropped');
      assert.deepEqual(clients[1].errors, [], 'HTTPS/1.1: writes within the lingering time are read and dropped');
    } finally {
      for (const { socket } of clients) socket.destroy();
    }
  });

  it('cuts a client that goes quiet for --lingering-timeout: its writes then fail', async () => {
    const { socket, errors } = await openLingering();
    try {
      await sleep(1500);
      assert.notDeepEqual(await writeUntilRefused(socket, errors), [], `keel closed the connection after the lingering timeout: ${errors.join(', ') || 'writes still accepted'}`);
    } finally {
      socket.destroy();
    }
  });

  it('cuts a client that never stops sending once --lingering-time is up: its writes then fail', async () => {
    const { socket, errors } = await openLingering();
    try {
      // Never quiet for the 1 s timeout; the 4 s lingering time ends it. writeUntilRefused goes on for up to 6 s.
      assert.notDeepEqual(await writeUntilRefused(socket, errors, 60), [], `keel closed the connection after the lingering time: ${errors.join(', ') || 'writes still accepted'}`);
    } finally {
      socket.destroy();
    }
  });
});

describe('HTTP/1.1 without Host is refused by keel, with a request ID and a log line', () => {
  let keel;
  let hitsFile;
  before(async () => {
    hitsFile = join(tempDir('keel-nohost-'), 'hits.jsonl');
    keel = await startKeel(ECHO, [], { workers: 1, env: { FRONT_HITS_FILE: hitsFile } });
  });
  after(() => keel?.stop());

  it('answers 400 to HTTP/1.1 without Host and logs it; HTTP/1.0 without Host is served', async () => {
    const open = () => connectTcp({ host: '127.0.0.1', port: keel.port });
    const refused = parseResponses((await exchangeUnread(open, 'GET /no-host-11 HTTP/1.1\r\n\r\n', [])).data);
    assert.equal(refused[0]?.status, 400);
    const id = refused[0].headers['x-request-id'];
    assert.match(id ?? '', /^[A-Za-z0-9._:-]{8,128}$/);
    await waitFor(() => keel.accessLines().some((l) => l.includes(id) && l.includes('"GET /no-host-11 HTTP/1.1" 400')), { what: `an access-log line for ${id}` });
    const served = parseResponses((await exchangeUnread(open, 'GET /no-host-10 HTTP/1.0\r\n\r\n', [])).data);
    assert.equal(served[0]?.status, 200);
    assert.deepEqual(hits(hitsFile), ['/no-host-10']);
  });
});
