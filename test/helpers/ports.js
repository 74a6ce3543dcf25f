// Free loopback ports, never fixed numbers. They are picked at random BELOW the kernel's ephemeral
// range: a port from listen(0) is in that range, and the kernel hands the same ports to other tests'
// listen(0) calls and, as source ports, to every outgoing connection, so a port chosen there could
// be taken again before keel binds it (seen in clean-clone CI runs). Below the range, only another
// random pick can collide.
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

function ephemeralLow() {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}
const LOW = 10_000;
const HIGH = Math.max(LOW + 1000, ephemeralLow()) - 1;

function tryPort(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(null));
    server.listen({ host, port, exclusive: true }, () => {
      const bound = server.address().port;
      server.close(() => resolve(bound));
    });
  });
}

export async function freePort(host = '127.0.0.1') {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryPort(host, LOW + Math.floor(Math.random() * (HIGH - LOW)));
    if (port !== null) return port;
  }
  const port = await tryPort(host, 0);
  if (port === null) throw new Error(`no free port on ${host}`);
  return port;
}

/** Resolves true once something accepts TCP connections on host:port, false when refused. */
export function connectable(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs `start` (which picks its ports with freePort) again when keel says a port is already in use:
 * a port freePort() returned can be taken by a test running in parallel before keel binds it.
 * At most three attempts in all.
 */
export async function retryIfPortTaken(start) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !/already in use/.test(String(err?.message))) throw err;
    }
  }
}
