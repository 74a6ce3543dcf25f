// Baseline: the least a Node app can do to use every core. Anything keel adds
// is measured against this.
import cluster from 'node:cluster';
import http from 'node:http';
import { runPrimary } from './cluster-primary.js';
import { loadHandler } from './handler.js';

if (cluster.isPrimary) {
  runPrimary('node-cluster');
} else {
  const handler = await loadHandler();
  http.createServer(handler).listen(Number(process.env.PORT), '127.0.0.1');
}
