// The primary side shared by the node:cluster peers: fork WORKERS workers,
// exit on SIGTERM, and fail loudly if a worker dies (a silently dead worker
// would halve the baseline's capacity and flatter every ratio).
import cluster from 'node:cluster';

export function runPrimary(label, workers = Number(process.env.WORKERS ?? 2)) {
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    process.exit(0);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`${label}: worker ${worker.process.pid} exited (code ${code}, signal ${signal})`);
    process.exit(1);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
}
