// App failures never leak: any throw, rejection, broken return or next(err) gives the generic 500
// page (HTML, or JSON by Accept) with only the status and the request ID; the error log has the
// whole error under the same ID; secret values never reach the client or any log line keel writes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startKeel } from '../helpers/keel.js';
import { waitFor } from '../helpers/wait.js';

const SECRETS = {
  DATABASE_URL: 'postgres://user:s3cretPassw0rd@db/x',
  API_KEY: 'sk_live_abcdef123456',
  SOME_TOKEN: 'tok-xyz-987',
};
const SECRET_VALUES = [...Object.values(SECRETS), 's3cretPassw0rd'];
/** A value under a name that does not look secret: it must stay visible in the error log. */
const MARKER = 'marker-Qv7Zt2';
const URL_PASSWORD = 'hunter22';

const STACK_FRAME = /\bat\s+\S.*:\d+:\d+/;

async function get(url, headers = {}) {
  const res = await request(url, { headers });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

/**
 * Asserts the generic error page: status, type by Accept, the request ID (same as the header) and
 * nothing of the error, its stack or the environment.
 */
function assertGenericPage(res, { json, status = 500, leaks = [] }) {
  assert.equal(res.status, status);
  const id = res.headers['x-request-id'];
  assert.match(String(id ?? ''), /^[A-Za-z0-9._:-]{8,}$/, 'X-Request-Id on the error answer');
  if (json) {
    assert.match(res.headers['content-type'], /^application\/json/);
    const parsed = JSON.parse(res.body);
    assert.deepEqual(Object.keys(parsed).sort(), ['error', 'requestId', 'status']);
    assert.equal(parsed.status, status);
    assert.equal(parsed.requestId, id);
  } else {
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.ok(res.body.includes(id), 'the page quotes the request ID');
    assert.match(res.body, new RegExp(`<h1>${status} `));
  }
  assert.doesNotMatch(res.body, STACK_FRAME, 'no stack frame in the body');
  assert.ok(!/\.(?:js|ts|mjs):\d/.test(res.body), 'no file:line in the body');
  assert.ok(!res.body.includes('front-'), 'no fixture file name in the body');
  for (const text of [...leaks, ...SECRET_VALUES, MARKER, process.env.HOME ?? '/nonexistent-home', process.cwd()]) {
    assert.ok(!res.body.includes(text), `the body does not contain ${JSON.stringify(text)}`);
  }
  return id;
}

/** Waits for the error log entry for this request ID and checks it holds the whole error. */
async function assertErrorLogged(keel, requestId, messagePart, stackFile) {
  const entry = await waitFor(() => keel.errorLog().find((e) => e.requestId === requestId && e.msg === 'app error while handling a request'), {
    timeout: 5000,
    what: `the error log entry for ${requestId}`,
  });
  assert.equal(entry.level, 'error');
  assert.equal(entry.role, 'worker');
  assert.ok(entry.err, 'the entry carries the error');
  assert.ok(String(entry.err.message).includes(messagePart), `error message logged: ${entry.err.message}`);
  assert.match(String(entry.err.stack), STACK_FRAME, 'the stack is logged');
  if (stackFile) assert.ok(String(entry.err.stack).includes(stackFile), `the stack names ${stackFile}`);
  return entry;
}

describe('errors and secrets: request listener that throws and rejects', () => {
  let keel;
  before(async () => {
    keel = await startKeel('test/fixtures/front-errors.js', [], { env: { ...SECRETS, FRONT_MARKER: MARKER, NODE_ENV: undefined }, workers: 2 });
  });
  after(() => keel?.stop());

  for (const [path, messagePart] of [
    ['/sync-throw', 'sync throw failure'],
    ['/reject', 'async reject failure'],
  ]) {
    it(`${path}: 500 generic HTML page by default, full error in the error log with the same request ID`, async () => {
      const res = await get(`${keel.url}${path}`);
      const id = assertGenericPage(res, { json: false, leaks: [messagePart] });
      const entry = await assertErrorLogged(keel, id, messagePart, 'front-errors.js');
      // Only the secrets are hidden in the log: the rest of the message is there for the operator.
      assert.ok(entry.err.message.includes(MARKER), 'non-secret parts of the message are kept');
      assert.ok(entry.err.message.includes('[REDACTED]'), 'secret values are replaced with [REDACTED]');
    });

    it(`${path}: 500 generic JSON when Accept prefers JSON`, async () => {
      const res = await get(`${keel.url}${path}`, { accept: 'application/json' });
      const id = assertGenericPage(res, { json: true, leaks: [messagePart] });
      await assertErrorLogged(keel, id, messagePart, 'front-errors.js');
    });
  }

  it('never writes a secret value to the response, the access log or the error log; URL passwords are redacted', async () => {
    const urlWithPassword = `/sync-throw?next=http://bob:${URL_PASSWORD}@example.com/`;
    const failing = await get(`${keel.url}${urlWithPassword}`, { 'user-agent': `agent ${SECRETS.API_KEY}` });
    assertGenericPage(failing, { json: false });
    const plain = await get(`${keel.url}/x?next=http://bob:${URL_PASSWORD}@example.com`, { referer: `http://alice:${URL_PASSWORD}@example.org/` });
    assert.equal(plain.status, 200);
    for (const text of [...SECRET_VALUES, URL_PASSWORD]) assert.ok(!failing.body.includes(text) && !plain.body.includes(text));
    const plainId = plain.headers['x-request-id'];
    const failingId = failing.headers['x-request-id'];
    // Both lines written (access log) and the error logged, before looking at the whole output.
    await waitFor(() => keel.stdout.includes(plainId) && keel.stdout.includes(failingId), { timeout: 5000, what: 'the access log lines' });
    const errorEntry = await assertErrorLogged(keel, failingId, 'sync throw failure');
    assert.ok(errorEntry.err.message.includes('[REDACTED]'));

    const accessLine = keel.accessLines().find((l) => l.includes(plainId));
    assert.ok(accessLine.includes(`/x?next=http://bob:[REDACTED]@example.com`), `URL password redacted in the access log: ${accessLine}`);
    assert.ok(accessLine.includes(`"http://alice:[REDACTED]@example.org/"`), `URL password redacted in the referrer: ${accessLine}`);
    assert.ok(keel.stderr.includes('[REDACTED]'), '[REDACTED] appears in the error log');
    // The whole output of keel, every line of both streams so far.
    for (const text of [...SECRET_VALUES, URL_PASSWORD]) {
      assert.ok(!keel.stdout.includes(text), `stdout (access log) does not contain ${text}`);
      assert.ok(!keel.stderr.includes(text), `stderr (error log and banner) does not contain ${text}`);
    }
  });

  it('runs workers with NODE_ENV=production by default', async () => {
    const res = await request(`${keel.url}/env`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), { nodeEnv: 'production' });
  });
});

describe('errors: a Fetch-API app that throws or returns something that is not a Response', () => {
  let keel;
  before(async () => {
    keel = await startKeel('test/fixtures/front-fetch.js', [], { workers: 1 });
  });
  after(() => keel?.stop());

  it('a returned string gives the generic 500 (HTML and JSON) and the error log names the broken return', async () => {
    const html = await get(`${keel.url}/broken`);
    const htmlId = assertGenericPage(html, { json: false, leaks: ['not a Response', 'this string'] });
    await assertErrorLogged(keel, htmlId, 'not a Response');
    const json = await get(`${keel.url}/broken`, { accept: 'application/json, text/html;q=0.5' });
    const jsonId = assertGenericPage(json, { json: true, leaks: ['not a Response'] });
    await assertErrorLogged(keel, jsonId, 'not a Response');
  });

  it('a throw gives the generic 500 and the full error in the log', async () => {
    const res = await get(`${keel.url}/throw`, { accept: 'application/json' });
    const id = assertGenericPage(res, { json: true, leaks: ['fetch app throw failure'] });
    await assertErrorLogged(keel, id, 'fetch app throw failure', 'front-fetch.js');
  });

  it('a normal answer still works, without the X-Powered-By the app set', async () => {
    const res = await get(`${keel.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'fetch ok\n');
    assert.equal(res.headers['x-powered-by'], undefined);
  });
});

describe('errors: an Express app, with NODE_ENV=development set by the operator', () => {
  let keel;
  before(async () => {
    keel = await startKeel('test/fixtures/front-express.js', [], { env: { NODE_ENV: 'development', FRONT_MARKER: MARKER }, workers: 1 });
  });
  after(() => keel?.stop());

  it('respects an explicit NODE_ENV', async () => {
    const res = await request(`${keel.url}/env`);
    assert.deepEqual(await res.body.json(), { nodeEnv: 'development' });
  });

  it('next(err) gives keel\'s generic 500, not Express\'s development error page with the stack', async () => {
    const html = await get(`${keel.url}/next-error`);
    const id = assertGenericPage(html, { json: false, leaks: ['express next(err) failure', 'node_modules'] });
    const entry = await assertErrorLogged(keel, id, 'express next(err) failure', 'front-express.js');
    assert.ok(entry.err.message.includes(MARKER));
    const json = await get(`${keel.url}/next-error`, { accept: 'application/json' });
    await assertErrorLogged(keel, assertGenericPage(json, { json: true }), 'express next(err) failure');
  });

  it('a synchronous throw in a route gives the generic 500 too', async () => {
    const res = await get(`${keel.url}/throw`);
    const id = assertGenericPage(res, { json: false, leaks: ['express sync throw failure'] });
    await assertErrorLogged(keel, id, 'express sync throw failure', 'front-express.js');
  });
});
