// Baseline for keel over HTTP/2: node:cluster with 2 workers, each a
// node:http2 secure server with the run's certificate, serving the same
// (req, res) handler through http2's compatibility API. allowHTTP1 matches
// keel, which answers HTTP/1.1 clients on the same port (and lets the
// harness's HTTP/1.1 readiness probe in).
import cluster from 'node:cluster';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { loadHandler } from './handler.js';
import { runPrimary } from './cluster-primary.js';

if (cluster.isPrimary) {
  runPrimary('node-cluster-h2');
} else {
  const handler = await loadHandler();
  const tls = { cert: readFileSync(process.env.BENCH_CERT), key: readFileSync(process.env.BENCH_KEY), allowHTTP1: true };
  http2.createSecureServer(tls, handler).listen(Number(process.env.PORT), '127.0.0.1');
}
