// Loopback only: the benchmark never sends traffic anywhere but 127.0.0.1.
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { sleep } from './proc.js';

export const HOST = '127.0.0.1';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

export async function waitForPortFree(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portIsFree(port)) return true;
    await sleep(100);
  }
  return false;
}

// tls: { ca } probes over HTTPS (HTTP/1.1), verifying the served certificate
// against the run's own self-signed one.
function probe(port, tls) {
  return new Promise((resolve) => {
    const opts = { host: HOST, port, path: '/', agent: false, timeout: 1000 };
    const get = tls ? (o, cb) => https.get({ ...o, ca: tls.ca }, cb) : http.get;
    const req = get(opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

// Ready = answers an HTTP request at all. Resolves to the status code, or
// null on timeout or once isDead() says the server process has gone.
export async function waitForHttp(port, { timeoutMs = 15_000, isDead = () => false, tls = null } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isDead()) return null;
    const status = await probe(port, tls);
    if (status !== null) return status;
    await sleep(100);
  }
  return null;
}
