// Proxy peer: node-http-proxy in node:cluster with WORKERS workers, each
// forwarding everything to BENCH_UPSTREAM over kept-alive connections (its
// default agent would open a connection per request, which is not how anyone
// should run it).
import cluster from 'node:cluster';
import http from 'node:http';
import httpProxy from 'http-proxy';
import { runPrimary } from './cluster-primary.js';

if (cluster.isPrimary) {
  runPrimary('http-proxy-cluster');
} else {
  const agent = new http.Agent({ keepAlive: true });
  const proxy = httpProxy.createProxyServer({ target: process.env.BENCH_UPSTREAM, agent });
  proxy.on('error', (err, req, res) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway: ${err.code ?? err.message}\n`);
  });
  http.createServer((req, res) => proxy.web(req, res)).listen(Number(process.env.PORT), '127.0.0.1');
}
