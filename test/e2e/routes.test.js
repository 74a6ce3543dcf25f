// Routes from flags and the config file: keel with no APP serves only its routes (404 elsewhere),
// a route prefix wins over the app, and route mistakes stop keel with one line and exit status 2
// before anything listens.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { runKeel, startKeel, tempDir } from '../helpers/keel.js';

const HELLO = 'examples/hello/app.ts';

async function get(url) {
  const res = await request(url);
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

test('without an APP, keel serves only its routes; other paths get the generic 404 with a request ID', async (t) => {
  const root = tempDir();
  writeFileSync(join(root, 'a.txt'), 'hi');
  const keel = await startKeel(null, ['--static', `/files=${root}`], { workers: 1 });
  t.after(() => keel.stop());
  const missing = await get(`${keel.url}/elsewhere`);
  assert.equal(missing.status, 404);
  assert.match(missing.body, new RegExp(missing.headers['x-request-id']));
  assert.ok(keel.stderr.includes(`/files → files in ${root}`), 'the banner lists the route');
  assert.doesNotMatch(keel.stderr, /\n {2}app /);
});

test('a route prefix takes its path and everything under it, on segment boundaries; the rest reaches the app', async (t) => {
  const root = tempDir();
  const keel = await startKeel(HELLO, ['--static', `/hello-files=${root}`], { workers: 1 });
  t.after(() => keel.stop());
  // The app answers "hello" on every path; the static route answers something else (not "hello").
  assert.match((await get(`${keel.url}/hello-filesx`)).body, /hello/i);
  assert.match((await get(`${keel.url}/`)).body, /hello/i);
  for (const path of ['/hello-files', '/hello-files/x', '/%68ello-files/x', '/a/../hello-files/x']) {
    assert.doesNotMatch((await get(`${keel.url}${path}`)).body, /^hello/i, path);
  }
});

test('route mistakes: one line naming the problem, exit status 2, nothing started', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'public'));
  const cases = [
    [['serve', '--static', '/x=./does-not-exist'], /--static \/x: .*does-not-exist is not a directory/],
    [['serve', '--static', '/x=./public', '--proxy', '/x=http://127.0.0.1:1'], /the prefix \/x is declared twice/],
    [['serve', join(process.cwd(), HELLO), '--run', 'server --port {port}'], /--run: it takes \/ and so would hide APP/],
    [['serve', '--run', 'server --port 8080'], /--run: .* is not valid; expected a server command with \{port\} or \{socket\}/],
    [['serve', '--proxy', 'api=http://127.0.0.1:1'], /--proxy: "api=http:\/\/127.0.0.1:1" is not valid; expected PREFIX=URL/],
    [['serve', '--rate-limit', 'lots'], /--rate-limit: "lots" is not valid/],
    [['serve'], /APP: missing; usage: .*or routes only with --static, --proxy or --run/],
  ];
  for (const [args, message] of cases) {
    const result = await runKeel([...args.slice(0, 1), ...args.slice(1), '--admin', 'off'], { cwd: dir });
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('routes in a config file: checked like flags, and shown by --print-config', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ routes: [{ path: '/assets', static: './public' }, { path: '/api', proxy: ['http://127.0.0.1:5000'], balance: 'least-conn' }] }));
  const shown = await runKeel(['serve', '--print-config'], { cwd: dir });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /routes\s+= \[\{"path":"\/assets","static":"\.\/public"\},\{"path":"\/api".*"least-conn"\}\]\s+# config file/);
  writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ routes: [{ path: '/api', proxy: ['http://127.0.0.1:5000'], balance: 'random' }] }));
  const bad = await runKeel(['serve', '--admin', 'off'], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /keel.config.json: routes: .* is not valid; expected routes\[0\]\.balance: round-robin, least-conn, hash-ip or hash-header:NAME/);
});
