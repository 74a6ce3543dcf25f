// The rows of the table, in order. A new scenario is one more entry here plus,
// if needed, a starter in servers.js. Rows without a group form the plain
// table, each against node:cluster. Every other group (tls, static, proxy,
// flask) gets its own table, and its ratios are the `comparisons` below, each
// one row against its own baseline row from the same run.
// Fields beyond id, name and start(ctx):
//   group, tls, protocol ('h1' = HTTP/1.1 loaded by wrk, 'h2' = HTTP/2 loaded by h2load),
//   needs    outside tools the harness installs when missing (tools.js),
//   path     what the load requests (default /),
//   prepare  functions run once per run before any row, merged into ctx
//            (static files, the upstream's expected answer),
//   expect(ctx)  { body }: one GET of `path` must answer 200 with exactly these
//            bytes before the row is loaded, or the row fails (check.js),
//   after(ctx)   a note once the server has stopped (e.g. log lines written).
import path from 'node:path';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import {
  ROOT, PYTHON_ENV, gunicornArgs, startGunicorn, startHttpProxyCluster, startFloorProxyCluster, startKeel, startNginx,
  startNodeCluster, startNodeClusterTls, startPm2, startSendCluster, startUpstream, withUpstream,
} from './servers.js';
import { fetchOnce } from './check.js';
import { GUNICORN } from './tools.js';

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

// Nginx rows log too (buffered, like keel): count the lines, then drop the files.
async function nginxAfter(ctx, id) {
  const lines = await countLines(path.join(nginxDir(ctx, id), 'access.log'));
  await rm(nginxDir(ctx, id), { recursive: true, force: true });
  return `access log: ${lines} lines`;
}

const keelLogAfter = (id) => async (ctx) => `access log: ${await countLines(accessLogFile(ctx, id))} lines`;

// --- prepared once per run -------------------------------------------------

export const STATIC_FILES = [
  { key: '1k', urlPath: '/file-1k.txt', label: '1 KiB', size: 1024 },
  { key: '100k', urlPath: '/file-100k.bin', label: '100 KiB', size: 100 * 1024 },
];

// The static rows' files, written once per run into the run's temp dir, so
// every server sends the very same bytes: 1 KiB of text, 100 KiB of random
// bytes (incompressible; the load asks for no compression anyway).
async function staticFiles(ctx) {
  const root = path.join(ctx.tmpDir, 'static-root');
  await mkdir(root, { recursive: true });
  // Run as root, Nginx's workers are `nobody`: they must be able to reach the
  // files through the run's private (0700) temp dir.
  await chmod(ctx.tmpDir, 0o711);
  await chmod(root, 0o755);
  const line = 'keel benchmark static file, the same bytes for every server.\n';
  const bodies = {};
  for (const f of STATIC_FILES) {
    const body = f.key === '1k' ? Buffer.from(line.repeat(Math.ceil(f.size / line.length)).slice(0, f.size - 1) + '\n') : randomBytes(f.size);
    await writeFile(path.join(root, f.urlPath.slice(1)), body, { mode: 0o644 });
    bodies[f.urlPath] = body;
  }
  return { staticRoot: root, staticBodies: bodies };
}

// What an upstream answers at / when asked directly: every proxy in front of
// it must pass exactly that through.
async function answerOf(label, start) {
  const server = await start();
  try {
    const r = await fetchOnce(server.port, '/');
    if (r.error || r.status !== 200) throw new Error(`${label} answered ${r.error ?? `HTTP ${r.status}`} at /, not 200`);
    return r.body;
  } finally {
    await server.stop();
  }
}

async function proxyUpstreamAnswer(ctx) {
  return { upstreamBody: await answerOf('upstream (node:http)', () => startUpstream(ctx)) };
}

// The Flask app: examples/flask/app.py once it exists, else the stand-in here.
// A name unique to this run goes on every Gunicorn command line (its
// proc_name), so one that keel leaves behind can be found and killed by pid.
async function flaskSetup(ctx) {
  const example = path.join(ROOT, 'examples', 'flask');
  const flaskApp = existsSync(path.join(example, 'app.py'))
    ? { dir: example, module: 'app:app', label: 'examples/flask/app.py' }
    : { dir: path.join(ROOT, 'bench', 'peers'), module: 'flask_app:app', label: 'bench/peers/flask_app.py (stand-in: examples/flask/app.py not found)' };
  flaskApp.name = `keel-bench-flask-${process.pid}`;
  const flaskBody = await answerOf('gunicorn + Flask', () => startGunicorn({ workers: WORKERS, flaskApp }));
  return { flaskApp, flaskBody };
}

// The Gunicorn that keel --run starts carries its own proc_name (the run's
// token plus "-managed"), so one keel left behind after it stopped can be told
// apart from the Gunicorns the harness runs for the other rows: a paired run has
// those up at the same time. Killed by pid, and reported.
const managedName = (ctx) => `${ctx.flaskApp.name}-managed`;

async function killLeftoverGunicorns(ctx) {
  const found = [];
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    // The other rows' name is a prefix of this one, never the reverse.
    if (cmdline.includes(managedName(ctx))) found.push(Number(entry));
  }
  for (const pid of found) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  return found.length ? `LEFT BEHIND: ${found.length} gunicorn process(es) still running after keel stopped (killed: ${found.join(', ')})` : null;
}

// --- rows ------------------------------------------------------------------

const staticRows = STATIC_FILES.flatMap((f) => {
  const common = { group: 'static', path: f.urlPath, prepare: [staticFiles], expect: (ctx) => ({ body: ctx.staticBodies[f.urlPath] }) };
  const keelId = `static-keel-${f.key}`;
  const nginxId = `static-nginx-${f.key}`;
  return [
    {
      ...common,
      id: keelId,
      name: `keel -w ${WORKERS} --static, access log on (file), ${f.label}`,
      start: (ctx) => startKeel({ workers: WORKERS, app: null, routes: ['--static', `/=${ctx.staticRoot}`], accessLog: accessLogFile(ctx, keelId) }),
      after: keelLogAfter(keelId),
    },
    {
      ...common,
      id: nginxId,
      needs: ['nginx'],
      name: `Nginx (${WORKERS} workers, sendfile, open_file_cache), ${f.label}`,
      start: (ctx) => startNginx({ workers: WORKERS, mode: 'files', root: ctx.staticRoot, dir: nginxDir(ctx, nginxId) }),
      after: (ctx) => nginxAfter(ctx, nginxId),
    },
    {
      ...common,
      id: `static-send-${f.key}`,
      name: `send in node:cluster (${WORKERS} workers), ${f.label}`,
      start: (ctx) => startSendCluster({ workers: WORKERS, root: ctx.staticRoot }),
    },
  ];
});

const proxyCommon = { group: 'proxy', prepare: [proxyUpstreamAnswer], expect: (ctx) => ({ body: ctx.upstreamBody }) };
// Each proxy row starts its own upstream and stops it with the row.
const behindUpstream = (ctx, front) => withUpstream('node:http (1 process)', () => startUpstream(ctx), front);
const proxyRows = [
  {
    ...proxyCommon,
    id: 'proxy-keel',
    name: `keel -w ${WORKERS} --proxy, access log on (file)`,
    start: (ctx) =>
      behindUpstream(ctx, (up) =>
        startKeel({ workers: WORKERS, app: null, routes: ['--proxy', `/=http://127.0.0.1:${up}`], accessLog: accessLogFile(ctx, 'proxy-keel') }),
      ),
    after: keelLogAfter('proxy-keel'),
  },
  {
    ...proxyCommon,
    id: 'proxy-nginx',
    needs: ['nginx'],
    name: `Nginx proxy_pass, upstream keepalive 32 (${WORKERS} workers)`,
    start: (ctx) =>
      behindUpstream(ctx, (up) => startNginx({ workers: WORKERS, mode: 'proxy', upstreamPort: up, keepalive: 32, dir: nginxDir(ctx, 'proxy-nginx') })),
    after: (ctx) => nginxAfter(ctx, 'proxy-nginx'),
  },
  {
    ...proxyCommon,
    id: 'proxy-http-proxy',
    name: `http-proxy in node:cluster (${WORKERS} workers), keep-alive agent`,
    start: (ctx) => behindUpstream(ctx, (up) => startHttpProxyCluster({ workers: WORKERS, upstreamPort: up })),
  },
  {
    ...proxyCommon,
    id: 'proxy-floor',
    name: `floor: raw sockets, least parsing, in node:cluster (${WORKERS} workers)`,
    start: (ctx) => behindUpstream(ctx, (up) => startFloorProxyCluster({ workers: WORKERS, upstreamPort: up })),
  },
];

const flaskCommon = { group: 'flask', needs: ['gunicorn', 'flask'], prepare: [flaskSetup], expect: (ctx) => ({ body: ctx.flaskBody }) };
const behindGunicorn = (ctx, front) => withUpstream(`gunicorn -w ${WORKERS} (sync)`, () => startGunicorn({ workers: WORKERS, flaskApp: ctx.flaskApp }), front);
/** After the --run row: what keel left behind of the Gunicorn it managed. */
const managedAfter = (more) => async (ctx) => {
  const notes = [await more(ctx), await killLeftoverGunicorns(ctx)].filter(Boolean);
  return notes.length ? notes.join('; ') : undefined;
};
const flaskRows = [
  {
    ...flaskCommon,
    id: 'flask-keel-run',
    name: `keel -w ${WORKERS} --run gunicorn (managed), access log on (file)`,
    // keel starts Gunicorn itself: the same command, {port} filled in by keel.
    start: (ctx) =>
      startKeel({
        workers: WORKERS,
        app: null,
        routes: ['--run', [GUNICORN, ...gunicornArgs({ workers: WORKERS, flaskApp: { ...ctx.flaskApp, name: managedName(ctx) }, port: '{port}' })].join(' ')],
        accessLog: accessLogFile(ctx, 'flask-keel-run'),
        env: PYTHON_ENV,
      }),
    after: managedAfter(keelLogAfter('flask-keel-run')),
  },
  {
    ...flaskCommon,
    id: 'flask-keel-proxy',
    name: `keel -w ${WORKERS} --proxy -> gunicorn, access log on (file)`,
    start: (ctx) =>
      behindGunicorn(ctx, (up) =>
        startKeel({ workers: WORKERS, app: null, routes: ['--proxy', `/=http://127.0.0.1:${up}`], accessLog: accessLogFile(ctx, 'flask-keel-proxy') }),
      ),
    after: keelLogAfter('flask-keel-proxy'),
  },
  {
    ...flaskCommon,
    id: 'flask-nginx',
    needs: [...flaskCommon.needs, 'nginx'],
    name: `Nginx proxy_pass -> gunicorn, keepalive 32 (${WORKERS} workers)`,
    start: (ctx) =>
      behindGunicorn(ctx, (up) => startNginx({ workers: WORKERS, mode: 'proxy', upstreamPort: up, keepalive: 32, dir: nginxDir(ctx, 'flask-nginx') })),
    after: (ctx) => nginxAfter(ctx, 'flask-nginx'),
  },
  // The same app under Gunicorn's gthread worker (-w 2 --threads 4), which keeps connections alive:
  // the sync worker closes every connection, so each request costs the proxy a new one.
  {
    ...flaskCommon,
    id: 'flask-gthread-keel-proxy',
    name: `keel -w ${WORKERS} --proxy -> gunicorn gthread, access log on (file)`,
    start: (ctx) =>
      withUpstream(`gunicorn -w ${WORKERS} --threads 4 (gthread)`, () => startGunicorn({ workers: WORKERS, flaskApp: ctx.flaskApp, threads: 4 }), (up) =>
        startKeel({ workers: WORKERS, app: null, routes: ['--proxy', `/=http://127.0.0.1:${up}`], accessLog: accessLogFile(ctx, 'flask-gthread-keel-proxy') }),
      ),
    after: keelLogAfter('flask-gthread-keel-proxy'),
  },
  {
    ...flaskCommon,
    id: 'flask-gthread-nginx',
    needs: [...flaskCommon.needs, 'nginx'],
    name: `Nginx proxy_pass -> gunicorn gthread, keepalive 32 (${WORKERS} workers)`,
    start: (ctx) =>
      withUpstream(`gunicorn -w ${WORKERS} --threads 4 (gthread)`, () => startGunicorn({ workers: WORKERS, flaskApp: ctx.flaskApp, threads: 4 }), (up) =>
        startNginx({ workers: WORKERS, mode: 'proxy', upstreamPort: up, keepalive: 32, dir: nginxDir(ctx, 'flask-gthread-nginx') }),
      ),
    after: (ctx) => nginxAfter(ctx, 'flask-gthread-nginx'),
  },
  {
    ...flaskCommon,
    id: 'flask-gunicorn',
    name: `Gunicorn alone (-w ${WORKERS} sync), no proxy`,
    start: (ctx) => startGunicorn({ workers: WORKERS, flaskApp: ctx.flaskApp }),
  },
];

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
        after: keelLogAfter(keelId),
      },
      {
        ...tls,
        needs: [...tls.needs, 'nginx'],
        id: `tls-nginx-proxy-${protocol}`,
        name: `Nginx TLS -> node:cluster http (${WORKERS}+${WORKERS}), ${label}`,
        start: (ctx) =>
          withUpstream(`node:cluster (${WORKERS} workers)`, () => startNodeCluster({ ...ctx, workers: WORKERS }), (up) =>
            startNginx({ workers: WORKERS, certs: ctx.certs, mode: 'proxy', upstreamPort: up, dir: nginxDir(ctx, `tls-nginx-proxy-${protocol}`) }),
          ),
        after: (ctx) => nginxAfter(ctx, `tls-nginx-proxy-${protocol}`),
      },
      {
        ...tls,
        needs: [...tls.needs, 'nginx'],
        id: `tls-nginx-${protocol}`,
        name: `Nginx alone (return 200), ${label}`,
        start: (ctx) => startNginx({ workers: WORKERS, certs: ctx.certs, mode: 'return', dir: nginxDir(ctx, `tls-nginx-${protocol}`) }),
        after: (ctx) => nginxAfter(ctx, `tls-nginx-${protocol}`),
      },
    ];
  }),
  ...staticRows,
  ...proxyRows,
  ...flaskRows,
];

// Titles of the grouped tables, in print order.
export const GROUPS = {
  tls: 'TLS (same certificate, 2 workers each; HTTPS/1.1 loaded by wrk, HTTP/2 by h2load)',
  static: `Static files (${WORKERS} workers each; GET ${STATIC_FILES.map((f) => f.urlPath).join(' and ')}, no Accept-Encoding)`,
  proxy: `Proxying to one node:http upstream (1 process; it shares the ${WORKERS} cores); proxies ${WORKERS} workers each`,
  flask: `Flask under Gunicorn (-w ${WORKERS}; sync workers unless marked gthread) behind a proxy (${WORKERS} workers each)`,
};

// The grouped tables' ratios: `row` req/s divided by `baseline` req/s from the
// same run, met when >= target. target null: shown for reference only, with
// `info` saying why (a ceiling, the issue's own measurement, ...).
export const comparisons = [
  ...['h1', 'h2'].flatMap((p) => {
    const label = p === 'h2' ? 'HTTP/2' : 'HTTPS/1.1';
    const node = p === 'h2' ? 'node:http2' : 'node:https';
    return [
      { row: `tls-keel-${p}`, baseline: `tls-node-${p}`, label: `${label}: keel / ${node} cluster`, target: 0.95 },
      { row: `tls-keel-${p}`, baseline: `tls-nginx-proxy-${p}`, label: `${label}: keel / Nginx TLS -> node:cluster`, target: 1.2 },
      { row: `tls-keel-${p}`, baseline: `tls-nginx-${p}`, label: `${label}: keel / Nginx alone (ceiling)`, target: null, info: '(ceiling)' },
    ];
  }),
  ...STATIC_FILES.flatMap((f) => [
    { row: `static-keel-${f.key}`, baseline: `static-nginx-${f.key}`, label: `${f.label}: keel / Nginx`, target: f.key === '1k' ? 0.8 : 0.5 },
    { row: `static-keel-${f.key}`, baseline: `static-send-${f.key}`, label: `${f.label}: keel / send cluster`, target: null },
    { row: `static-send-${f.key}`, baseline: `static-nginx-${f.key}`, label: `${f.label}: send cluster / Nginx`, target: null, info: '(reference)' },
  ]),
  // The most a server built on node:http can reach here: bare node:cluster answering the hello app
  // (14 bytes from memory, no file, no log) against Nginx serving the 1 KiB file. A keel figure
  // is only as far from its target as this ceiling allows.
  { row: 'node-cluster', baseline: 'static-nginx-1k', label: '1 KiB ceiling: bare node:cluster hello / Nginx', target: null, info: '(ceiling for node:http)', group: 'static' },
  { row: 'static-keel-1k', baseline: 'node-cluster', label: '1 KiB: keel / bare node:cluster hello', target: null, group: 'static' },
  { row: 'proxy-keel', baseline: 'proxy-nginx', label: 'proxy: keel / Nginx', target: 0.6 },
  { row: 'proxy-keel', baseline: 'proxy-http-proxy', label: 'proxy: keel / http-proxy cluster', target: 3 },
  { row: 'proxy-http-proxy', baseline: 'proxy-nginx', label: 'proxy: http-proxy cluster / Nginx', target: null, info: '(reference)' },
  { row: 'proxy-floor', baseline: 'proxy-nginx', label: 'proxy ceiling: floor Node proxy / Nginx', target: null, info: '(ceiling for a Node proxy)' },
  { row: 'proxy-keel', baseline: 'proxy-floor', label: 'proxy: keel / floor Node proxy', target: null },
  { row: 'flask-keel-run', baseline: 'flask-nginx', label: 'Flask: keel --run / Nginx -> gunicorn', target: 0.95 },
  { row: 'flask-keel-proxy', baseline: 'flask-nginx', label: 'Flask: keel --proxy / Nginx -> gunicorn', target: 0.95 },
  { row: 'flask-gthread-keel-proxy', baseline: 'flask-gthread-nginx', label: 'Flask (gthread): keel --proxy / Nginx', target: 0.95 },
  { row: 'flask-nginx', baseline: 'flask-gunicorn', label: 'Flask: Nginx -> gunicorn / Gunicorn alone', target: null, info: '(reference)' },
].map((c) => ({ ...c, group: c.group ?? scenarioGroup(c.row) }));

function scenarioGroup(id) {
  return scenarios.find((s) => s.id === id)?.group ?? 'http';
}

// A name selects the row with that id and every row whose id starts with
// name + '-': "keel" is both plain keel rows, "tls" every TLS row, "static",
// "proxy" and "flask" their groups, "static-keel", "tls-nginx", ... and so on.
export function selectScenarios(names) {
  if (!names) return scenarios;
  const matches = (s, n) => s.id === n || s.id.startsWith(`${n}-`);
  const picked = scenarios.filter((s) => names.some((n) => matches(s, n)));
  const unknown = names.filter((n) => !scenarios.some((s) => matches(s, n)));
  if (unknown.length) {
    throw new Error(`unknown --only name(s): ${unknown.join(', ')}; known: ${knownNames().join(', ')}`);
  }
  return picked;
}

// Every id and every '-'-prefix of an id that selects more than one row.
export function knownNames() {
  const prefixes = new Set();
  for (const { id } of scenarios) {
    const parts = id.split('-');
    for (let i = 1; i < parts.length; i++) prefixes.add(parts.slice(0, i).join('-'));
  }
  const groups = [...prefixes].filter((p) => scenarios.filter((s) => s.id.startsWith(`${p}-`)).length > 1);
  return [...groups, ...scenarios.map((s) => s.id)];
}
