// Managed upstream apps, black-box (issue 5, point 4): `keel serve --run "CMD {port}" --instances N`
// and config-file routes with `run`. keel starts the instances, proxies to them, logs their output
// tagged, restarts a killed one, replaces them one at a time on HUP without a failed request, and
// stops them on TERM leaving no process behind. A tiny Node server is the fast upstream; Gunicorn
// with a Flask app (Debian packages) is the real one.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ROOT, isAlive, runKeel, startKeel, statFields, tempDir } from '../helpers/keel.js';
import { startLoad } from '../helpers/load.js';
import { sleep, waitFor } from '../helpers/wait.js';

const SERVER = join(ROOT, 'test/fixtures/run-server.js');
const NODE_RUN = `${process.execPath} ${SERVER} {port}`;
const FLASK_DIR = join(ROOT, 'examples/flask');
const GUNICORN = '/usr/bin/gunicorn';

async function get(url) {
  const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: res.statusCode === 200 && text.startsWith('{') ? JSON.parse(text) : null };
}

/** The instance pids keel says serve now, by instance name (from "upstream listening/replaced" lines of its error log). */
function servingPids(keel) {
  const byName = new Map();
  for (const line of keel.errorLog()) {
    if (line.msg === 'upstream listening' || line.msg === 'upstream listening again' || line.msg === 'upstream replaced') {
      byName.set(`${line.route} ${line.upstream}`, line.upstream_pid);
    }
  }
  return [...byName.values()];
}

/** Processes whose command line holds `marker` (to find leftovers of a keel that is gone). */
function processesWith(marker) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {}
  }
  return found;
}

function parentOf(pid) {
  return Number(statFields(pid)?.[1]);
}

/** Distinct values of `pick(json)` over `n` requests, each on a fresh connection so balancing is visible. */
async function distinct(url, n, pick) {
  const seen = new Set();
  for (let i = 0; i < n; i++) {
    const res = await get(url);
    assert.equal(res.status, 200, `GET ${url}: ${res.status} ${res.text.slice(0, 200)}`);
    seen.add(pick(res.json));
  }
  return seen;
}

describe('--run with --instances 2 and no APP', () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '2', '--graceful-timeout', '5'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('starts two instances, each on its own loopback port with PORT set, and balances across both', async () => {
    const pids = servingPids(keel);
    assert.equal(pids.length, 2, 'two instances listening');
    for (const pid of pids) assert.ok(isAlive(pid));
    const seen = new Map();
    for (let i = 0; i < 20; i++) {
      const res = await get(`${keel.url}/hello`);
      assert.equal(res.status, 200, res.text);
      seen.set(res.json.pid, res.json);
    }
    assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), 'both instances answered, and only they');
    for (const answer of seen.values()) {
      assert.match(answer.where, /^127\.0\.0\.1:\d+$/);
      assert.equal(answer.envPort, answer.where.split(':')[1], 'PORT holds the port {port} was replaced with');
    }
  });

  it('writes an access-log line per proxied request', async () => {
    await get(`${keel.url}/access-marker`);
    await waitFor(() => keel.accessLines().some((l) => l.includes('GET /access-marker')), { what: 'the access-log line' });
  });

  it("logs the instances' stdout and stderr in keel's error log, one record per line, tagged", () => {
    const lines = keel.errorLog().filter((l) => l.upstream);
    for (const name of ['node#1', 'node#2']) {
      const out = lines.find((l) => l.upstream === name && l.stream === 'stdout' && l.msg.startsWith('run-server: listening on 127.0.0.1:'));
      const err = lines.find((l) => l.upstream === name && l.stream === 'stderr' && /^run-server: hello on stderr from \d+$/.test(l.msg));
      assert.ok(out, `${name}'s stdout line`);
      assert.ok(err, `${name}'s stderr line`);
      assert.equal(out.level, 'info');
      assert.equal(err.level, 'warning');
      assert.equal(err.upstream_pid, Number(err.msg.split(' ').pop()), 'tagged with the pid of the instance that wrote it');
      assert.equal(err.route, '/');
      assert.ok(lines.some((l) => l.upstream === name && l.msg === 'run-server: start check HEAD /'), 'keel waited for an HTTP answer');
    }
  });
});

describe('a killed instance', () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '2'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('is restarted with a new pid while the other serves every request', async () => {
    const [victim, survivor] = servingPids(keel);
    const load = startLoad(keel.url, { connections: 2, maxMs: 20_000, path: '/during-kill' });
    await sleep(300);
    process.kill(victim, 'SIGKILL');
    await waitFor(() => keel.errorLog().some((l) => l.msg === 'upstream listening again'), { timeout: 10_000, what: 'the killed instance to listen again' });
    await sleep(300);
    const result = await load.stop();
    const crash = keel.errorLog().find((l) => l.msg.startsWith('upstream exited unexpectedly'));
    assert.ok(crash, 'the exit is logged as unexpected');
    assert.equal(crash.upstream_pid, victim);
    assert.equal(crash.signal, 'SIGKILL');
    assert.match(crash.msg, /\(killed by SIGKILL\); restarting it in 0\.1 s$/);
    const pids = servingPids(keel);
    assert.equal(pids.length, 2);
    assert.ok(pids.includes(survivor), 'the other instance was left alone');
    assert.ok(!pids.includes(victim), 'the killed one was replaced by a new process');
    assert.ok(result.ok > 0);
    assert.equal(result.failed, 0, `no request failed while one instance was down: ${JSON.stringify(result)}\n${keel.errorLog().filter((l) => l.role === 'worker' || l.msg.startsWith('upstream')).map((l) => JSON.stringify(l)).join('\n')}`);
    const seen = await distinct(keel.url, 12, (j) => j.pid);
    assert.equal(seen.size, 2, 'the restarted instance takes requests again');
  });
});

describe('an instance that keeps crashing', () => {
  let keel;
  before(async () => {
    // The first start succeeds (it listens), then every instance exits 150 ms later, again and again.
    keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '1'], { workers: 1, env: { RUN_SERVER_MODE: 'crash' } });
  });
  after(() => keel?.stop());

  it('is restarted with a delay that doubles, and keel itself stays up', async () => {
    // On a loaded machine an instance can also die before it answers a restart's probe ("could not be
    // started"): that takes the next step of the same backoff, so both kinds of line count.
    const restarts = () => keel.errorLog().filter((l) => l.msg.startsWith('upstream exited unexpectedly') || l.msg === 'upstream could not be started');
    await waitFor(() => restarts().length >= 5, { timeout: 15_000, what: 'five crashes' });
    const delays = restarts().map((l) => l.restart_in_s);
    assert.deepEqual(delays.slice(0, 5), [0.1, 0.2, 0.4, 0.8, 1.6]);
    assert.equal(keel.exit, null);
    assert.equal(await keel.readyz(), 200, "keel's own workers are fine");
  });
});

describe('HUP with a steady request loop', () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '2', '--graceful-timeout', '5'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('replaces every instance, one at a time, with zero failed requests', async () => {
    const before = servingPids(keel);
    const load = startLoad(keel.url, { connections: 4, maxMs: 30_000, path: '/during-reload' });
    await sleep(300);
    keel.signal('SIGHUP');
    await waitFor(() => keel.errorLog().filter((l) => l.msg === 'upstream replaced').length === 2, { timeout: 20_000, what: 'both instances replaced' });
    await waitFor(() => keel.errorLog().some((l) => l.msg.startsWith('reload complete')), { timeout: 20_000, what: 'the reload to complete' });
    await sleep(300);
    const result = await load.stop();
    const after = servingPids(keel);
    assert.equal(after.length, 2);
    for (const pid of after) assert.ok(!before.includes(pid), 'a new process for every instance');
    for (const pid of before) await waitFor(() => !isAlive(pid), { timeout: 10_000, what: `old instance ${pid} to exit` });
    const drained = keel.errorLog().filter((l) => l.upstream && /SIGTERM received by \d+, draining/.test(l.msg)).map((l) => l.upstream_pid);
    assert.deepEqual(drained.sort(), [...before].sort(), 'the old ones got SIGTERM (a graceful stop), not SIGKILL');
    // One at a time: the second replacement started only after the first old instance was told to stop.
    const log = keel.errorLog();
    const firstReplaced = log.find((l) => l.msg === 'upstream replaced').replaces_pid;
    const firstStop = log.findIndex((l) => l.upstream_pid === firstReplaced && /SIGTERM received/.test(l.msg));
    const secondReplaced = log.findLastIndex((l) => l.msg === 'upstream replaced');
    assert.ok(firstStop >= 0 && firstStop < secondReplaced, 'replacements happen one after another');
    assert.ok(result.ok > 20, `the loop ran: ${JSON.stringify(result)}`);
    assert.equal(result.failed, 0, `no failed request during the reload: ${JSON.stringify(result)}`);
    const seen = await distinct(keel.url, 12, (j) => j.pid);
    assert.deepEqual([...seen].sort(), [...after].sort(), 'the new instances serve');
  });
});

describe('HUP with a changed config file', () => {
  let keel;
  let dir;
  const writeConfig = (routes) => writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ routes }));
  before(async () => {
    dir = tempDir();
    writeConfig([{ path: '/py', run: `${NODE_RUN} v1`, instances: 2 }]);
    keel = await startKeel(null, ['--graceful-timeout', '5'], { workers: 1, cwd: dir });
  });
  after(() => keel?.stop());

  const reloads = () => keel.errorLog().filter((l) => l.msg.startsWith('reload complete')).length;

  it('a new command and instance count: every instance runs the new command, one more of them, no failed request', async () => {
    const load = startLoad(keel.url, { connections: 2, maxMs: 30_000, path: '/py/during-reload' });
    await sleep(200);
    writeConfig([{ path: '/py', run: `${NODE_RUN} v2`, instances: 3 }]);
    keel.signal('SIGHUP');
    await waitFor(() => reloads() === 1, { timeout: 20_000, what: 'the reload to complete' });
    await waitFor(() => servingPids(keel).length === 3, { timeout: 10_000, what: 'a third instance' });
    const result = await load.stop();
    assert.equal(result.failed, 0, JSON.stringify(result));
    const answers = new Map();
    for (let i = 0; i < 15; i++) {
      const res = await get(`${keel.url}/py/x`);
      answers.set(res.json.pid, res.json.args);
    }
    assert.equal(answers.size, 3, 'three instances serve');
    for (const args of answers.values()) assert.equal(args.at(-1), 'v2', 'each runs the new command');
  });

  it('a replacement that cannot start: the running instances keep serving, and the error is logged', async () => {
    const serving = servingPids(keel).sort();
    writeConfig([{ path: '/py', run: 'false {port}', instances: 3 }]);
    keel.signal('SIGHUP');
    await waitFor(() => reloads() === 2, { timeout: 20_000, what: 'the reload to complete' });
    const failure = await waitFor(() => keel.errorLog().find((l) => /^reload: routes \/py run: false#1 \("false \{port\}"\) exited \(exit code 1\) before it answered.*; keeping the running instance$/.test(l.msg)), {
      what: "the replacement's failure in the log",
    });
    assert.equal(failure.level, 'error');
    assert.deepEqual(servingPids(keel).sort(), serving, 'the same instances serve');
    const seen = await distinct(`${keel.url}/py/x`, 12, (j) => j.pid);
    assert.deepEqual([...seen].sort(), serving);
    // A crash restart afterwards still uses the command that works.
    process.kill(serving[0], 'SIGKILL');
    const again = await waitFor(() => keel.errorLog().find((l) => l.msg === 'upstream listening again'), { timeout: 10_000, what: 'the restart' });
    const res = await waitFor(async () => {
      const r = await get(`${keel.url}/py/x`);
      return r.json?.pid === again.upstream_pid ? r : null;
    }, { what: 'an answer from the restarted instance' });
    assert.equal(res.json.args.at(-1), 'v2');
  });

  it('a route the new config drops is stopped; one it adds is started', async () => {
    const old = servingPids(keel);
    writeConfig([{ path: '/other', run: `${NODE_RUN} v3`, instances: 1 }]);
    keel.signal('SIGHUP');
    await waitFor(() => reloads() === 3, { timeout: 20_000, what: 'the reload to complete' });
    for (const pid of old) await waitFor(() => !isAlive(pid), { timeout: 10_000, what: `the /py instance ${pid} to stop` });
    // A kept-alive connection may still reach an old worker (draining, with the old routes) for a moment.
    const res = await waitFor(async () => {
      const r = await get(`${keel.url}/other/x`);
      return r.status === 200 ? r : null;
    }, { what: '/other to answer 200' });
    assert.equal(res.json.args.at(-1), 'v3');
    assert.ok(keel.errorLog().some((l) => l.msg === 'reload: the route is gone; stopping its upstreams' && l.route === '/py'));
  });
});

describe('TERM', () => {
  it('stops every instance with SIGTERM after the workers drained, exits 0, leaves no process behind', async (t) => {
    const keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '2'], { workers: 2 });
    t.after(() => keel.stop());
    const instances = servingPids(keel);
    const everything = keel.descendantPids();
    assert.ok(everything.length >= 4, 'two workers and two instances');
    keel.signal('SIGTERM');
    const exit = await keel.waitExit(15_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    for (const pid of everything) assert.ok(!isAlive(pid), `process ${pid} is gone`);
    const log = keel.errorLog();
    for (const pid of instances) assert.ok(log.some((l) => l.upstream_pid === pid && /SIGTERM received/.test(l.msg)), `instance ${pid} got SIGTERM`);
    const lastWorkerExit = log.findLastIndex((l) => l.msg.startsWith('worker exited'));
    const firstUpstreamTerm = log.findIndex((l) => /SIGTERM received/.test(l.msg ?? ''));
    assert.ok(lastWorkerExit < firstUpstreamTerm, 'the instances are stopped only once the workers drained');
  });

  it('in the middle of a HUP: keel still exits 0 and leaves no process behind', async (t) => {
    const keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '2'], { workers: 1 });
    t.after(() => keel.stop());
    keel.signal('SIGHUP');
    await waitFor(() => keel.errorLog().some((l) => l.msg === 'upstream replaced'), { timeout: 10_000, what: 'the first replacement' });
    const everything = keel.descendantPids();
    keel.signal('SIGTERM');
    assert.deepEqual(await keel.waitExit(15_000), { code: 0, signal: null });
    for (const pid of everything) await waitFor(() => !isAlive(pid), { timeout: 5000, what: `process ${pid} to be gone` });
  });

  it('an instance that ignores SIGTERM is killed after --graceful-timeout', async (t) => {
    const dir = tempDir();
    const stubborn = join(dir, 'stubborn.js');
    writeFileSync(
      stubborn,
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));\nrequire('node:http').createServer((q, s) => s.end('x')).listen(Number(process.argv[2]), '127.0.0.1');\n",
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
    const keel = await startKeel(null, ['--run', `${process.execPath} ${stubborn} {port}`, '--graceful-timeout', '1'], { workers: 1 });
    t.after(() => keel.stop());
    const [pid] = servingPids(keel);
    keel.signal('SIGTERM');
    const exit = await keel.waitExit(15_000);
    assert.equal(exit.code, 0);
    assert.ok(!isAlive(pid));
    const log = keel.errorLog();
    assert.ok(log.some((l) => l.msg === 'ignoring SIGTERM'));
    assert.ok(log.some((l) => l.msg === 'upstream did not stop in time; killing it'));
    assert.ok(log.some((l) => l.upstream_pid === pid && l.signal === 'SIGKILL'));
  });
});

describe("keel's primary killed with SIGKILL", { skip: !existsSync('/usr/bin/setpriv') && 'no setpriv (util-linux)' }, () => {
  it('takes its instances with it: the kernel sends them SIGTERM (setpriv --pdeathsig)', async (t) => {
    const keel = await startKeel(null, ['--run', NODE_RUN, '--instances', '2'], { workers: 1 });
    t.after(() => keel.stop());
    const instances = servingPids(keel);
    assert.equal(instances.length, 2);
    process.kill(keel.pid, 'SIGKILL');
    await keel.waitExit();
    for (const pid of instances) await waitFor(() => !isAlive(pid), { timeout: 5000, what: `instance ${pid} to die with keel` });
  });
});

describe('an instance that cannot start', () => {
  it('exits at once: exit status 2 and one clear line with its last output, before anything listens', async () => {
    const marker = `marker-exit-${process.pid}`;
    const res = await runKeel(['serve', '--run', `${NODE_RUN} ${marker}`, '--instances', '2', '--bind', '127.0.0.1:0', '--admin', 'off'], { env: { RUN_SERVER_MODE: 'exit' } });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /^keel: --run: node#\d \(".*run-server\.js \{port\} marker-exit-\d+"\) exited \(exit code 3\) before it answered on 127\.0\.0\.1:\d+; its last output: run-server: refusing to start/m);
    assert.ok(!res.stderr.includes(' · production mode · '), 'keel never started serving');
    assert.deepEqual(processesWith(marker), []);
  });

  it('never listens: exit status 2 after --run-start-timeout, and the instance is killed', async () => {
    const marker = `marker-silent-${process.pid}`;
    const res = await runKeel(['serve', '--run', `${NODE_RUN} ${marker}`, '--run-start-timeout', '1', '--bind', '127.0.0.1:0', '--admin', 'off'], {
      env: { RUN_SERVER_MODE: 'silent' },
    });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /^keel: --run: node#1 \(.*\) did not answer HTTP on 127\.0\.0\.1:\d+ within 1 s \(--run-start-timeout\)/m);
    assert.deepEqual(processesWith(marker), []);
  });

  it('a port another process took first is not taken for the instance: exit status 2 naming it, nothing proxied there', async () => {
    // The fixture starts a decoy HTTP server on the {port} keel picked, outside its own process group,
    // and never listens itself: the decoy answers keel's start check, but it is not the instance.
    const marker = `marker-squatted-${process.pid}`;
    try {
      const res = await runKeel(['serve', '--run', `${NODE_RUN} ${marker}`, '--bind', '127.0.0.1:0', '--admin', 'off'], {
        env: { RUN_SERVER_MODE: 'squatted' },
      });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /^keel: --run: node#1 \(.*\) cannot have 127\.0\.0\.1:\d+: another process listens there/m);
    } finally {
      for (const pid of processesWith(marker)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  });

  it('a command that is not found says so', async () => {
    const res = await runKeel(['serve', '--run', 'no-such-server-keel-test --port {port}', '--bind', '127.0.0.1:0', '--admin', 'off']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /^keel: --run: no-such-server-keel-test#1 .* exited \(exit code 127\) .*not found/m);
  });
});

describe('{socket}', () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--run', `${process.execPath} ${SERVER} --socket {socket}`, '--instances', '2'], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    // stop() kills keel with SIGKILL, so keel could not remove its socket directory itself.
    const listening = keel?.errorLog().find((l) => l.msg === 'upstream listening');
    if (listening) rmSync(dirname(listening.target.slice('unix:'.length)), { recursive: true, force: true });
  });

  it('runs each instance on its own unix socket in a private directory, and proxies to it', async () => {
    const sockets = await distinct(keel.url, 10, (j) => j.where);
    assert.equal(sockets.size, 2);
    for (const socket of sockets) {
      assert.match(socket, /\/keel-run-[^/]+\/node-\d-\d+\.sock$/);
      assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700, 'only keel’s user may reach the sockets');
      assert.ok(statSync(socket).isSocket());
    }
    const res = await get(`${keel.url}/x`);
    assert.equal(res.json.envPort, null, 'no PORT for a socket instance');
  });
});

describe('a config-file route with run and instances, beside an APP', () => {
  let keel;
  before(async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'app.mjs'), "export default (req, res) => res.end('from the app\\n');\n");
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ app: 'app.mjs', routes: [{ path: '/py', run: NODE_RUN, instances: 2, health: '/healthz' }] }));
    keel = await startKeel(null, [], { workers: 1, cwd: dir });
  });
  after(() => keel?.stop());

  it('sends /py to the two instances and everything else to the app', async () => {
    const pids = await distinct(`${keel.url}/py/hello`, 10, (j) => j.pid);
    assert.equal(pids.size, 2);
    const app = await get(`${keel.url}/other`);
    assert.equal(app.text, 'from the app\n');
    const tagged = keel.errorLog().filter((l) => l.upstream && l.route === '/py');
    assert.ok(tagged.some((l) => l.upstream === 'node#2'), 'output tagged with the route');
    assert.ok(tagged.some((l) => l.msg === 'run-server: start check HEAD /healthz'), "the start check asked for the route's health path");
  });
});

describe('Flask under Gunicorn as a managed upstream', { skip: !existsSync(GUNICORN) && 'gunicorn is not installed' }, () => {
  let keel;
  before(async () => {
    keel = await startKeel(null, ['--run', `${GUNICORN} -w 1 -b 127.0.0.1:{port} --chdir ${FLASK_DIR} app:app`, '--instances', '2', '--graceful-timeout', '10'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('serves GET / from both Gunicorn masters through keel, with Gunicorn\'s log lines tagged at their own level', async () => {
    const res = await get(`${keel.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.text, 'Hello from Flask\n');
    const workers = await distinct(`${keel.url}/whoami`, 12, (j) => j.pid);
    const masters = [...workers].map(parentOf);
    assert.deepEqual(masters.sort(), servingPids(keel).sort(), 'the answers came from the Gunicorn workers of both masters keel started');
    const booting = keel.errorLog().find((l) => l.upstream === 'gunicorn#1' && /\[INFO\] Booting worker/.test(l.msg));
    assert.ok(booting, "Gunicorn's INFO lines");
    assert.equal(booting.level, 'info', 'logged at their own level, not as warnings for being on stderr');
  });

  it('HUP under load: new Gunicorn masters, zero failed requests; TERM leaves no Gunicorn worker behind', async () => {
    const before = servingPids(keel);
    const load = startLoad(keel.url, { connections: 3, maxMs: 40_000, path: '/whoami' });
    await sleep(300);
    keel.signal('SIGHUP');
    await waitFor(() => keel.errorLog().filter((l) => l.msg === 'upstream replaced').length === 2, { timeout: 30_000, what: 'both Gunicorn instances replaced' });
    await sleep(300);
    const result = await load.stop();
    assert.ok(result.ok > 10, JSON.stringify(result));
    assert.equal(result.failed, 0, `no failed request: ${JSON.stringify(result)}`);
    const after = servingPids(keel);
    for (const pid of after) assert.ok(!before.includes(pid));
    const everything = keel.descendantPids();
    assert.ok(everything.length >= 6, 'keel workers, Gunicorn masters and their workers');
    keel.signal('SIGTERM');
    assert.deepEqual(await keel.waitExit(20_000), { code: 0, signal: null });
    for (const pid of everything) await waitFor(() => !isAlive(pid), { timeout: 5000, what: `process ${pid} to be gone` });
  });
});

describe('Gunicorn: HUP after the app broke', { skip: !existsSync(GUNICORN) && 'gunicorn is not installed' }, () => {
  let keel;
  let dir;
  before(async () => {
    dir = tempDir();
    writeFileSync(join(dir, 'app.py'), readFileSync(join(FLASK_DIR, 'app.py')));
    keel = await startKeel(null, ['--run', `${GUNICORN} -w 1 -b 127.0.0.1:{port} --chdir ${dir} app:app`, '--instances', '2'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('keeps the running instances when the new version does not import: they keep serving, no failed request', async () => {
    const serving = servingPids(keel).sort();
    writeFileSync(join(dir, 'app.py'), 'import no_such_module_for_keel_test\n');
    const load = startLoad(keel.url, { connections: 2, maxMs: 30_000, path: '/whoami' });
    await sleep(200);
    keel.signal('SIGHUP');
    const failure = await waitFor(() => keel.errorLog().find((l) => l.msg.startsWith('reload: ') && l.msg.endsWith('keeping the running instance')), {
      timeout: 20_000,
      what: 'the failed replacement in the log',
    });
    assert.match(failure.msg, /exited \(exit code 3\) before it answered .*No module named 'no_such_module_for_keel_test'/);
    await waitFor(() => keel.errorLog().some((l) => l.msg.startsWith('reload complete')), { timeout: 20_000, what: "keel's own reload to complete" });
    const result = await load.stop();
    assert.ok(result.ok > 5, JSON.stringify(result));
    assert.equal(result.failed, 0, JSON.stringify(result));
    assert.deepEqual(servingPids(keel).sort(), serving, 'the old masters still serve');
    const masters = [...(await distinct(`${keel.url}/whoami`, 10, (j) => j.pid))].map(parentOf);
    assert.deepEqual([...new Set(masters)].sort(), serving);
  });
});
