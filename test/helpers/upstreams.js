// Real upstream servers for the proxy tests: plain node:http servers in the test process, on free
// loopback ports, each counting the requests it got and echoing what it saw as JSON.
import { createServer } from 'node:http';

/**
 * Starts an upstream. `handler(req, res, upstream)` may answer itself; by default the upstream
 * answers 200 with JSON { name, method, url, headers, body } after reading the whole body.
 * Returns { name, url, port, server, requests (array of { method, url, headers }), count, close() }.
 */
export function startUpstream(name, handler = null, { host = '127.0.0.1', path = null } = {}) {
  const upstream = { name, requests: [], server: null, url: '', port: 0, sockets: new Set() };
  const server = createServer((req, res) => {
    upstream.requests.push({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders });
    if (handler) return handler(req, res, upstream);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyLength: body.length, body: body.length < 4096 ? body.toString() : '' }));
    });
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (s) => {
    upstream.sockets.add(s);
    s.on('close', () => upstream.sockets.delete(s));
  });
  upstream.server = server;
  Object.defineProperty(upstream, 'count', { get: () => upstream.requests.length });
  /** Stops listening and cuts every open connection (an upstream that dies). */
  upstream.close = () =>
    new Promise((resolve) => {
      for (const s of upstream.sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      if (path) {
        upstream.url = `unix:${path}`;
      } else {
        upstream.port = server.address().port;
        upstream.url = `http://${host}:${upstream.port}`;
      }
      resolve(upstream);
    };
    if (path) server.listen(path, onListening);
    else server.listen({ host, port: 0 }, onListening);
  });
}
