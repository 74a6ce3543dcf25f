// `npm test`: installs the real peers the tests need (Debian packages), builds keel if its sources
// changed, then runs every test file with Node's test runner.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEBIAN_PYTHON, GUNICORN, findBin, pythonImports } from '../bench/tools.js';

const ROOT = resolve(import.meta.dirname, '..');

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * What the tests need: how to tell it is here, and the Debian package that provides it. Python
 * modules and Gunicorn are Debian's own (bench/tools.js knows where), not the PATH's: a python3
 * on PATH (pyenv, say) can carry a `flask` command while Debian's gunicorn cannot import Flask.
 */
const PEERS = [
  ['curl', () => onPath('curl')],
  ['pebble', () => onPath('pebble')],
  ['nghttp2-client', () => onPath('h2load')],
  ['openssl', () => onPath('openssl')],
  ['gunicorn', () => existsSync(GUNICORN)],
  ['python3-flask', () => pythonImports('flask')],
  ['redis-server', () => onPath('redis-server')],
  ['python3', () => existsSync(DEBIAN_PYTHON)],
  // keel init's unit is checked with systemd-analyze verify; keel's sd_notify runs systemd-notify.
  ['systemd', () => onPath('systemd-analyze') && onPath('systemd-notify')],
  ['nginx', () => findBin('nginx') !== null],
  // doctor --url is tested against Django's runserver with DEBUG on (Debian's python3 and Django).
  ['python3-django', () => pythonImports('django')],
  // The status page is tested in a real headless Chromium (driven by playwright-core).
  ['chromium', () => onPath('chromium')],
];

function ensurePeers() {
  const missing = PEERS.filter(([, present]) => !present()).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  const line = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`The tests need these Debian packages: ${missing.join(', ')}.\nInstall them as root, then run npm test again:\n  ${line}`);
    process.exit(1);
  }
  console.log(`installing test peers: ${line}`);
  execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${line}`], { stdio: 'inherit' });
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  console.log('building keel (tsc)');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
}

/**
 * The longest files (20-60 s each on this machine) start first, so that with two files at a time
 * the run does not end on one of them alone.
 */
const LONGEST_FIRST = ['upstream-apps', 'proxy', 'doctor-audit', 'process-model', 'tls', 'signals', 'doctor-probe', 'metrics'].map((name) => `test/e2e/${name}.test.js`);

/**
 * Files the Node 22.12 pass leaves to the Node 24 pass, to keep CI's time down (every file on both
 * runtimes took 14.4 min there). Chosen with V8 coverage of keel's own code (dist/, each file run
 * alone under NODE_V8_COVERAGE, every keel stopped with TERM so that it wrote its coverage): the
 * other files still execute every function the whole suite executes, and 99.3 % of its blocks (the
 * rest: the response cache's revalidation branches). These five test logic that does not touch
 * what differs between Node 22 and 24 (the HTTP parser, TLS, cluster, module loading): ACME
 * through acme-client, the status page inside Chromium, cache revalidation, the route table, and
 * Gunicorn behind the proxy, whose Node side proxy.test.js and proxy-buffering.test.js cover.
 * KEEL_TEST_ALL_RUNTIMES=1 runs every file on both.
 */
const NEWEST_RUNTIME_ONLY = new Set(['acme-module', 'cache-revalidate', 'proxy-flask', 'routes', 'status-page-render'].map((name) => `test/e2e/${name}.test.js`));

function testFiles() {
  const only = process.argv.slice(2);
  if (only.length) return only;
  const files = [];
  for (const dir of ['test/unit', 'test/e2e']) {
    const full = join(ROOT, dir);
    if (!existsSync(full)) continue;
    for (const name of readdirSync(full).sort()) if (name.endsWith('.test.js')) files.push(join(dir, name));
  }
  // A renamed file would otherwise drop out of these lists without a word.
  const stale = [...LONGEST_FIRST, ...NEWEST_RUNTIME_ONLY].filter((listed) => !files.includes(listed));
  if (stale.length > 0) {
    console.error(`test/run.js names test files that do not exist: ${stale.join(', ')}`);
    process.exit(1);
  }
  const rank = (file) => {
    const i = LONGEST_FIRST.indexOf(file);
    return i === -1 ? LONGEST_FIRST.length : i;
  };
  return files.sort((a, b) => rank(a) - rank(b));
}

/**
 * keel supports Node 22.12+ as well as the pinned 24, so the suite runs on both. Node 22.12 comes
 * from the npm registry into node_modules/.cache, like a test peer; it cannot be a devDependency
 * because its `node` bin would replace the pinned one.
 */
const OLDEST_NODE = '22.12.0';

function ensureOldestNode() {
  const prefix = join(ROOT, 'node_modules', '.cache', `node-${OLDEST_NODE}`);
  const binary = join(prefix, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(binary)) return binary;
  console.log(`installing Node ${OLDEST_NODE} for the oldest-runtime run: npm install --prefix ${prefix} node@${OLDEST_NODE}`);
  execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `node@${OLDEST_NODE}`], { stdio: 'inherit' });
  return binary;
}

const totals = { passed: 0, failed: 0, skipped: 0 };

/** Runs the suite on one runtime, passing its output through and adding up its summary lines. */
function runSuite(node, label, files) {
  console.log(`\n# keel test suite on ${label}: ${files.length} files`);
  return new Promise((resolvePromise) => {
    // KEEL_TEST_DURATIONS=1 adds each file's time, slowest first, after the run (on stderr).
    const durations = process.env.KEEL_TEST_DURATIONS ? ['--test-reporter=./test/helpers/durations-reporter.js', '--test-reporter-destination=stderr'] : [];
    const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', ...durations];
    const child = spawn(node, ['--test', ...reporters, '--test-concurrency=2', '--test-timeout=120000', ...files], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      // The summary lines come before the list of failures, which can be long.
      tail = (tail + chunk).slice(-2_000_000);
    });
    child.on('close', (code) => {
      for (const [key, word] of [['passed', 'pass'], ['failed', 'fail'], ['skipped', 'skipped']]) {
        const match = new RegExp(`^ℹ ${word} (\\d+)$`, 'm').exec(tail);
        totals[key] += match ? Number(match[1]) : 0;
      }
      // A runner that failed without a countable failure (a crash, a file that did not load) still fails the line.
      if (code !== 0 && !/^ℹ fail [1-9]/m.test(tail)) totals.failed += 1;
      resolvePromise(code ?? 1);
    });
  });
}

ensurePeers();
ensureBuilt();
const files = testFiles();
let status = await runSuite(process.execPath, `Node ${process.versions.node}`, files);
// A run limited to some files, or KEEL_TEST_ONE_RUNTIME=1, is for working on a test: one runtime is enough.
if (status === 0 && process.argv.length <= 2 && !process.env.KEEL_TEST_ONE_RUNTIME) {
  const oldest = process.env.KEEL_TEST_ALL_RUNTIMES ? files : files.filter((file) => !NEWEST_RUNTIME_ONLY.has(file));
  status = await runSuite(ensureOldestNode(), `Node ${OLDEST_NODE}`, oldest);
}
// One closing line over every runtime, after the runners' own (which end with the list of todo tests).
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(status);
