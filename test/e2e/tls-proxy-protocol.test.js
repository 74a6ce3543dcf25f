// A load balancer that speaks the PROXY protocol in front of keel terminating TLS: the PROXY header
// comes first in clear, then the TLS handshake on the same connection. The client address is the
// header's, over HTTPS/1.1 and HTTP/2 alike.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeCertificates } from '../helpers/certs.js';
import { startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const ECHO = 'test/fixtures/front-echo.js';

/** A TCP connection that has sent a PROXY v1 header, wrapped in TLS. */
function proxiedTls(port, source, alpn) {
  const raw = netConnect(port, '127.0.0.1');
  raw.write(`PROXY TCP4 ${source} 127.0.0.1 40001 ${port}\r\n`);
  return tlsConnect({ socket: raw, servername: 'localhost', ca: pki.ca.certPem, ALPNProtocols: alpn });
}

const pki = makeCertificates();

describe('--proxy-protocol with TLS binds', () => {
  let keel;
  let port;
  before(async () => {
    const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    port = await freePort();
    keel = await startKeel(ECHO, ['-b', `https://127.0.0.1:${port}`, '--certfile', leaf.cert, '--keyfile', leaf.key, '--proxy-protocol']);
  });
  after(async () => {
    await keel?.stop();
    pki.cleanup();
  });

  it('HTTPS/1.1: the PROXY source is the client address, the scheme https', async () => {
    const socket = proxiedTls(port, '192.0.2.30', ['http/1.1']);
    const text = await new Promise((resolve, reject) => {
      let data = '';
      socket.on('secureConnect', () => socket.write('GET /pp-tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
    });
    assert.match(text, /^HTTP\/1\.1 200/);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    assert.equal(body.keel.clientAddress, '192.0.2.30');
    assert.equal(body.keel.scheme, 'https');
    await waitFor(() => keel.accessLines().some((l) => l.startsWith('192.0.2.30 ') && l.includes('/pp-tls HTTP/1.1')), { what: 'the access line with the PROXY source' });
  });

  it('HTTP/2: the PROXY source is the client address', async () => {
    const session = h2connect(`https://127.0.0.1:${port}`, { createConnection: () => proxiedTls(port, '192.0.2.31', ['h2']) });
    session.on('error', () => {});
    try {
      const body = await new Promise((resolve, reject) => {
        const stream = session.request({ ':path': '/pp-h2' });
        let data = '';
        stream.setEncoding('utf8');
        stream.on('data', (d) => (data += d));
        stream.on('end', () => resolve(JSON.parse(data)));
        stream.on('error', reject);
        stream.setTimeout(5000, () => stream.destroy(new Error('no answer within 5 s')));
      });
      assert.equal(body.keel.clientAddress, '192.0.2.31');
      assert.equal(body.keel.scheme, 'https');
      await waitFor(() => keel.accessLines().some((l) => l.startsWith('192.0.2.31 ') && l.includes('/pp-h2 HTTP/2.0')), { what: 'the HTTP/2 access line with the PROXY source' });
    } finally {
      session.destroy();
    }
  });
});
