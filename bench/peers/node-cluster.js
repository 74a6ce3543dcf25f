// Baseline: the least a Node app can do to use every core. Anything keel adds
// is measured against this.
import cluster from 'node:cluster';
import http from 'node:http';
import { loadHandler } from './handler.js';

const port = Number(process.env.PORT);
const workers = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    process.exit(0);
  });
  // A silently dead worker would halve the baseline's capacity and flatter
  // every ratio; fail loudly so the harness reports it instead.
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`node-cluster: worker ${worker.process.pid} exited (code ${code}, signal ${signal})`);
    process.exit(1);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const handler = await loadHandler();
  http.createServer(handler).listen(port, '127.0.0.1');
}
