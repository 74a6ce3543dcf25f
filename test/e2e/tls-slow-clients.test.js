// Connections that open and then send nothing must not hold a worker's socket for long: a TLS client
// that never finishes its handshake, and a silent client on an --h2c port (where keel reads the first
// bytes to tell HTTP/2 from HTTP/1.1), are cut after --header-timeout.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { makeCertificates } from '../helpers/certs.js';
import { startKeel } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';

/** Opens a TCP connection, optionally sends `bytes`, and resolves with how long the server took to close it. */
function closedAfter(port, bytes, limitMs = 10_000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => {
      if (bytes) socket.write(bytes);
    });
    socket.resume();
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${limitMs} ms`));
    }, limitMs);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(Date.now() - started);
    });
    socket.on('error', () => {});
  });
}

describe('silent connections on TLS and h2c binds', () => {
  const pki = makeCertificates();
  let keel;
  let tlsPort;
  let plainPort;
  let ca;
  before(async () => {
    const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    tlsPort = await freePort();
    plainPort = await freePort();
    keel = await startKeel('examples/hello/app.ts', ['-b', `https://127.0.0.1:${tlsPort}`, '-b', `http://127.0.0.1:${plainPort}`, '--h2c', '--certfile', leaf.cert, '--keyfile', leaf.key, '--header-timeout', '1', '--keep-alive', '2']);
    ca = pki.ca.certPem;
  });
  after(async () => {
    await keel?.stop();
    pki.cleanup();
  });

  it('a TLS connection that never sends its ClientHello is closed after --header-timeout', async () => {
    const ms = await closedAfter(tlsPort);
    assert.ok(ms >= 800 && ms < 5000, `closed after ${ms} ms`);
  });

  it('a TLS handshake left half-done is closed after --header-timeout', async () => {
    // The first bytes of a TLS record header, and nothing more.
    const ms = await closedAfter(tlsPort, Buffer.from([0x16, 0x03, 0x01, 0x02]));
    assert.ok(ms >= 800 && ms < 5000, `closed after ${ms} ms`);
  });

  it('a silent connection on an --h2c port is closed after --header-timeout', async () => {
    const ms = await closedAfter(plainPort);
    assert.ok(ms >= 800 && ms < 5000, `closed after ${ms} ms`);
  });

  it('an idle HTTP/2 connection is closed after --keep-alive, once its streams are done', async () => {
    const session = h2connect(`https://127.0.0.1:${tlsPort}`, { ca, servername: 'localhost' });
    session.on('error', () => {});
    const started = Date.now();
    const closed = new Promise((resolve) => session.on('close', () => resolve(Date.now() - started)));
    const status = await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      stream.on('response', (headers) => resolve(headers[':status']));
      stream.on('error', reject);
      stream.setTimeout(5000, () => stream.destroy(new Error('no answer within 5 s')));
      stream.resume();
    });
    assert.equal(status, 200);
    const guard = new Promise((_, reject) => setTimeout(() => reject(new Error('the idle session was never closed')), 10_000).unref());
    const ms = await Promise.race([closed, guard]);
    assert.ok(ms >= 1500, `closed after ${ms} ms, before --keep-alive`);
  });
});
