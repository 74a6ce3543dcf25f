// Session resumption across workers: every worker gets the same session ticket keys from the
// primary, so a client that comes back skips the full handshake whichever worker it reaches.
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeCertificates } from '../helpers/certs.js';
import { startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';

/** One HTTP/1.1 request on a new TLS connection, offering `session`; returns what the server said and the new session. */
function requestOnce(port, ca, session) {
  return new Promise((resolve, reject) => {
    let ticket = null;
    let body = '';
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, session, ALPNProtocols: ['http/1.1'] }, () => {
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    // TLS 1.3 tickets arrive after the handshake.
    socket.on('session', (s) => (ticket = s));
    socket.on('data', (d) => (body += d));
    socket.on('end', () => resolve({ reused: socket.isSessionReused(), ticket, body, pid: /x-pid: (\d+)/i.exec(body)?.[1] }));
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
    socket.on('error', reject);
  });
}

describe('TLS session resumption', () => {
  const pki = makeCertificates();
  let keel;
  let port;
  before(async () => {
    const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    port = await freePort();
    keel = await startKeel('test/fixtures/pm-app.js', ['-b', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key], { workers: 2 });
  });
  after(async () => {
    await keel?.stop();
    pki.cleanup();
  });

  it('a returning client resumes its session on whichever worker it reaches', async () => {
    const first = await requestOnce(port, pki.ca.certPem);
    assert.equal(first.reused, false);
    assert.ok(first.ticket, 'the server sent a session ticket');
    const pids = new Set();
    let session = first.ticket;
    for (let i = 0; i < 12; i++) {
      const next = await requestOnce(port, pki.ca.certPem, session);
      assert.equal(next.reused, true, `connection ${i + 2} resumed its session`);
      assert.match(next.body, /^HTTP\/1\.1 200/);
      if (next.pid) pids.add(next.pid);
      session = next.ticket ?? session;
    }
    // Fresh connections are spread over the workers by the primary, so both issued and accepted tickets.
    assert.equal(pids.size, 2, `resumed on both workers (saw ${[...pids].join(', ')})`);
  });
});
