// The floor under any Node proxy, for reading the proxy rows: node:cluster with WORKERS workers,
// each a node:http server that forwards GETs to BENCH_UPSTREAM over raw kept-alive sockets, with
// the least parsing that can work for this benchmark's upstream (a status line, headers, a
// Content-Length or chunked body). No forwarding headers, no hop-by-hop filtering, no timeouts, no retries,
// no streaming, no error handling beyond a 502: nothing a real proxy may leave out. What it
// serves is an upper bound for keel, undici, http-proxy or any other proxy written in Node on
// this machine, not a proxy to use.
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import { runPrimary } from './cluster-primary.js';

if (cluster.isPrimary) {
  runPrimary('floor-proxy-cluster');
} else {
  const upstream = new URL(process.env.BENCH_UPSTREAM);
  const port = Number(upstream.port);
  const idle = [];
  const CRLF2 = Buffer.from('\r\n\r\n');

  /**
   * The body after a head that ends at `start`: Content-Length or chunked, null until it is all
   * there. The head is searched as text; this upstream's are short.
   */
  function bodyOf(buffered, start) {
    const head = buffered.latin1Slice(0, start).toLowerCase();
    const cl = head.indexOf('content-length:');
    if (cl !== -1) {
      const length = Number.parseInt(head.slice(cl + 15), 10);
      return buffered.length >= start + length ? buffered.subarray(start, start + length) : null;
    }
    if (!head.includes('chunked')) return buffered.subarray(start, start);
    const parts = [];
    let at = start;
    for (;;) {
      const line = buffered.indexOf('\r\n', at);
      if (line === -1) return null;
      const size = Number.parseInt(buffered.latin1Slice(at, line), 16);
      if (size === 0) return buffered.length >= line + 4 ? Buffer.concat(parts) : null;
      if (buffered.length < line + 2 + size + 2) return null;
      parts.push(buffered.subarray(line + 2, line + 2 + size));
      at = line + 2 + size + 2;
    }
  }

  /** One upstream connection: one request at a time; `done` gets the parsed answer. */
  function connection() {
    const socket = net.connect(port, upstream.hostname);
    socket.setNoDelay(true);
    let buffered = null;
    socket.done = null;
    socket.on('data', (chunk) => {
      buffered = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(CRLF2);
      if (end === -1) return;
      const body = bodyOf(buffered, end + 4);
      if (body === null) return;
      const head = buffered.latin1Slice(0, end).split('\r\n');
      buffered = null;
      const status = Number(head[0].slice(9, 12));
      const headers = [];
      for (let i = 1; i < head.length; i++) {
        const colon = head[i].indexOf(':');
        const name = head[i].slice(0, colon);
        const lower = name.toLowerCase();
        if (lower === 'content-type') headers.push(name, head[i].slice(colon + 1).trim());
      }
      headers.push('content-length', String(body.length));
      const done = socket.done;
      socket.done = null;
      idle.push(socket);
      done(status, headers, body);
    });
    const fail = () => {
      const at = idle.indexOf(socket);
      if (at !== -1) idle.splice(at, 1);
      socket.done?.(502, [], Buffer.from('bad gateway\n'));
      socket.done = null;
    };
    socket.on('error', fail);
    socket.on('close', fail);
    return socket;
  }

  http
    .createServer((req, res) => {
      const socket = idle.pop() ?? connection();
      socket.done = (status, headers, body) => {
        res.writeHead(status, headers);
        res.end(body);
      };
      socket.write(`${req.method} ${req.url} HTTP/1.1\r\nhost: ${upstream.host}\r\n\r\n`, 'latin1');
    })
    .listen(Number(process.env.PORT), '127.0.0.1');
}
