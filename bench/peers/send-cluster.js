// Static-file peer: the `send` package (what Express's static middleware uses)
// in node:cluster with WORKERS workers, serving BENCH_ROOT at /. No access log,
// like the other Node peers.
import cluster from 'node:cluster';
import http from 'node:http';
import send from 'send';
import { runPrimary } from './cluster-primary.js';

if (cluster.isPrimary) {
  runPrimary('send-cluster');
} else {
  const root = process.env.BENCH_ROOT;
  http
    .createServer((req, res) => {
      const q = req.url.indexOf('?');
      send(req, q === -1 ? req.url : req.url.slice(0, q), { root }).pipe(res);
    })
    .listen(Number(process.env.PORT), '127.0.0.1');
}
