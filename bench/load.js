// Load generators. wrk is preferred: it is C, so on a 2-core box it steals far
// less CPU from the server under test than autocannon (Node) does.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFile, rm } from 'node:fs/promises';
import { run, spawnGroup, stopGroup } from './proc.js';

const require = createRequire(import.meta.url);
const WRK_INSTALL = 'apt-get update && apt-get install -y wrk';

function onPath(bin) {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function wrkVersion() {
  const { stdout, stderr } = await run('wrk', ['--version'], { timeoutMs: 5000 });
  const first = (stdout + stderr).split('\n')[0];
  return /^wrk \S+/.exec(first)?.[0] ?? first.trim();
}

export async function chooseLoadTool(prefer = 'wrk') {
  if (prefer === 'wrk' && !onPath('wrk')) {
    if (process.getuid?.() === 0) {
      console.error(`wrk not found; installing: ${WRK_INSTALL}`);
      const r = await run('sh', ['-c', WRK_INSTALL], { timeoutMs: 300_000 });
      if (!r.ok) console.error(`wrk install failed:\n${(r.stdout + r.stderr).trim().split('\n').slice(-5).join('\n')}`);
    } else {
      console.error(`wrk not found and not root; install it with:\n  sudo ${WRK_INSTALL}\nfalling back to autocannon (it competes with the servers for CPU)`);
    }
  }
  if (prefer === 'wrk' && onPath('wrk')) return { name: 'wrk', version: await wrkVersion() };
  const { version } = require('autocannon/package.json');
  // autocannon's histogram counts whole milliseconds, so sub-ms p50s read as 0.
  return { name: 'autocannon', version: `autocannon ${version} (latency in whole ms)` };
}

// protocol 'h2' loads with h2load instead (wrk and autocannon speak only
// HTTP/1.1): `streams` requests in flight on each connection, one thread, and
// every request's latency written to logFile, from which p50/p99 are taken.
export async function runLoad(tool, { url, durationSec, connections, protocol = 'h1', streams = 10, logFile }) {
  const { cmd, args, parse } =
    protocol === 'h2'
      ? {
          cmd: 'h2load',
          args: ['-D', String(durationSec), '-c', String(connections), '-m', String(streams), '-t', '1', '--log-file', logFile, url],
          parse: (out) => parseH2load(out, logFile),
        }
      : tool.name === 'wrk'
      ? { cmd: 'wrk', args: ['-t1', `-c${connections}`, `-d${durationSec}s`, '--latency', url], parse: parseWrk }
      : {
          cmd: process.execPath,
          args: [require.resolve('autocannon/autocannon.js'), '-c', String(connections), '-d', String(durationSec), '-j', url],
          parse: parseAutocannon,
        };
  const proc = spawnGroup(cmd, args);
  // Hard bound in case the tool hangs on a server that stopped answering.
  const timer = setTimeout(() => stopGroup(proc, 1000), (durationSec + 15) * 1000);
  let stdout = '';
  proc.child.stdout.on('data', (c) => (stdout += c));
  const { code, signal } = await proc.exited;
  clearTimeout(timer);
  await stopGroup(proc, 1000);
  if (code !== 0) throw new Error(`${protocol === 'h2' ? 'h2load' : tool.name} exited with ${signal ?? code}: ${proc.tail().trim().split('\n').slice(-3).join(' / ')}`);
  return parse(stdout);
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`wrk: unrecognised latency "${text}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]] * 1000) / 1000;
}

export function parseWrk(out) {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const p50 = /^\s*50%\s+(\S+)/m.exec(out);
  const p99 = /^\s*99%\s+(\S+)/m.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`wrk: could not parse output:\n${out}`);
  const total = /^\s*(\d+) requests in/m.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    p50Ms: toMs(p50[1]),
    p99Ms: toMs(p99[1]),
    requests: total ? Number(total[1]) : null,
    errors: (sock ? sock.slice(1).reduce((a, n) => a + Number(n), 0) : 0),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

export function parseAutocannon(out) {
  const r = JSON.parse(out);
  return {
    rps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    errors: (r.errors ?? 0) + (r.timeouts ?? 0),
    non2xx: r.non2xx ?? 0,
  };
}

// h2load prints req/s and min/max/mean/sd of request time only; the
// percentiles come from its --log-file (start µs, status, elapsed µs per line).
export async function parseH2load(out, logFile) {
  const rps = /^finished in [\d.]+m?s, ([\d.]+) req\/s/m.exec(out);
  const reqs = /^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(out);
  const alpn = /^Application protocol: (\S+)/m.exec(out);
  if (!rps || !reqs) throw new Error(`h2load: could not parse output:\n${out.split('\n').slice(-12).join('\n')}`);
  if (alpn?.[1] !== 'h2') throw new Error(`h2load: server did not negotiate h2 (got ${alpn?.[1] ?? 'no protocol'})`);
  const status = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(out);
  const tls = /^TLS Protocol: (\S+)[\s\S]*?^Cipher: (\S+)/m.exec(out);
  let p50Ms = null;
  let p99Ms = null;
  const text = logFile ? await readFile(logFile, 'latin1').catch(() => '') : '';
  if (logFile) await rm(logFile, { force: true });
  const lines = text.split('\n');
  const us = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const t = line.lastIndexOf('\t');
    if (t > 0) us[n++] = Number(line.slice(t + 1));
  }
  if (n) {
    const sorted = us.subarray(0, n).sort();
    const at = (q) => Math.round(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]) / 1000;
    p50Ms = at(0.5);
    p99Ms = at(0.99);
  } else {
    const mean = /^time for request:\s+\S+\s+\S+\s+(\S+)/m.exec(out);
    if (mean) p50Ms = toMs(mean[1]);
  }
  return {
    rps: Number(rps[1]),
    p50Ms,
    p99Ms,
    requests: Number(reqs[1]),
    // h2load: timeout is a subset of errored, errored of failed (which adds non-2xx).
    errors: Number(reqs[5]),
    non2xx: status ? Number(status[2]) + Number(status[3]) + Number(status[4]) : 0,
    latencyNote: n ? undefined : 'h2load log missing: p50 column is the mean request time',
    negotiated: `${tls ? `${tls[1]} ${tls[2]}, ` : ''}ALPN ${alpn[1]}`,
  };
}
