// The rows of the table, in order. A new scenario (TLS, static files, proxying
// behind Nginx...) is one more entry here plus, if needed, a starter in servers.js.
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { startNodeCluster, startPm2, startKeel } from './servers.js';

const WORKERS = 2;

const accessLogFile = (ctx) => path.join(ctx.tmpDir, `keel-access-${ctx.round}.log`);

async function countLines(file) {
  let n = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
    }
  } catch {
    return 'no file,';
  }
  // Hundreds of MB over several rounds otherwise; only the count matters.
  await rm(file, { force: true });
  return n;
}

export const BASELINE = 'node-cluster';

export const scenarios = [
  {
    id: 'node-cluster',
    name: `node:cluster (${WORKERS} workers)`,
    start: (ctx) => startNodeCluster({ ...ctx, workers: WORKERS }),
  },
  {
    id: 'pm2',
    name: `pm2 -i ${WORKERS}`,
    start: (ctx) => startPm2({ ...ctx, workers: WORKERS }),
  },
  {
    id: 'keel-log-on',
    name: `keel -w ${WORKERS}, access log on (file)`,
    start: (ctx) => startKeel({ workers: WORKERS, accessLog: accessLogFile(ctx) }),
    // Proves the "on" row really logged: a run that wrote nothing is not a log-on run.
    after: async (ctx) => `access log: ${await countLines(accessLogFile(ctx))} lines`,
  },
  {
    id: 'keel-log-off',
    name: `keel -w ${WORKERS}, access log off`,
    start: () => startKeel({ workers: WORKERS, accessLog: 'off' }),
  },
];

// "keel" selects every keel-* row; otherwise ids must match exactly.
export function selectScenarios(names) {
  if (!names) return scenarios;
  const picked = scenarios.filter((s) => names.some((n) => s.id === n || s.id.startsWith(`${n}-`)));
  const unknown = names.filter((n) => !scenarios.some((s) => s.id === n || s.id.startsWith(`${n}-`)));
  if (unknown.length) {
    throw new Error(`unknown --only name(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.id).join(', ')}, keel`);
  }
  return picked;
}
