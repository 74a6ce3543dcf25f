// Baseline for keel over HTTPS/1.1: node:cluster with 2 workers, each a plain
// node:https server with the run's certificate, serving the same handler.
import cluster from 'node:cluster';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { loadHandler } from './handler.js';
import { runPrimary } from './cluster-primary.js';

if (cluster.isPrimary) {
  runPrimary('node-cluster-https');
} else {
  const handler = await loadHandler();
  const tls = { cert: readFileSync(process.env.BENCH_CERT), key: readFileSync(process.env.BENCH_KEY) };
  https.createServer(tls, handler).listen(Number(process.env.PORT), '127.0.0.1');
}
