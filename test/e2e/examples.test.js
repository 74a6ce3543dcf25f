// Every example app (one per shape) and every APP spec form, served by the real CLI: the right
// shape is detected, routes answer, app failures become the generic 500 with a request ID (the
// error itself only in the error log), and streaming bodies stream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKeel, tempDir } from '../helpers/keel.js';
import { waitFor } from '../helpers/wait.js';

const UUIDISH = /^[A-Za-z0-9._-]{8,}$/;

async function get(url, headers = {}) {
  const res = await request(url, { headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

/** Every stderr line is the banner or a JSON error-log line: nothing printed behind keel's back (console.error, raw stacks). */
function assertOnlyKeelOutput(handle) {
  const stray = handle.stderr.split('\n').filter((line) => line && !line.startsWith('{') && !line.startsWith('keel ') && !line.startsWith('  '));
  assert.deepEqual(stray, [], `unexpected raw output on stderr:\n${handle.stderr}`);
}

/** /boom must answer 500 with only the status and the request ID (HTML and JSON), and log the full error under that ID. */
async function assertGenericFailure(handle, path, secretText) {
  const html = await get(`${handle.url}${path}`);
  assert.equal(html.status, 500);
  const htmlId = html.headers['x-request-id'];
  assert.match(htmlId, UUIDISH);
  assert.match(html.headers['content-type'], /text\/html/);
  assert.ok(html.body.includes(htmlId), 'the HTML page carries the request ID');
  for (const leak of [secretText, 's3cr3t', 'Error:', ' at ', '.ts:', '.js:', 'stack']) assert.ok(!html.body.includes(leak), `500 page leaks ${JSON.stringify(leak)}: ${html.body}`);

  const json = await get(`${handle.url}${path}`, { accept: 'application/json' });
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

describe('examples/: one app per shape', { concurrency: true }, () => {
  for (const example of EXAMPLES) {
    describe(example.name, () => {
      let keel;
      before(async () => {
        keel = await startKeel(example.app, ['--graceful-timeout', '2'], { workers: 1 });
      });
      after(() => keel?.stop());

      test(`the banner names the detected shape (${example.shape})`, () => {
        const escaped = example.app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        assert.match(keel.stderr, new RegExp(`^\\s+app\\s+${escaped} \\(${example.shape}\\)$`, 'm'));
      });

      test('GET / answers 200 with the text and an X-Request-Id', async () => {
        const res = await get(`${keel.url}/`);
        assert.equal(res.status, 200);
        assert.equal(res.body, example.text);
        assert.match(res.headers['x-request-id'], UUIDISH);
        assert.equal(res.headers['x-powered-by'], undefined);
        assert.equal(res.headers.server, undefined);
      });

      if (example.json) {
        test('GET /json answers JSON', async () => {
          const res = await get(`${keel.url}/json`);
          assert.equal(res.status, 200);
          assert.match(res.headers['content-type'], /application\/json/);
          assert.deepEqual(JSON.parse(res.body), example.json);
          assert.match(res.headers['x-request-id'], UUIDISH);
        });
      }

      if (example.boom) {
        test('GET /boom (the app throws) gives the generic 500 with the request ID and no error text', async () => {
          await assertGenericFailure(keel, '/boom', example.boom);
          assertOnlyKeelOutput(keel);
        });
      }

      if (example.name === 'express') {
        test('GET /client shows req.keel: client address, scheme and the request ID', async () => {
          const direct = await get(`${keel.url}/client`);
          assert.deepEqual(JSON.parse(direct.body), { clientAddress: '127.0.0.1', scheme: 'http', id: direct.headers['x-request-id'] });
          // The peer is loopback, trusted by default: its forwarded headers are believed.
          const proxied = await get(`${keel.url}/client`, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' });
          assert.deepEqual(JSON.parse(proxied.body), { clientAddress: '203.0.113.9', scheme: 'https', id: proxied.headers['x-request-id'] });
        });
      }

      if (example.name === 'hono') {
        test('GET /stream: a ReadableStream body arrives whole, chunked, not buffered into a Content-Length', async () => {
          const res = await request(`${keel.url}/stream`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers['content-length'], undefined);
          assert.equal(res.headers['transfer-encoding'], 'chunked');
          const chunks = [];
          for await (const chunk of res.body) chunks.push(chunk.toString());
          assert.equal(chunks.join(''), 'chunk 1\nchunk 2\nchunk 3\n');
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
];

describe('APP spec forms', { concurrency: true }, () => {
  for (const spec of SPECS) {
    test(spec.form, async (t) => {
      const keel = await startKeel(spec.app, ['--graceful-timeout', '2'], { workers: 1 });
      t.after(() => keel.stop());
      assert.match(keel.stderr, /^\s+app\s+.+ \(listener\)$/m);
      const res = await get(`${keel.url}/`);
      assert.equal(res.status, 200);
      assert.equal(res.body, spec.text);
      assert.match(res.headers['x-request-id'], UUIDISH);
      await assertGenericFailure(keel, '/boom', spec.boom);
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
  assert.equal((await get(`${byDefault.url}/`)).body, 'default plain project\n');
  assert.equal((await get(`${byName.url}/`)).body, 'other plain project\n');
});
