// The rows of the table, in order. A new scenario (static files, ...) is one
// more entry here plus, if needed, a starter in servers.js. TLS rows carry
// tls: true, protocol ('h1' = HTTPS/1.1 loaded by wrk, 'h2' = HTTP/2 loaded by
// h2load) and needs (binaries the harness installs when missing); their ratios
// are the `comparisons` below, each against its own baseline row.
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { startNodeCluster, startNodeClusterTls, startPm2, startKeel, startNginx } from './servers.js';

const WORKERS = 2;

const accessLogFile = (ctx, id = 'keel') => path.join(ctx.tmpDir, `${id}-access-${ctx.round}.log`);
const nginxDir = (ctx, id) => path.join(ctx.tmpDir, `${id}-${ctx.round}`);

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
  ...['h1', 'h2'].flatMap((protocol) => {
    const label = protocol === 'h2' ? 'HTTP/2' : 'HTTPS/1.1';
    const tls = { group: 'tls', tls: true, protocol, needs: protocol === 'h2' ? ['h2load'] : [] };
    const keelId = `tls-keel-${protocol}`;
    return [
      {
        ...tls,
        id: `tls-node-${protocol}`,
        name: `${protocol === 'h2' ? 'node:http2' : 'node:https'} in node:cluster (${WORKERS} workers), ${label}`,
        start: (ctx) => startNodeClusterTls({ ...ctx, workers: WORKERS, protocol }),
      },
      {
        ...tls,
        id: keelId,
        name: `keel -w ${WORKERS}, access log on (file), ${label}`,
        start: (ctx) => startKeel({ workers: WORKERS, accessLog: accessLogFile(ctx, keelId), certs: ctx.certs }),
        after: async (ctx) => `access log: ${await countLines(accessLogFile(ctx, keelId))} lines`,
      },
      ...[
        { id: `tls-nginx-proxy-${protocol}`, mode: 'proxy', name: `Nginx TLS -> node:cluster http (${WORKERS}+${WORKERS}), ${label}` },
        { id: `tls-nginx-${protocol}`, mode: 'static', name: `Nginx alone (return 200), ${label}` },
      ].map(({ id, mode, name }) => ({
        ...tls,
        needs: [...tls.needs, 'nginx'],
        id,
        name,
        start: (ctx) => startNginx({ ...ctx, workers: WORKERS, mode, dir: nginxDir(ctx, id) }),
        // Nginx logs too (buffered, like keel): count the lines, then drop the files.
        after: async (ctx) => {
          const lines = await countLines(path.join(nginxDir(ctx, id), 'access.log'));
          await rm(nginxDir(ctx, id), { recursive: true, force: true });
          return `access log: ${lines} lines`;
        },
      })),
    ];
  }),
];

// The TLS ratios: `row` req/s divided by `baseline` req/s from the same run.
export const comparisons = ['h1', 'h2'].flatMap((p) => {
  const label = p === 'h2' ? 'HTTP/2' : 'HTTPS/1.1';
  const node = p === 'h2' ? 'node:http2' : 'node:https';
  return [
    { row: `tls-keel-${p}`, baseline: `tls-node-${p}`, label: `${label}: keel / ${node} cluster`, target: 0.95 },
    { row: `tls-keel-${p}`, baseline: `tls-nginx-proxy-${p}`, label: `${label}: keel / Nginx TLS -> node:cluster`, target: 1.2 },
    { row: `tls-keel-${p}`, baseline: `tls-nginx-${p}`, label: `${label}: keel / Nginx alone (ceiling)`, target: null },
  ];
});

// A name selects the row with that id and every row whose id starts with
// name + '-': "keel" is both plain keel rows, "tls" every TLS row, "tls-keel",
// "tls-node", "tls-nginx" (with the proxy rows), "tls-nginx-proxy" their pairs.
export function selectScenarios(names) {
  if (!names) return scenarios;
  const picked = scenarios.filter((s) => names.some((n) => s.id === n || s.id.startsWith(`${n}-`)));
  const unknown = names.filter((n) => !scenarios.some((s) => s.id === n || s.id.startsWith(`${n}-`)));
  if (unknown.length) {
    throw new Error(`unknown --only name(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.id).join(', ')}, keel, tls, tls-keel, tls-node, tls-nginx, tls-nginx-proxy`);
  }
  return picked;
}
