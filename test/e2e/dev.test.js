// `keel dev APP` (issue 6, point 3), black-box: it serves the app, reloads on an edit, survives code
// that does not load (on a reload and on the first boot), shows the rich error page that `keel serve`
// never shows whatever the environment says, refuses public addresses, and runs TypeScript apps.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDev } from '../helpers/dev.js';
import { getFresh } from '../helpers/http.js';
import { ROOT, runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { scrape, sumOf } from '../helpers/prom-text.js';
import { waitFor } from '../helpers/wait.js';

const JS_FIXTURE = join(ROOT, 'test/fixtures/dev-app.js');
const TS_FIXTURE = join(ROOT, 'test/fixtures/dev-app.ts');
const SECRET = 'dev-test-secret-4f9a1c';
const RELOAD_WAIT = 20_000;

/** A temp dir holding a copy of the fixture as app.js (or app.ts), for the test to edit. */
function appCopy(fixture, name) {
  const dir = tempDir('keel-dev-');
  copyFileSync(fixture, join(dir, name));
  return dir;
}

function setVersion(file, version) {
  writeFileSync(file, readFileSync(file, 'utf8').replace(/const VERSION = '[^']*';/, `const VERSION = '${version}';`));
}

/** The JSON lines of an error log (the banner and keel dev's plain lines skipped). */
function jsonLines(text) {
  // Complete lines only: the last one may still be arriving.
  return text.slice(0, text.lastIndexOf('\n')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

/** The primary's line for a worker that died on its own. */
const isCrashExit = (l) => l.role === 'primary' && /^worker exited unexpectedly/.test(l.msg);

/** Polls with fresh connections until the app answers `body`; returns the ms from `since`. */
async function waitForAnswer(url, body, since) {
  await waitFor(
    async () => {
      const res = await getFresh(url);
      return res.status === 200 && res.body === body;
    },
    { timeout: RELOAD_WAIT, interval: 10, what: `the app to answer ${JSON.stringify(body)}` },
  );
  return performance.now() - since;
}

describe('keel dev on a JavaScript app', () => {
  let dir;
  let file;
  let keel;
  before(async () => {
    dir = appCopy(JS_FIXTURE, 'app.js');
    file = join(dir, 'app.js');
    keel = await startDev(dir, 'app.js', [], { env: { API_KEY: SECRET, NODE_ENV: undefined } });
  });
  after(() => keel?.stop());

  it('serves the app with NODE_ENV=development, one worker, and a banner that says DEVELOPMENT', async () => {
    const res = await getFresh(keel.url);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'version v0\n');
    assert.equal(JSON.parse((await getFresh(`${keel.url}/env`)).body).nodeEnv, 'development');
    assert.match(keel.stderr, /DEVELOPMENT SERVER/);
    assert.match(keel.stderr, /Do not use it in production: use keel serve\./);
    assert.match(keel.stderr, /^ {2}workers {2}1$/m);
    // The access log is written in batches, like Nginx's.
    await waitFor(() => /"GET \/ HTTP\/1\.1" 200 /.test(keel.stdout), { what: 'the access log line on stdout' });
  });

  it('reloads the app after an edit, and logs "reloaded in N ms (file changed: app.js)"', async (t) => {
    const reloadLines = () => keel.stderr.match(/keel dev: reloaded in \d+ ms \(file changed: app\.js\)/g)?.length ?? 0;
    const times = [];
    for (let i = 1; i <= 10; i++) {
      // Paced like a developer's saves, which come seconds apart: each edit waits for the last
      // reload to be over and keel dev's spare worker to have started, so the measure is of the
      // usual reload, not of edits faster than Node starts.
      await keel.waitSpareReady();
      const reloads = reloadLines();
      const started = performance.now();
      setVersion(file, `edit-${i}`);
      times.push(await waitForAnswer(keel.url, `version edit-${i}\n`, started));
      await waitFor(() => reloadLines() > reloads, { timeout: RELOAD_WAIT, what: `keel dev's reload line for edit ${i}` });
    }
    times.sort((a, b) => a - b);
    const ms = (v) => `${Math.round(v)} ms`;
    // Measured, not asserted: the machine is shared and noisy.
    t.diagnostic(`reload, file write → first new answer, 10 edits: min ${ms(times[0])}, median ${ms((times[4] + times[5]) / 2)}, max ${ms(times[9])}`);
    t.diagnostic(`keel's own lines: ${keel.stderr.match(/reloaded in \d+ ms/g).slice(-10).join('; ')}`);
  });

  it('keeps the old code answering when an edit does not load, and reloads once it is fixed', async () => {
    setVersion(file, 'before-broken');
    await waitForAnswer(keel.url, 'version before-broken\n', performance.now());
    const failures = keel.stderr.split('reload failed').length;
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nconst broken = ;\n`);
    await waitFor(() => keel.stderr.split('reload failed').length > failures, { timeout: RELOAD_WAIT, what: 'keel dev to report the failed reload' });
    assert.match(keel.stderr, /SyntaxError/);
    const during = await getFresh(keel.url);
    assert.equal(during.status, 200);
    assert.equal(during.body, 'version before-broken\n', 'the old worker keeps serving');
    assert.equal(keel.exit, null);
    copyFileSync(JS_FIXTURE, file);
    setVersion(file, 'fixed');
    await waitForAnswer(keel.url, 'version fixed\n', performance.now());
  });

  it('answers a throwing route with the rich page: message, source line, request; secrets redacted, credentials masked', async () => {
    const res = await getFresh(`${keel.url}/boom?who=tester`, { authorization: 'Bearer tok-98765-private', cookie: 'sid=cookie-private-42', 'x-debug-note': SECRET });
    assert.equal(res.status, 500);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const page = res.body;
    assert.ok(page.includes('dev boom &#60;b&#62;bold&#60;/b&#62; key=[REDACTED]'), 'the escaped, redacted message');
    assert.ok(!page.includes('<b>bold'), 'the message is HTML-escaped');
    assert.ok(page.includes('throw new Error(`dev boom &#60;b&#62;bold'), 'the source line of the throw');
    assert.match(page, /app\.js:\d+:\d+/, 'the frame names the file and line');
    assert.ok(page.includes('/boom?who=tester'), 'the request URL');
    assert.ok(page.includes(res.headers['x-request-id']), 'the request ID');
    assert.ok(page.includes('127.0.0.1'), 'the client address');
    assert.ok(!page.includes(SECRET), 'the secret from the environment does not appear');
    assert.ok(!page.includes('tok-98765-private'), 'Authorization is masked');
    assert.ok(!page.includes('cookie-private-42'), 'Cookie is masked');
    assert.match(page, /frames? in (keel|Node\.js internals)/, 'frames outside the app are folded');
  });

  it('answers JSON clients with the error as JSON', async () => {
    const res = await getFresh(`${keel.url}/boom`, { accept: 'application/json' });
    assert.equal(res.status, 500);
    const body = JSON.parse(res.body);
    assert.match(body.errors[0].message, /dev boom/);
    assert.ok(!res.body.includes(SECRET));
  });
});

describe('keel dev when the first boot does not load', () => {
  let keel;
  let file;
  before(async () => {
    const dir = appCopy(JS_FIXTURE, 'app.js');
    file = join(dir, 'app.js');
    writeFileSync(file, 'export default function app(req, res) {\n  const half = ;\n}\n');
    keel = await startDev(dir, 'app.js');
  });
  after(() => keel?.stop());

  it('stays up and shows the load error with its source line, then serves the app once fixed', async () => {
    const res = await getFresh(keel.url);
    assert.equal(res.status, 500);
    assert.match(res.body, /SyntaxError/);
    assert.ok(res.body.includes('const half = ;'), 'the line that does not parse');
    assert.match(keel.stderr, /keel dev: the app failed to load; waiting for a change/);
    assert.equal(keel.exit, null);
    copyFileSync(JS_FIXTURE, file);
    setVersion(file, 'first-fix');
    await waitForAnswer(keel.url, 'version first-fix\n', performance.now());
  });
});

describe('keel dev with an app that crashes right after it starts', () => {
  // Crashes 400 ms after its import, well within the 5 s that make an exit early, and late enough
  // that a busy machine still has the worker listening, and keel's handler in place, by then.
  const CRASHING_APP = [
    'export default function app(req, res) {',
    "  res.end('not for long\\n');",
    '}',
    '',
    'setTimeout(() => {',
    "  throw new Error('boom: crash-loop app');",
    '}, 400);',
    '',
  ].join('\n');
  let keel;
  let file;
  before(async () => {
    const dir = tempDir('keel-dev-');
    file = join(dir, 'app.js');
    writeFileSync(file, CRASHING_APP);
    // At debug level the primary logs each worker start ("worker starting"), the moment the backoff delays.
    keel = await startDev(dir, 'app.js', ['--log-level', 'debug']);
  });
  after(() => keel?.stop());

  /** The wait docs/dev.md promises before the restart that follows the n-th early exit: 100 ms doubling, up to 10 s. */
  const backoffMs = (n) => Math.min(10_000, 100 * 2 ** (n - 1));

  it('logs each crash with its file and line, backs off between restarts, outlives keel serve\'s limit, and reloads the fix', async () => {
    // keel serve stops after 5 early exits within a minute (exit 3); keel dev keeps restarting.
    const CRASHES = 6;
    await waitFor(() => jsonLines(keel.stderr).filter(isCrashExit).length >= CRASHES, { timeout: 45_000, what: `${CRASHES} crashes` });
    const samples = await scrape(keel.adminUrl);
    assert.equal(keel.exit, null, 'keel dev is still up');
    const lines = jsonLines(keel.stderr);

    // The cause, as the app threw it, with the file and line of the throw: in keel's error log, or
    // printed by Node when the worker died before keel's handler was in place (a busy machine).
    const source = CRASHING_APP.split('\n');
    const throwLine = source.findIndex((l) => l.includes("throw new Error('boom: crash-loop app')"));
    const where = `app.js:${throwLine + 1}:${source[throwLine].indexOf('new Error') + 1}`;
    await waitFor(() => keel.stderr.split(where).length - 1 >= CRASHES, { what: `${where} named for each of ${CRASHES} crashes` });
    const causes = lines.filter((l) => l.role === 'worker' && l.level === 'error' && /uncaught exception/.test(l.msg));
    for (const c of causes) assert.equal(c.err?.message, 'boom: crash-loop app');

    // No spinning: the start that replaces the worker of the n-th crash in a row (the (n+1)-th start)
    // comes no sooner than the n-th backoff after that crash, counted from when the worker logged
    // its error (else from its exit). A crash more than 5 s after its start is not early and begins
    // a new row. A lower bound only: a busy machine makes the gaps longer, never shorter.
    const loggedAt = new Map(causes.map((c) => [c.pid, Date.parse(c.time)]));
    const exits = lines.filter(isCrashExit);
    const startLines = lines.filter((l) => l.role === 'primary' && l.msg === 'worker starting');
    assert.ok(startLines.length >= CRASHES, `a start for the first worker and each restart: ${startLines.length}`);
    let inARow = 0;
    const gaps = startLines.slice(1, exits.length + 1).map((start, i) => {
      inARow = exits[i].uptime_s < 5 ? inARow + 1 : 0;
      const crashedAt = loggedAt.get(exits[i].worker_pid) ?? Date.parse(exits[i].time);
      return { crash: i + 1, uptime_s: exits[i].uptime_s, ms: Date.parse(start.time) - crashedAt, atLeast: inARow === 0 ? 0 : backoffMs(inARow) };
    });
    for (const gap of gaps) assert.ok(gap.ms >= gap.atLeast, `the restart after crash ${gap.crash} started ${gap.ms} ms after it, before its ${gap.atLeast} ms backoff: ${JSON.stringify(gaps)}\n${keel.stderr}`);
    // /metrics counts the same starts as the log (read after the scrape, so it may hold one more).
    const starts = sumOf(samples, 'keel_worker_starts_total');
    assert.ok(starts >= CRASHES && starts <= startLines.length, `keel_worker_starts_total ${starts}, ${startLines.length} starts logged`);
    assert.ok(sumOf(samples, 'keel_worker_restarts_total', { reason: 'crash' }) >= CRASHES);

    // A save with working code brings the app back through a reload, whatever backoff the crashes built up.
    copyFileSync(JS_FIXTURE, file);
    setVersion(file, 'no-crash');
    await waitForAnswer(keel.url, 'version no-crash\n', performance.now());
    await waitFor(() => /keel dev: reloaded in \d+ ms \(file changed: app\.js\)/.test(keel.stderr), { what: 'the reload line naming app.js' });
    assert.equal(keel.exit, null);
  });
});

describe('keel dev on a TypeScript app', () => {
  let keel;
  let file;
  before(async () => {
    const dir = appCopy(TS_FIXTURE, 'app.ts');
    file = join(dir, 'app.ts');
    keel = await startDev(dir, 'app.ts');
  });
  after(() => keel?.stop());

  it('serves it, reloads an edit, and shows the .ts source line of a throw', async () => {
    assert.equal((await getFresh(keel.url)).body, 'typed v0\n');
    writeFileSync(file, readFileSync(file, 'utf8').replace("'typed v0'", "'typed v1'"));
    await waitForAnswer(keel.url, 'typed v1\n', performance.now());
    const res = await getFresh(`${keel.url}/boom`);
    assert.equal(res.status, 500);
    assert.match(res.body, /TypeError/);
    assert.ok(res.body.includes('ts boom from a typed route'));
    assert.ok(res.body.includes('throw new TypeError(&#39;ts boom'), 'the TypeScript source line');
    assert.match(res.body, /app\.ts:\d+:\d+/);
  });
});

describe('keel serve never shows the rich page', () => {
  let keel;
  before(async () => {
    keel = await startKeel('test/fixtures/dev-app.js', [], {
      workers: 1,
      env: { NODE_ENV: 'development', DEBUG: '1', KEEL_DEV: '1', KEEL_MODE: 'dev', KEEL_DEBUG: '1', API_KEY: SECRET },
    });
  });
  after(() => keel?.stop());

  it('answers the generic page under NODE_ENV=development, DEBUG=1, KEEL_DEV=1: no message, stack or source', async () => {
    assert.equal(JSON.parse((await getFresh(`${keel.url}/env`)).body).nodeEnv, 'development', 'the app does see NODE_ENV=development');
    const res = await getFresh(`${keel.url}/boom`);
    assert.equal(res.status, 500);
    assert.ok(res.body.includes(res.headers['x-request-id']));
    for (const leak of ['dev boom', 'throw new Error', 'dev-app.js', ' at ', 'Error:', SECRET, 'KEEL DEV']) {
      assert.ok(!res.body.includes(leak), `the generic page must not contain ${JSON.stringify(leak)}`);
    }
    assert.match(keel.stderr, / · production mode · /);
    assert.doesNotMatch(keel.stderr, /DEVELOPMENT/);
  });
});

describe('keel dev refuses public addresses', () => {
  it('exits 2 for -b 0.0.0.0:PORT, saying to use keel serve', async () => {
    const port = await freePort();
    const { code, stderr } = await runKeel(['dev', 'test/fixtures/dev-app.js', '-b', `0.0.0.0:${port}`, '--admin', 'off']);
    assert.equal(code, 2);
    assert.equal(stderr, `keel: --bind: keel dev listens on loopback only (0.0.0.0:${port} is not); use keel serve for a public address\n`);
  });

  it('exits 2 for --admin 0.0.0.0:PORT', async () => {
    const [port, admin] = [await freePort(), await freePort()];
    const { code, stderr } = await runKeel(['dev', 'test/fixtures/dev-app.js', '-b', `127.0.0.1:${port}`, '--admin', `0.0.0.0:${admin}`]);
    assert.equal(code, 2);
    assert.equal(stderr, `keel: --admin: keel dev listens on loopback only (0.0.0.0:${admin} is not); use keel serve for a public address\n`);
  });

  it('exits 2 for --redirect-http on a public address', async () => {
    const [port, redirect] = [await freePort(), await freePort()];
    const { code, stderr } = await runKeel(['dev', 'test/fixtures/dev-app.js', '-b', `https://127.0.0.1:${port}`, '--https', 'local', '--redirect-http', `0.0.0.0:${redirect}`, '--admin', 'off']);
    assert.equal(code, 2);
    assert.match(stderr, /^keel: --redirect-http: keel dev listens on loopback only \(0\.0\.0\.0:\d+ is not\); use keel serve for a public address\n$/);
  });
});
