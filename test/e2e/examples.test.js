// Every example app (one per shape) and every APP spec form, served by the real CLI: the right
// shape is detected, routes answer, app failures become the generic 500 with a request ID (the
// error itself only in the error log), and streaming bodies stream. Each example is checked over
// plain HTTP/1.1, HTTPS/1.1 and HTTP/2 (TLS, by ALPN) from one keel listening plain and TLS at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { writeFileSync } from 'node:fs';
import { connect as h2connect, constants as h2constants } from 'node:http2';
import { join } from 'node:path';
import { makeCertificates } from '../helpers/certs.js';
import { startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const UUIDISH = /^[A-Za-z0-9._-]{8,}$/;

const pki = makeCertificates('keel-examples-certs-');
after(() => pki.cleanup());
const certificate = pki.leaf('localhost', { ip: ['127.0.0.1'] });

/** HTTP/1.1 through undici (plain, or TLS trusting the test CA): get(path, headers) → { status, headers, body, chunks }. */
function http1Client(origin, { ca } = {}) {
  const dispatcher = new Agent(ca ? { connect: { ca } } : {});
  return {
    async get(path, headers = {}) {
      const res = await request(origin + path, { dispatcher, headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
      const chunks = [];
      for await (const chunk of res.body) chunks.push(chunk.toString());
      return { status: res.statusCode, headers: res.headers, body: chunks.join(''), chunks };
    },
    close: () => dispatcher.close(),
  };
}

/** HTTP/2 through node:http2, trusting the test CA; same shape as http1Client. */
function http2Client(origin) {
  const session = h2connect(origin, { ca: pki.ca.certPem });
  session.on('error', () => {});
  return {
    get(path, headers = {}) {
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':path': path, ...headers });
        stream.setTimeout(10_000, () => stream.close(h2constants.NGHTTP2_CANCEL));
        const chunks = [];
        let head = null;
        stream.setEncoding('utf8');
        stream.on('response', (h) => (head = h));
        stream.on('data', (chunk) => chunks.push(chunk));
        stream.on('end', () => (head ? resolve({ status: head[':status'], headers: head, body: chunks.join(''), chunks }) : reject(new Error(`HTTP/2 GET ${path}: stream ended without a response`))));
        stream.on('close', () => head || reject(new Error(`HTTP/2 GET ${path}: no response (stream code ${stream.rstCode})`)));
        stream.on('error', reject);
        stream.end();
      });
    },
    close() {
      session.close();
      session.destroy();
    },
  };
}

/**
 * The ways each example is reached. `logged` is the protocol its access-log line must show (proof
 * the client really spoke it); `chunked` whether a streamed body uses chunked transfer-encoding
 * (HTTP/2 frames it instead, and forbids the header).
 */
const PROTOCOLS = [
  { name: 'HTTP/1.1', scheme: 'http', logged: 'HTTP/1.1', chunked: true, open: (k) => http1Client(k.plainUrl) },
  { name: 'HTTPS/1.1', scheme: 'https', logged: 'HTTP/1.1', chunked: true, open: (k) => http1Client(k.tlsUrl, { ca: pki.ca.certPem }) },
  { name: 'HTTP/2', scheme: 'https', logged: 'HTTP/2.0', chunked: false, open: (k) => http2Client(k.tlsUrl) },
];

/** Starts an example listening plain and TLS at once; adds plainUrl and tlsUrl to the handle. */
async function startExample(app) {
  const plain = await freePort();
  const tls = await freePort();
  const keel = await startKeel(app, ['--graceful-timeout', '2', '-b', `http://127.0.0.1:${plain}`, '-b', `https://127.0.0.1:${tls}`, '--certfile', certificate.cert, '--keyfile', certificate.key], { workers: 1 });
  return Object.assign(keel, { plainUrl: `http://127.0.0.1:${plain}`, tlsUrl: `https://127.0.0.1:${tls}` });
}

/** Every stderr line is the banner or a JSON error-log line: nothing printed behind keel's back (console.error, raw stacks). */
function assertOnlyKeelOutput(handle) {
  const stray = handle.stderr.split('\n').filter((line) => line && !line.startsWith('{') && !line.startsWith('keel ') && !line.startsWith('  '));
  assert.deepEqual(stray, [], `unexpected raw output on stderr:\n${handle.stderr}`);
}

/** /boom must answer 500 with only the status and the request ID (HTML and JSON), and log the full error under that ID. */
async function assertGenericFailure(handle, client, path, secretText) {
  const html = await client.get(path);
  assert.equal(html.status, 500);
  const htmlId = html.headers['x-request-id'];
  assert.match(htmlId, UUIDISH);
  assert.match(html.headers['content-type'], /text\/html/);
  assert.ok(html.body.includes(htmlId), 'the HTML page carries the request ID');
  for (const leak of [secretText, 's3cr3t', 'Error:', ' at ', '.ts:', '.js:', 'stack']) assert.ok(!html.body.includes(leak), `500 page leaks ${JSON.stringify(leak)}: ${html.body}`);

  const json = await client.get(path, { accept: 'application/json' });
  assert.equal(json.status, 500);
  const jsonId = json.headers['x-request-id'];
  assert.match(json.headers['content-type'], /application\/json/);
  assert.deepEqual(JSON.parse(json.body), { error: 'Internal Server Error', status: 500, requestId: jsonId });
  assert.notEqual(jsonId, htmlId);

  for (const id of [htmlId, jsonId]) {
    const line = await waitFor(() => handle.errorLog().find((l) => l.requestId === id && l.msg === 'app error while handling a request'), { what: `error log line for request ${id}` });
    assert.equal(line.level, 'error');
    assert.ok(line.err.message.includes(secretText), 'the error log has the real error message');
    assert.ok(line.err.stack.includes(' at '), 'the error log has the stack');
  }
}

const EXAMPLES = [
  { name: 'hello', app: 'examples/hello/app.ts', shape: 'listener', text: 'Hello, world!\n' },
  { name: 'express', app: 'examples/express/app.ts', shape: 'express', text: 'Hello from Express!\n', json: { framework: 'express', ok: true }, boom: 'something broke inside the Express app' },
  { name: 'fastify', app: 'examples/fastify/app.ts:build()', shape: 'fastify', text: 'Hello from Fastify!\n', json: { framework: 'fastify', ok: true }, boom: 'something broke inside the Fastify app' },
  { name: 'koa', app: 'examples/koa/app.ts', shape: 'koa', text: 'Hello from Koa!\n', json: { framework: 'koa', ok: true }, boom: 'something broke inside the Koa app' },
  { name: 'hono', app: 'examples/hono/app.ts', shape: 'fetch', text: 'Hello from Hono!\n', json: { framework: 'hono', ok: true }, boom: 'something broke inside the Hono app' },
];

describe('examples/: one app per shape, over HTTP/1.1, HTTPS/1.1 and HTTP/2', { concurrency: true }, () => {
  for (const example of EXAMPLES) {
    // One protocol after another within an example, so a failure is pinned on the protocol that caused it.
    describe(example.name, { concurrency: false }, () => {
      let keel;
      before(async () => {
        keel = await startExample(example.app);
      });
      after(() => keel?.stop());

      test(`the banner names the detected shape (${example.shape})`, () => {
        const escaped = example.app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        assert.match(keel.stderr, new RegExp(`^\\s+app\\s+${escaped} \\(${example.shape}\\)$`, 'm'));
      });

      for (const protocol of PROTOCOLS) {
        describe(protocol.name, () => {
          let client;
          before(() => {
            client = protocol.open(keel);
          });
          after(() => client?.close());

          test('GET / answers 200 with the text and an X-Request-Id', async () => {
            const res = await client.get('/');
            assert.equal(res.status, 200);
            assert.equal(res.body, example.text);
            assert.match(res.headers['x-request-id'], UUIDISH);
            assert.equal(res.headers['x-powered-by'], undefined);
            assert.equal(res.headers.server, undefined);
            const id = res.headers['x-request-id'];
            const line = await waitFor(() => keel.accessLines().find((l) => l.includes(id)), { timeout: 5000, what: `the access line of ${id}` });
            assert.ok(line.includes(`"GET / ${protocol.logged}" 200 `), `logged as ${protocol.logged}: ${line}`);
          });

          if (example.json) {
            test('GET /json answers JSON', async () => {
              const res = await client.get('/json');
              assert.equal(res.status, 200);
              assert.match(res.headers['content-type'], /application\/json/);
              assert.deepEqual(JSON.parse(res.body), example.json);
              assert.match(res.headers['x-request-id'], UUIDISH);
            });
          }

          if (example.boom) {
            test('GET /boom (the app throws) gives the generic 500 with the request ID and no error text', async () => {
              await assertGenericFailure(keel, client, '/boom', example.boom);
              assertOnlyKeelOutput(keel);
            });
          }

          if (example.name === 'express') {
            test(`GET /client shows req.keel: client address, scheme (${protocol.scheme}) and the request ID`, async () => {
              const direct = await client.get('/client');
              assert.deepEqual(JSON.parse(direct.body), { clientAddress: '127.0.0.1', scheme: protocol.scheme, id: direct.headers['x-request-id'] });
              // The peer is loopback, trusted by default: its forwarded headers are believed.
              const proxied = await client.get('/client', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' });
              assert.deepEqual(JSON.parse(proxied.body), { clientAddress: '203.0.113.9', scheme: 'https', id: proxied.headers['x-request-id'] });
            });
          }

          if (example.name === 'hono') {
            test(`GET /stream: a ReadableStream body arrives whole, ${protocol.chunked ? 'chunked' : 'in DATA frames'}, not buffered into a Content-Length`, async () => {
              const res = await client.get('/stream');
              assert.equal(res.status, 200);
              assert.equal(res.headers['content-length'], undefined);
              assert.equal(res.headers['transfer-encoding'], protocol.chunked ? 'chunked' : undefined);
              assert.equal(res.body, 'chunk 1\nchunk 2\nchunk 3\n');
            });
          }
        });
      }
    });
  }
});

const SPECS = [
  { form: 'file:namedExport (.ts)', app: 'test/fixtures/spec-named.ts:api', text: 'named export api\n', boom: 'spec-named failure' },
  { form: 'file:factory() with an async factory (.mts)', app: 'test/fixtures/spec-factory.mts:create()', text: 'made by async factory\n', boom: 'spec-factory failure' },
  { form: '.mjs with an `app` export and no default', app: 'test/fixtures/spec-esm.mjs', text: 'mjs app export\n', boom: 'spec-esm failure' },
  { form: '.cjs with module.exports = listener', app: 'test/fixtures/spec-listener.cjs', text: 'cjs module.exports\n', boom: 'spec-cjs failure' },
  { form: '.js (ESM) default export, async listener that rejects', app: 'test/fixtures/spec-plain.js', text: 'js default export\n', boom: 'spec-js failure' },
  {
    form: 'file:factory() returning a Fastify instance it booted itself (awaited ready()): 4xx and its own error handlers are kept',
    app: 'test/fixtures/spec-fastify-ready.mjs:build()',
    shape: 'fastify',
    text: 'booted fastify\n',
    boom: 'spec-fastify-ready failure',
    async more(client) {
      assert.equal((await client.get('/teapot')).status, 418);
      assert.equal((await client.get('/no-such-route')).status, 404);
      const own = await client.get('/own-handler');
      assert.equal(own.status, 503);
      assert.deepEqual(JSON.parse(own.body), { handledBy: 'plugin', message: 'handled by the plugin' });
    },
  },
];

describe('APP spec forms', { concurrency: true }, () => {
  for (const spec of SPECS) {
    test(spec.form, async (t) => {
      const keel = await startKeel(spec.app, ['--graceful-timeout', '2'], { workers: 1 });
      t.after(() => keel.stop());
      assert.match(keel.stderr, new RegExp(`^\\s+app\\s+.+ \\(${spec.shape ?? 'listener'}\\)$`, 'm'));
      const client = http1Client(keel.url);
      t.after(() => client.close());
      const res = await client.get('/');
      assert.equal(res.status, 200);
      assert.equal(res.body, spec.text);
      assert.match(res.headers['x-request-id'], UUIDISH);
      await assertGenericFailure(keel, client, '/boom', spec.boom);
      await spec.more?.(client);
      assertOnlyKeelOutput(keel);
    });
  }
});

test('a .ts app in a project without "type": "module" (compiled to CommonJS by tsx): default and named exports', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'plain-cjs-project', private: true }));
  writeFileSync(
    join(dir, 'server.ts'),
    [
      "import type { IncomingMessage, ServerResponse } from 'node:http';",
      "const greeting: string = 'plain project';",
      'export default function main(_req: IncomingMessage, res: ServerResponse): void { res.end(`default ${greeting}\\n`); }',
      'export const other = (_req: IncomingMessage, res: ServerResponse): void => { res.end(`other ${greeting}\\n`); };',
      '',
    ].join('\n'),
  );
  const byDefault = await startKeel('server.ts', [], { cwd: dir, workers: 1 });
  t.after(() => byDefault.stop());
  const byName = await startKeel('server.ts:other', [], { cwd: dir, workers: 1 });
  t.after(() => byName.stop());
  for (const [keel, text] of [[byDefault, 'default plain project\n'], [byName, 'other plain project\n']]) {
    const client = http1Client(keel.url);
    t.after(() => client.close());
    assert.equal((await client.get('/')).body, text);
  }
});
