// Start/stop for each peer. A start resolves to { port, stop() } once the
// server answers HTTP, or throws StartError carrying the server's output tail.
import path from 'node:path';
import { readFile, readdir, stat, mkdir, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnGroup, stopGroup, killGroup, groupAlive, run, waitUntil, lastLines } from './proc.js';
import { freePort, waitForHttp, waitForPortFree } from './net.js';
import { onCleanup } from './cleanup.js';
import { findBin, GUNICORN } from './tools.js';
import { nginxInfo, nginxConfig } from './nginx.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PEERS = path.join(ROOT, 'bench', 'peers');
const READY_MS = 15_000;

export class StartError extends Error {
  constructor(message, output) {
    super(message);
    this.output = output;
  }
}

// Stack frames crowd out the message; keep the lines a person needs.
function fail(label, detail) {
  const lines = (detail || '(no output)').split('\n').filter((l) => l.trim() && !/^\s+at /.test(l));
  let text = lines.slice(-6).join(' | ').replace(/\s+/g, ' ');
  if (text.length > 240) text = `...${text.slice(-237)}`;
  return new StartError(`${label}: failed to start: ${text}`, lastLines(detail || '', 20));
}

// Children get the same node binary as the harness (the pinned node@24), first
// on PATH too, so anything that re-execs `node` (PM2's daemon) stays on it.
function childEnv(extra) {
  const bin = path.dirname(process.execPath);
  return { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, ...extra };
}

// Shared by every peer that is a plain long-running process group.
// tls: { ca } makes the readiness probe HTTPS; cmd defaults to our node;
// moreOutput() adds to a failed start's output (Nginx logs to a file);
// beforeSpawn(port) writes what the server reads at start (Nginx's config).
async function startGroup(label, args, env, { tls = null, cmd = process.execPath, moreOutput, beforeSpawn } = {}) {
  const port = await freePort();
  await beforeSpawn?.(port);
  const proc = spawnGroup(cmd, args(port), { cwd: ROOT, env: childEnv({ ...env, PORT: String(port) }) });
  const status = await waitForHttp(port, { timeoutMs: READY_MS, isDead: () => proc.exitStatus !== null, tls });
  if (status === null) {
    const why = proc.exitStatus ? '' : `not answering ${tls ? 'HTTPS' : 'HTTP'} on 127.0.0.1:${port} after ${READY_MS / 1000} s\n`;
    await stopGroup(proc);
    throw fail(label, why + proc.tail() + ((await moreOutput?.()) ?? ''));
  }
  let stopping;
  return {
    port,
    status,
    stop: () => (stopping ??= stopGroup(proc).then(() => waitForPortFree(port))),
  };
}

export function startNodeCluster({ handler, workers }) {
  return startGroup('node:cluster', () => [path.join(PEERS, 'node-cluster.js')], {
    BENCH_HANDLER: handler,
    WORKERS: String(workers),
  });
}

// The TLS baselines: the same cluster with node:https or node:http2 workers.
export function startNodeClusterTls({ handler, workers, certs, protocol }) {
  const peer = protocol === 'h2' ? 'node-cluster-h2.js' : 'node-cluster-https.js';
  return startGroup(`node:cluster (${protocol === 'h2' ? 'node:http2' : 'node:https'})`, () => [path.join(PEERS, peer)], {
    BENCH_HANDLER: handler,
    WORKERS: String(workers),
    BENCH_CERT: certs.cert,
    BENCH_KEY: certs.key,
  }, { tls: certs });
}

// keel serves examples/hello/app.ts unless told otherwise: that is the file it
// exists to run. app: null runs routes only (keel's own static files, proxy or
// managed upstream, given as `routes`: ['--static', '/=DIR'], ...).
// certs: serve TLS (HTTP/2 and HTTP/1.1 by ALPN on one port) with these files.
export async function startKeel({ workers, accessLog, certs, app = 'examples/hello/app.ts', routes = [], env = {} }) {
  // bin/keel.js loads the compiled CLI; measuring a missing or stale build would mislead.
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new StartError('keel: failed to start: dist/cli/main.js not found; run `npm run build` first');
  }
  const stale = (await newestMtime(path.join(ROOT, 'src'))) > (await newestMtime(path.join(ROOT, 'dist')));
  const server = await startGroup('keel', (port) => [
    path.join(ROOT, 'bin', 'keel.js'),
    'serve', ...(app ? [app] : []),
    ...routes,
    '--workers', String(workers),
    ...(certs
      ? ['--bind', `https://127.0.0.1:${port}`, '--certfile', certs.cert, '--keyfile', certs.key]
      : ['--bind', `127.0.0.1:${port}`]),
    '--admin', 'off',
    '--access-logfile', accessLog ?? 'off',
  ], env, { tls: certs ?? null });
  if (stale) server.notes = ['src/ is newer than dist/: this measured an old build (npm run build)'];
  return server;
}

async function newestMtime(dir) {
  let newest = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const { mtimeMs } = await stat(path.join(e.parentPath ?? e.path, e.name)).catch(() => ({ mtimeMs: 0 }));
    newest = Math.max(newest, mtimeMs);
  }
  return newest;
}

// Nginx in the foreground as our child (daemon off, master_process on),
// stopped through its process group like every other server. See nginxConfig
// for mode, upstreamPort, keepalive and root; certs: terminate TLS.
// dir: a fresh directory for its config, pid file and logs.
export async function startNginx({ workers, certs, dir, mode, upstreamPort, keepalive, root }) {
  const bin = findBin('nginx');
  if (!bin) throw new StartError('nginx: failed to start: nginx not found (apt-get install -y nginx)');
  const info = await nginxInfo(bin);
  await mkdir(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  const server = await startGroup('nginx', () => ['-p', dir, '-c', conf, ...(info.hasErrorLogFlag ? ['-e', errorLog] : [])], {}, {
    tls: certs ?? null,
    cmd: bin,
    moreOutput: () => readFile(errorLog, 'utf8').then((t) => `\n${t}`, () => ''),
    beforeSpawn: (port) =>
      writeFile(conf, nginxConfig({ dir, port, cert: certs?.cert, key: certs?.key, mode, upstreamPort, keepalive, root, workers, http2Directive: info.http2Directive })),
  });
  server.notes = [info.text];
  return server;
}

// A front (proxy) with its own upstream: starts the upstream, then
// front(upstreamPort); stops the front first, then the upstream. A failure
// on either side stops whatever was started.
export async function withUpstream(label, startUpstream, startFront) {
  const up = await startUpstream();
  let front;
  try {
    front = await startFront(up.port);
  } catch (err) {
    await up.stop();
    throw err;
  }
  let stopping;
  return {
    port: front.port,
    status: front.status,
    upstreamPort: up.port,
    notes: [...(front.notes ?? []), `upstream ${label} on 127.0.0.1:${up.port}`],
    stop: () => (stopping ??= front.stop().then(() => up.stop())),
  };
}

// The proxy rows' upstream: one node:http process serving the handler.
export function startUpstream({ handler }) {
  return startGroup('upstream (node:http)', () => [path.join(PEERS, 'upstream.js')], { BENCH_HANDLER: handler });
}

export function startSendCluster({ workers, root }) {
  return startGroup('send in node:cluster', () => [path.join(PEERS, 'send-cluster.js')], {
    WORKERS: String(workers),
    BENCH_ROOT: root,
  });
}

export function startHttpProxyCluster({ workers, upstreamPort }) {
  return startGroup('http-proxy in node:cluster', () => [path.join(PEERS, 'http-proxy-cluster.js')], {
    WORKERS: String(workers),
    BENCH_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
  });
}

// The least a Node proxy can do (bench/peers/floor-proxy-cluster.js): an upper bound, not a peer.
export function startFloorProxyCluster({ workers, upstreamPort }) {
  return startGroup('floor proxy in node:cluster', () => [path.join(PEERS, 'floor-proxy-cluster.js')], {
    WORKERS: String(workers),
    BENCH_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
  });
}

// Debian's Gunicorn with `workers` sync workers serving flaskApp ({ dir, module,
// name: its proc_name, a token unique to the run }).
// No .pyc files written into the repo.
export const PYTHON_ENV = { PYTHONDONTWRITEBYTECODE: '1' };

/** threads > 0: the gthread worker, which keeps connections alive (the sync worker closes each one). */
export function gunicornArgs({ workers, flaskApp, port, threads = 0 }) {
  return ['-w', String(workers), ...(threads > 0 ? ['--threads', String(threads)] : []), '-b', `127.0.0.1:${port}`, '--chdir', flaskApp.dir, '--name', flaskApp.name, flaskApp.module];
}

export function startGunicorn({ workers, flaskApp, threads = 0 }) {
  if (!existsSync(GUNICORN)) {
    return Promise.reject(new StartError(`gunicorn: failed to start: ${GUNICORN} not found (apt-get install -y gunicorn python3-flask)`));
  }
  return startGroup('gunicorn', (port) => gunicornArgs({ workers, flaskApp, port, threads }), PYTHON_ENV, { cmd: GUNICORN });
}

// PM2 runs a detached daemon that outlives its CLI, so it is stopped with
// `pm2 kill` against a private PM2_HOME (never the user's ~/.pm2), with a kill
// of the daemon's process group as the fallback.
export async function startPm2({ handler, workers, tmpDir }) {
  const port = await freePort();
  const home = path.join(tmpDir, 'pm2-home');
  const env = childEnv({ PM2_HOME: home, PORT: String(port), BENCH_HANDLER: handler });
  const pm2 = (...args) => run(process.execPath, [path.join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { env, cwd: ROOT, timeoutMs: 30_000 });
  let daemonPid = null;
  const readDaemonPid = async () => {
    daemonPid ??= Number(await readFile(path.join(home, 'pm2.pid'), 'utf8').catch(() => '')) || null;
    return daemonPid;
  };
  let stopping;
  const stop = () =>
    (stopping ??= (async () => {
      await readDaemonPid();
      // `pm2 kill` would first launch a daemon if none ran yet (e.g. Ctrl-C very early).
      if (existsSync(home)) await pm2('kill');
      if (daemonPid && groupAlive(daemonPid)) {
        killGroup(daemonPid, 'SIGKILL');
        await waitUntil(() => !groupAlive(daemonPid), 5000);
      }
      await waitForPortFree(port);
      unregister();
    })());
  const unregister = onCleanup(stop, () => daemonPid && killGroup(daemonPid, 'SIGKILL'));

  const started = await pm2('start', path.join(PEERS, 'pm2-app.cjs'), '-i', String(workers), '--name', 'keel-bench-pm2');
  await readDaemonPid();
  const status = started.ok ? await waitForHttp(port, { timeoutMs: READY_MS }) : null;
  // Ready means every instance is listening, not just the first one up.
  let online = [];
  const allOnline = status !== null && (await waitUntil(async () => {
    const { stdout } = await pm2('jlist');
    try {
      online = JSON.parse(stdout).filter((p) => p.pm2_env?.status === 'online');
    } catch {}
    return online.length >= workers;
  }, READY_MS, 250));
  if (!allOnline) {
    const logs = await pm2('logs', '--nostream', '--lines', '20');
    await stop();
    throw fail('pm2', [started.stdout, started.stderr, logs.stdout, logs.stderr].join('\n'));
  }
  // Worth showing: PM2 picks its own interpreter unless told, and should match ours.
  const versions = [...new Set(online.map((p) => p.pm2_env?.node_version))];
  return { port, status, stop, notes: [`PM2 ${pm2Version()}, instances on Node ${versions.join(', ')}`] };
}

function pm2Version() {
  return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'pm2', 'package.json'), 'utf8')).version;
}
