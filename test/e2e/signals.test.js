// Signals to the primary, black-box: TERM/INT drain, a second INT and QUIT stop at once, HUP
// reloads with zero downtime, USR1 reopens log files, TTIN/TTOU scale (issue 3, point 3).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, isAlive, startKeel, tempDir } from '../helpers/keel.js';
import { startLoad } from '../helpers/load.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { getFresh as getFreshWithin } from '../helpers/http.js';

const getFresh = (url, headers = {}) => getFreshWithin(url, headers, 30_000);

const APP = 'test/fixtures/sig-app.js';


/** Starts /slow?ms=… and resolves once the app says it is in progress; `.response` settles with the outcome. */
async function startSlow(keel, ms, id) {
  const state = { done: false };
  state.response = getFresh(`${keel.url}/slow?ms=${ms}`, { 'x-request-id': id }).then(
    (res) => ((state.done = true), res),
    (error) => ((state.done = true), { error }),
  );
  await waitFor(() => keel.stderr.includes(`fixture: slow request started ${id}\n`), { what: `the slow request ${id} to be in flight` });
  return state;
}

async function waitNotReady(keel) {
  await waitFor(async () => (await keel.readyz()) === 503, { timeout: 5000, what: '/readyz to answer 503' });
}

describe('TERM during an in-flight request', () => {
  let keel;
  let workers;
  let slow;
  before(async () => {
    keel = await startKeel(APP, ['--graceful-timeout', '10'], { workers: 2 });
    workers = keel.workerPids();
    assert.equal(workers.length, 2);
    slow = await startSlow(keel, 2000, 'sig-term-1');
    keel.signal('SIGTERM');
  });
  after(() => keel?.stop());

  it('turns /readyz 503 at once, before the request finishes', async () => {
    await waitNotReady(keel);
    assert.equal(slow.done, false, 'the in-flight request was still running when /readyz turned 503');
    assert.equal(keel.exit, null);
  });

  it('still completes the in-flight request with 200, with Connection: close', async () => {
    const res = await slow.response;
    assert.ifError(res.error);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'slow done\n');
    assert.equal(res.headers.connection, 'close', 'responses sent while draining carry Connection: close');
  });

  it('exits 0 once drained, with every worker gone', async () => {
    const exit = await keel.waitExit(15_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    for (const pid of workers) await waitFor(() => !isAlive(pid), { what: `worker ${pid} to be gone` });
    const log = keel.errorLog();
    assert.ok(log.some((e) => /shutting down gracefully/.test(e.msg ?? '')));
    assert.ok(!log.some((e) => /worker exited unexpectedly/.test(e.msg ?? '')), 'a drain is not a crash');
    const line = keel.accessLines().find((l) => l.includes('sig-term-1'));
    assert.match(line ?? '', /"GET \/slow\?ms=2000 HTTP\/1\.1" 200 .* sig-term-1$/);
  });
});

describe('TERM with --shutdown-delay 1', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--shutdown-delay', '1', '--graceful-timeout', '5'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('turns /readyz 503 but keeps serving new connections during the delay, then exits 0', async () => {
    keel.signal('SIGTERM');
    await waitNotReady(keel);
    // Without the delay the workers would stop accepting now and these connections would be refused.
    for (let i = 0; i < 3; i++) {
      const res = await getFresh(`${keel.url}/`);
      assert.equal(res.status, 200);
      assert.match(res.body, /^hello from \d+\n$/);
    }
    assert.equal(keel.exit, null, 'keel is still up during the delay');
    const exit = await keel.waitExit(15_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    const entry = keel.errorLog().find((e) => /shutting down gracefully/.test(e.msg ?? ''));
    assert.equal(entry?.shutdownDelay, 1);
  });
});

describe('a second INT', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--graceful-timeout', '30'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('exits at once, without waiting for in-flight requests (--graceful-timeout 30)', async () => {
    const workers = keel.workerPids();
    const slow = await startSlow(keel, 25_000, 'sig-int-1');
    keel.signal('SIGINT');
    await waitNotReady(keel);
    await sleep(300); // the first INT drains: it must not stop keel while a request is in flight
    assert.equal(keel.exit, null, 'the first INT drains instead of exiting');
    assert.equal(slow.done, false);
    keel.signal('SIGINT');
    // Far less than the 25 s request or the 30 s graceful timeout.
    const exit = await keel.waitExit(8000);
    assert.deepEqual(exit, { code: 0, signal: null });
    for (const pid of workers) await waitFor(() => !isAlive(pid), { timeout: 5000, what: `worker ${pid} to be gone` });
    const res = await slow.response;
    assert.ok(res.error, 'the in-flight request was cut, not completed');
  });
});

describe('QUIT', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--graceful-timeout', '30'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('exits at once, without waiting for in-flight requests', async () => {
    const workers = keel.workerPids();
    const slow = await startSlow(keel, 25_000, 'sig-quit-1');
    keel.signal('SIGQUIT');
    const exit = await keel.waitExit(8000);
    assert.deepEqual(exit, { code: 0, signal: null });
    for (const pid of workers) await waitFor(() => !isAlive(pid), { timeout: 5000, what: `worker ${pid} to be gone` });
    const res = await slow.response;
    assert.ok(res.error, 'the in-flight request was cut, not completed');
  });
});

describe('HUP reload', () => {
  let keel;
  let appFile;
  const setVersion = (text) => writeFileSync(appFile, readFileSync(join(ROOT, 'test/fixtures/sig-versioned.js'), 'utf8').replace("VERSION = 'v1'", `VERSION = '${text}'`));
  const logCount = (re) => keel.errorLog().filter((e) => re.test(e.msg ?? '')).length;
  const stablePids = async () => {
    await waitFor(() => keel.workerPids().length === 2, { timeout: 15_000, what: 'two workers' });
    return keel.workerPids().sort((a, b) => a - b);
  };

  before(async () => {
    appFile = join(tempDir(), 'app.js');
    copyFileSync(join(ROOT, 'test/fixtures/sig-versioned.js'), appFile);
    keel = await startKeel(appFile, ['--graceful-timeout', '5'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('five reloads under keep-alive load: zero failed requests, all-new workers, new code served', async () => {
    assert.equal((await getFresh(`${keel.url}/`)).body, 'version v1\n');
    const load = startLoad(keel.url, { connections: 8, maxMs: 90_000 });
    let result;
    try {
      await waitFor(() => load.result.ok >= 50, { what: 'the load to warm up' });
      for (let i = 1; i <= 5; i++) {
        const version = `v${i + 1}`;
        const old = new Set(keel.workerPids());
        setVersion(version);
        keel.signal('SIGHUP');
        await waitFor(
          () => {
            const now = keel.workerPids();
            return now.length === 2 && now.every((pid) => !old.has(pid));
          },
          { timeout: 20_000, what: `reload ${i}: only new workers left` },
        );
        await waitFor(() => logCount(/^reload complete/) >= i, { what: `reload ${i} to be logged as complete` });
        await keel.waitReady();
        const res = await getFresh(`${keel.url}/`);
        assert.equal(res.body, `version ${version}\n`, `reload ${i} re-read the app code`);
        const ok = load.result.ok;
        await waitFor(() => load.result.ok >= ok + 50, { what: `the load to go on after reload ${i}` });
      }
    } finally {
      result = await load.stop();
    }
    assert.equal(result.failed, 0, JSON.stringify(result));
    assert.ok(result.ok > 250, `only ${result.ok} requests`);
  });

  it('a new version that does not boot leaves the old workers serving, every time', async () => {
    const before = await stablePids();
    const good = (await getFresh(`${keel.url}/`)).body;
    // Five failed reloads in a row: an operator fixing a typo must not see keel give up as if it crash-looped.
    for (let i = 1; i <= 5; i++) {
      const failed = logCount(/^reload failed/);
      writeFileSync(appFile, `export default function app(req, res) {\n  res.end('broken ${i}'\n}\n`);
      keel.signal('SIGHUP');
      await waitFor(() => logCount(/^reload failed/) > failed, { timeout: 15_000, what: `broken reload ${i} to be logged as failed` });
      assert.deepEqual(await stablePids(), before, 'the old workers are still the ones serving');
      assert.equal(keel.exit, null);
      await keel.waitReady();
      assert.equal((await getFresh(`${keel.url}/`)).body, good);
    }
    const entry = keel.errorLog().find((e) => /^reload failed/.test(e.msg ?? ''));
    assert.equal(entry.level, 'error');
    assert.match(entry.err?.message ?? '', /app\.js/);

    // Fixed: the next HUP goes through.
    setVersion('v-fixed');
    keel.signal('SIGHUP');
    await waitFor(async () => (await getFresh(`${keel.url}/`)).body === 'version v-fixed\n', { timeout: 15_000, what: 'the fixed version to be served' });
  });
});

describe('USR1, TTIN and TTOU', () => {
  let keel;
  let dir;
  const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  before(async () => {
    dir = tempDir();
    keel = await startKeel(APP, ['--access-logfile', join(dir, 'access.log'), '--error-logfile', join(dir, 'error.log'), '--log-level', 'info'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('USR1 reopens the access and error log files after they were moved away', async () => {
    await getFresh(`${keel.url}/before-rotate`);
    await waitFor(() => read('access.log').includes('/before-rotate'), { what: 'the first access-log line' });
    await waitFor(() => read('error.log').includes('worker ready'), { what: 'the first error-log lines' });
    renameSync(join(dir, 'access.log'), join(dir, 'access.log.1'));
    renameSync(join(dir, 'error.log'), join(dir, 'error.log.1'));
    keel.signal('SIGUSR1');

    // Each worker writes to its own descriptor: wait until both have written to the new file.
    const pidOf = new Map();
    let n = 0;
    await waitFor(
      async () => {
        const path = `/after-rotate-${++n}`;
        const res = await getFresh(`${keel.url}${path}`);
        pidOf.set(path, Number(res.headers['x-pid']));
        const text = read('access.log');
        const pids = new Set([...pidOf].filter(([p]) => text.includes(`GET ${p} `)).map(([, pid]) => pid));
        return pids.size === 2;
      },
      { timeout: 10_000, interval: 20, what: 'both workers to write to the new access log' },
    );
    assert.ok(read('access.log.1').includes('/before-rotate'), 'the old lines stay in the moved file');
    assert.ok(!read('access.log').includes('/before-rotate'));

    // Worker errors and primary messages go to the new error log too.
    await waitFor(
      async () => {
        await getFresh(`${keel.url}/boom`, { 'x-request-id': `sig-usr1-boom-${++n}` });
        return read('error.log').includes('app error while handling a request');
      },
      { timeout: 10_000, interval: 20, what: 'a worker error in the new error log' },
    );
    keel.signal('SIGTTIN');
    await waitFor(() => read('error.log').includes('adding a worker (TTIN)'), { what: 'the primary to write to the new error log' });
    assert.ok(!read('error.log.1').includes('adding a worker (TTIN)'));
    keel.signal('SIGTTOU');
    await waitFor(() => keel.workerPids().length === 2, { timeout: 15_000, what: 'back to two workers' });
  });

  it('TTIN adds a worker, TTOU removes one', async () => {
    await waitFor(() => keel.workerPids().length === 2, { timeout: 15_000, what: 'two workers' });
    await keel.waitReady();
    const before = keel.workerPids();
    keel.signal('SIGTTIN');
    await waitFor(() => keel.workerPids().length === 3, { timeout: 15_000, what: 'a third worker' });
    await keel.waitReady();
    const three = keel.workerPids();
    assert.ok(before.every((pid) => three.includes(pid)), 'TTIN adds, it does not replace');
    keel.signal('SIGTTOU');
    await waitFor(() => keel.workerPids().length === 2, { timeout: 15_000, what: 'back to two workers' });
    await keel.waitReady();
    const two = keel.workerPids();
    assert.ok(two.every((pid) => three.includes(pid)), 'TTOU removes, it does not replace');
    // TTOU retires gracefully: an expected exit, not a crash.
    const removed = three.find((pid) => !two.includes(pid));
    await waitFor(() => read('error.log').split('\n').some((l) => l.includes(`"worker_pid":${removed}`) && l.includes('"msg":"worker exited (')), {
      what: 'the removed worker to be logged as an expected exit',
    });
  });
});
