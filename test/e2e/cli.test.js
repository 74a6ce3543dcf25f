// The command line: bad input is one clear line and exit status 2 before anything listens or any
// app code runs; --help and --version; binds (repeatable, unix sockets, non-loopback with a
// warning) and the start-up banner.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Client, request } from 'undici';
import { KEEL, ROOT, killTree, runCommand, runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { connectable, freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const HELLO = 'examples/hello/app.ts';
const MARKER_APP = 'test/fixtures/spec-marker.mjs';

/**
 * Runs `keel serve` expecting a usage failure: exit 2, one `keel: ...` line on stderr, nothing on
 * stdout, nothing listening on the addresses it was given, and the app never imported.
 */
async function expectRefusal(args, { env = {}, app = MARKER_APP } = {}) {
  const port = await freePort();
  const adminPort = await freePort();
  const marker = join(tempDir(), 'loaded');
  const hasBind = args.some((a) => a === '-b' || a === '--bind');
  const hasAdmin = args.includes('--admin');
  const full = ['serve', ...(app ? [app] : []), ...(hasBind ? [] : ['--bind', `127.0.0.1:${port}`]), ...(hasAdmin ? [] : ['--admin', `127.0.0.1:${adminPort}`]), ...args];
  const result = await runKeel(full, { env: { SPEC_MARKER_PATH: marker, ...env } });
  assert.equal(result.code, 2, `expected exit status 2, got ${result.code}\nstderr: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const stderrLines = result.stderr.trimEnd().split('\n');
  assert.equal(stderrLines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(stderrLines[0], /^keel: \S/);
  assert.ok(!existsSync(marker), 'the app was loaded although the command was refused');
  if (!hasBind) assert.equal(await connectable(port), false, 'something listens on the bind address');
  if (!hasAdmin) assert.equal(await connectable(adminPort), false, 'something listens on the admin address');
  return stderrLines[0];
}

describe('bad input: exit 2, one line naming the setting and what is allowed, nothing started', () => {
  test('--workers banana', async () => {
    const line = await expectRefusal(['--workers', 'banana']);
    assert.equal(line, 'keel: --workers: "banana" is not valid; expected a whole number from 1 to 1024');
  });

  test('-w 0 (out of range) and --workers=2.5 (not whole)', async () => {
    assert.match(await expectRefusal(['-w', '0']), /^keel: --workers: "0" is not valid; expected a whole number from 1 to 1024$/);
    assert.match(await expectRefusal(['--workers=2.5']), /^keel: --workers: "2.5" is not valid/);
  });

  test('KEEL_WORKERS=banana names KEEL_WORKERS', async () => {
    const line = await expectRefusal([], { env: { KEEL_WORKERS: 'banana' } });
    assert.equal(line, 'keel: KEEL_WORKERS: "banana" is not valid; expected a whole number from 1 to 1024');
  });

  test('other value types say what they allow', async () => {
    assert.match(await expectRefusal(['--timeout', 'soon']), /^keel: --timeout: "soon" is not valid; expected a number of seconds .*units ms, s, m, h/);
    assert.match(await expectRefusal(['--max-body', 'huge']), /^keel: --max-body: "huge" is not valid; expected a size in bytes/);
    assert.match(await expectRefusal(['--log-level', 'loud']), /^keel: --log-level: "loud" is not valid; expected one of debug, info, warning, error, critical$/);
    assert.match(await expectRefusal(['--bind', '127.0.0.1:99999']), /^keel: --bind: "127.0.0.1:99999" is not valid; expected HOST:PORT, \[IPv6\]:PORT or unix:/);
    assert.match(await expectRefusal(['--admin', 'nowhere:port']), /^keel: --admin: .* or off$/);
    assert.match(await expectRefusal(['--forwarded-allow-ips', '10.0.0.0/99']), /^keel: --forwarded-allow-ips: .*CIDR/);
    assert.match(await expectRefusal(['--access-logformat', '%(bogus']), /^keel: --access-logformat: /);
  });

  test('an unknown flag: exit 2, naming it (with a suggestion for a near miss)', async () => {
    assert.equal(await expectRefusal(['--wrokers', '2']), "keel: unknown option '--wrokers'; did you mean --workers?");
    assert.equal(await expectRefusal(['--frobnicate']), "keel: unknown option '--frobnicate'");
    assert.match(await expectRefusal(['--workers']), /^keel: option '-w, --workers <value>' argument missing$/);
  });

  test('the port is in use: exit 2 "already in use", naming --bind and the address', async (t) => {
    const blocker = createServer();
    await new Promise((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    t.after(() => blocker.close());
    const { port } = blocker.address();
    const line = await expectRefusal(['--bind', `127.0.0.1:${port}`]);
    assert.equal(line, `keel: --bind: 127.0.0.1:${port} is already in use by another process`);
  });

  test('the admin port is in use: exit 2, naming --admin', async (t) => {
    const blocker = createServer();
    await new Promise((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    t.after(() => blocker.close());
    const { port } = blocker.address();
    const line = await expectRefusal(['--admin', `127.0.0.1:${port}`]);
    assert.match(line, new RegExp(`^keel: --admin: 127\\.0\\.0\\.1:${port} is already in use`));
  });

  test('the port is taken after keel checked it, while the worker loads the app: exit 2 naming --bind, not a crash loop', async (t) => {
    // The app takes 1.5 s to import, so the port can be taken between the primary's check and the worker's listen.
    const dir = tempDir();
    writeFileSync(join(dir, 'slow.mjs'), 'await new Promise((r) => setTimeout(r, 1500));\nexport default (req, res) => res.end("late");\n');
    const port = await freePort();
    const adminPort = await freePort();
    const keel = spawn(process.execPath, ['--', KEEL, 'serve', join(dir, 'slow.mjs'), '-w', '2', '--bind', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--log-level', 'debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let exit = null;
    keel.on('exit', (code) => (exit = { code }));
    t.after(() => exit || killTree(keel.pid));
    let stderr = '';
    keel.stderr.on('data', (d) => (stderr += d));
    await waitFor(() => exit || stderr.includes('"msg":"worker starting"'), { timeout: 20_000, what: 'the first worker to start' });
    assert.equal(exit, null, stderr);
    const blocker = createServer();
    await new Promise((resolve) => blocker.listen({ host: '127.0.0.1', port }, resolve));
    t.after(() => blocker.close());
    await waitFor(() => exit, { timeout: 20_000, what: 'keel to stop' });
    assert.equal(exit.code, 2, stderr);
    assert.match(stderr, new RegExp(`^keel: --bind: 127\\.0\\.0\\.1:${port} is already in use by another process$`, 'm'));
    assert.doesNotMatch(stderr, /keep exiting/);
    assert.equal(stderr.split('\n').filter((l) => l.includes('"msg":"worker starting"')).length, 2, 'one generation of workers, no restarts');
  });

  test('a Node older than 22.12: exit 2 naming the version needed, not a TypeError from deep inside', async () => {
    // The version is faked before keel's launcher runs, so the test needs no old Node (one that is
    // on PATH, as Debian's, is tried too).
    const fake = `data:text/javascript,Object.defineProperty(process.versions, 'node', { value: '22.11.0' })`;
    const marker = join(tempDir(), 'loaded');
    const port = await freePort();
    const result = await runCommand(process.execPath, ['--import', fake, '--', KEEL, 'serve', MARKER_APP, '--bind', `127.0.0.1:${port}`, '--admin', 'off'], { env: { ...process.env, SPEC_MARKER_PATH: marker } });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^keel: needs Node\.js 22\.12 or later; this is v\S+ \(.+\)\.\n$/);
    assert.ok(!existsSync(marker), 'the app was not loaded');
    assert.equal(await connectable(port), false);
    const old = await runCommand('/usr/bin/node', ['--version']).catch(() => null);
    const [major, minor] = (old?.stdout.trim().slice(1) ?? '').split('.').map(Number);
    if (old?.code === 0 && (major < 22 || (major === 22 && minor < 12))) {
      const real = await runCommand('/usr/bin/node', ['--', KEEL, 'serve', MARKER_APP, '--bind', `127.0.0.1:${port}`, '--admin', 'off'], { env: { ...process.env, SPEC_MARKER_PATH: marker } });
      assert.equal(real.code, 2, real.stderr);
      assert.equal(real.stderr, `keel: needs Node.js 22.12 or later; this is ${old.stdout.trim()} (/usr/bin/node).\n`);
    }
  });

  test('no APP: exit 2 with the usage', async () => {
    const line = await expectRefusal([], { app: null });
    assert.match(line, /^keel: APP: missing; usage: keel serve /);
  });

  test('an APP file that does not exist: exit 2 naming it', async () => {
    assert.equal(await expectRefusal([], { app: 'nope/app.ts' }), 'keel: APP: file nope/app.ts does not exist');
  });

  test('an APP that is not a module path: exit 2 saying what APP looks like', async () => {
    assert.match(await expectRefusal([], { app: 'README.md' }), /^keel: APP: "README.md" is not valid; expected path\/to\/file\[:export\]/);
  });

  test('an APP export that does not exist: exit 2 naming it and what the file exports', async () => {
    const result = await runKeel(['serve', 'test/fixtures/spec-named.ts:nope', '--bind', `127.0.0.1:${await freePort()}`, '--admin', 'off', '--workers', '1']);
    assert.equal(result.code, 2, result.stderr);
    const line = result.stderr.split('\n').find((l) => l.startsWith('keel: '));
    assert.match(line, /^keel: APP: test\/fixtures\/spec-named\.ts has no export nope \(it exports: .*api/);
  });
});

describe('--help and --version', () => {
  test('serve --help exits 0 and lists every flag of the settings table, with its short form and KEEL_* variable', async () => {
    const { settings, envName } = await import('../../dist/config/settings.js');
    const result = await runKeel(['serve', '--help']);
    assert.equal(result.code, 0, result.stderr);
    const text = result.stdout.replace(/\s+/g, ' ');
    for (const entry of settings) {
      assert.ok(text.includes(`--${entry.flag}`), `--help does not list --${entry.flag}`);
      if (entry.short) assert.ok(text.includes(`-${entry.short}, --${entry.flag}`), `--help does not list -${entry.short}`);
      if (!entry.cliOnly) assert.ok(text.includes(envName(entry)), `--help does not name ${envName(entry)}`);
    }
  });

  test('keel --help exits 0 and lists the serve command', async () => {
    const result = await runKeel(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /serve \[options\] \[APP\]/);
  });

  test('--version and -v print the package.json version and exit 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-v']) {
      const result = await runKeel([flag]);
      assert.equal(result.code, 0);
      assert.equal(result.stdout.trim(), version);
    }
  });
});

describe('binds and the banner', () => {
  test('a non-loopback bind without TLS starts, with a warning in the banner', async (t) => {
    const port = await freePort('0.0.0.0');
    const keel = await startKeel(HELLO, ['--bind', `0.0.0.0:${port}`], { workers: 1 });
    t.after(() => keel.stop());
    assert.match(keel.stderr, new RegExp(`^\\s+listen\\s+http://0\\.0\\.0\\.0:${port}$`, 'm'));
    assert.match(keel.stderr, new RegExp(`^\\s+warning\\s+listening on 0\\.0\\.0\\.0:${port} without TLS`, 'm'));
    // Only ever talk to it over loopback.
    const res = await request(`http://127.0.0.1:${port}/`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'Hello, world!\n');
    await keel.stop();
  });

  test('a loopback-only start has no TLS warning', async (t) => {
    const keel = await startKeel(HELLO, [], { workers: 1 });
    t.after(() => keel.stop());
    assert.ok(!/without TLS/.test(keel.stderr), keel.stderr);
  });

  test('-b is repeatable: two binds both serve; the banner lists every URL, the worker count and "production"', async (t) => {
    const [a, b] = [await freePort(), await freePort()];
    const keel = await startKeel(HELLO, ['-b', `127.0.0.1:${a}`, '--bind', `127.0.0.1:${b}`], { workers: 2 });
    t.after(() => keel.stop());
    for (const port of [a, b]) {
      const res = await request(`http://127.0.0.1:${port}/`);
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'Hello, world!\n');
      assert.ok(keel.stderr.includes(`http://127.0.0.1:${port}`), `the banner does not list port ${port}`);
    }
    assert.match(keel.stderr, /production/);
    assert.match(keel.stderr, /^\s+workers\s+2$/m);
    assert.match(keel.stderr, new RegExp(`^\\s+admin\\s+http://127\\.0\\.0\\.1:${keel.adminPort}`, 'm'));
    assert.match(keel.stderr, /^keel \d+\.\d+\.\d+/m);
  });

  test('a unix socket bind serves, and the banner lists it', async (t) => {
    const path = join(tempDir(), 'k.sock');
    const keel = await startKeel(HELLO, ['--bind', `unix:${path}`], { workers: 1 });
    t.after(() => keel.stop());
    const client = new Client('http://localhost', { socketPath: path });
    t.after(() => client.close());
    const res = await client.request({ path: '/', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.ok(res.headers['x-request-id']);
    assert.equal(await res.body.text(), 'Hello, world!\n');
    assert.ok(keel.stderr.includes(`unix:${path}`), keel.stderr);
  });

  test('--admin off: no admin listener, and the banner says so', async (t) => {
    const port = await freePort();
    // startKeel waits on /readyz, which is off here: wait for the banner instead.
    const keel = await startKeel(HELLO, ['--bind', `127.0.0.1:${port}`, '--admin', 'off'], { workers: 1, waitReady: false });
    t.after(() => keel.stop());
    const { waitFor } = await import('../helpers/wait.js');
    await waitFor(() => /^\s+admin\s+off$/m.test(keel.stderr), { what: 'the banner with admin off' });
    const res = await request(`http://127.0.0.1:${port}/`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
  });
});

describe('process settings', () => {
  test('--pid writes the primary pid while keel runs and removes the file when it stops', async (t) => {
    const pidFile = join(tempDir(), 'keel.pid');
    const keel = await startKeel(HELLO, ['--pid', pidFile], { workers: 1 });
    t.after(() => keel.stop());
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(keel.pid));
    keel.signal('SIGTERM');
    assert.equal((await keel.waitExit()).code, 0);
    assert.equal(existsSync(pidFile), false, 'the pid file is removed on exit');
  });

  test('--user and --group run the workers unprivileged; the primary keeps its own', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
    const keel = await startKeel(HELLO, ['--user', 'nobody', '--group', '65534'], { workers: 1 });
    t.after(() => keel.stop());
    const uidOf = (pid) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    const gidOf = (pid) => Number(/^Gid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    const [worker] = keel.workerPids();
    assert.equal(uidOf(worker), 65534);
    assert.equal(gidOf(worker), 65534);
    assert.equal(uidOf(keel.pid), 0);
    const res = await request(keel.url);
    assert.equal(res.statusCode, 200);
    await res.body.text();
  });

  test('--user needs root, and an unknown user is refused', async () => {
    if (process.getuid?.() === 0) {
      const result = await runKeel(['serve', HELLO, '--user', 'no-such-user-keel', '--admin', 'off', '-b', `127.0.0.1:${await freePort()}`]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^keel: --user: no user named "no-such-user-keel"/);
    } else {
      const result = await runKeel(['serve', HELLO, '--user', 'nobody', '--admin', 'off', '-b', `127.0.0.1:${await freePort()}`]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /needs keel to start as root/);
    }
  });
});

describe('a second real client', () => {
  test('curl gets the same safe answer: 200, X-Request-Id, no Server or X-Powered-By, and the generic 500', async (t) => {
    const keel = await startKeel('examples/express/app.ts', [], { workers: 1 });
    t.after(() => keel.stop());
    const { execFileSync } = await import('node:child_process');
    const head = execFileSync('curl', ['-sS', '--max-time', '10', '-D', '-', '-o', '/dev/null', `${keel.url}/`], { encoding: 'utf8' });
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /^x-request-id: \S+/im);
    assert.doesNotMatch(head, /^(server|x-powered-by):/im);
    const failure = execFileSync('curl', ['-sS', '--max-time', '10', '-H', 'Accept: application/json', '-w', '\n%{http_code}', `${keel.url}/boom`], { encoding: 'utf8' });
    // The body ends in a newline, then -w adds its own line with the status.
    const code = failure.slice(failure.lastIndexOf('\n') + 1);
    const body = failure.slice(0, failure.lastIndexOf('\n'));
    assert.equal(code, '500');
    assert.deepEqual(Object.keys(JSON.parse(body)).sort(), ['error', 'requestId', 'status']);
  });
});
