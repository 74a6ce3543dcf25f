// Free loopback ports, chosen by the kernel (port 0), never fixed numbers.
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
