// Connections that open and then send nothing must not hold a worker's socket for long: a TLS client
// that never finishes its handshake, and a silent client on an --h2c port (where keel reads the first
// bytes to tell HTTP/2 from HTTP/1.1), are cut after --header-timeout.
import assert from 'node:assert/strict';
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
  before(async () => {
    const leaf = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    tlsPort = await freePort();
    plainPort = await freePort();
    keel = await startKeel('examples/hello/app.ts', ['-b', `https://127.0.0.1:${tlsPort}`, '-b', `http://127.0.0.1:${plainPort}`, '--h2c', '--certfile', leaf.cert, '--keyfile', leaf.key, '--header-timeout', '1']);
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
});
