// `keel doctor` auditing a configuration and its host: every finding is produced by a real config
// (flags, env, files, a lowered open-file limit, a cgroup, a small filesystem) that has the flaw and
// absent from one that does not; JSON and human output; exit statuses 0, 1 and 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { makeCertificates } from '../helpers/certs.js';
import { KEEL, runCommand, tempDir } from '../helpers/keel.js';

const isRoot = process.getuid?.() === 0;
const pki = makeCertificates();
after(() => pki.cleanup());
const fresh = pki.leaf('fresh.example', { days: 90 });

/** The environment doctor runs with: the test's, minus anything that would add findings of its own. */
function baseEnv(extra) {
  const env = { ...process.env, NODE_ENV: 'production' };
  for (const name of Object.keys(env)) if (name.startsWith('KEEL_') || ['FLASK_DEBUG', 'FLASK_ENV', 'DEBUG', 'NODE_OPTIONS', 'FORCE_COLOR', 'NO_COLOR'].includes(name)) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/**
 * Runs `[...prefix] node keel doctor ARGS` in `cwd` (a fresh temp dir by default) and resolves
 * { code, stdout, stderr, ids, json }. `user: false` leaves out the --user nobody every run gets;
 * `argv` runs that command instead, as it is.
 */
async function doctor(args, { env = {}, cwd = tempDir('keel-doctor-'), prefix = [], json = true, user = true, timeout = 30_000, argv = null } = {}) {
  const full = [KEEL, 'doctor', '--workers', '2', ...(user ? ['--user', 'nobody'] : []), ...args, ...(json ? ['--json'] : [])];
  const [command, ...rest] = argv ?? [...prefix, process.execPath, ...full];
  const { code, stdout, stderr } = await runCommand(command, rest, { cwd, env: baseEnv(env), timeout });
  let parsed = null;
  if (json && code !== 2) {
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw new Error(`doctor printed no JSON (exit ${code}):\n${stdout}\n${stderr}`);
    }
  }
  return { code, stdout, stderr, json: parsed, ids: parsed ? parsed.findings.map((f) => f.id) : [] };
}

/** Asserts that `id` is among the findings of the flawed run and not among the clean run's. */
async function flawAndFix(id, flawed, clean) {
  const bad = await flawed;
  assert.ok(bad.ids.includes(id), `expected ${id} in ${JSON.stringify(bad.ids)}\n${bad.stderr}`);
  const good = await clean;
  assert.ok(!good.ids.includes(id), `expected no ${id} in ${JSON.stringify(good.ids)}`);
  const finding = bad.json.findings.find((f) => f.id === id);
  for (const field of ['title', 'why', 'fix']) assert.ok(finding[field].length > 10, `${id} has a ${field}`);
  return { bad, good, finding };
}

/** Findings about the machine the tests run on (a CI container's quota, its disk): not the config's. */
const HOST_IDS = new Set(['open-file-limit-low', 'workers-exceed-cpu-quota', 'memory-limit-below-workers', 'log-disk-low']);
const configIds = (run) => run.ids.filter((id) => !HOST_IDS.has(id));

describe('a clean production config', () => {
  test('has no finding about the config, none severe, and exits 0', async () => {
    const run = await doctor(['--bind', '127.0.0.1:8000']);
    assert.deepEqual(configIds(run), []);
    assert.equal(run.code, 0);
    assert.equal(run.json.summary.severe, 0);
  });
  test('public HTTPS with a fresh certificate has no severe finding', async () => {
    const run = await doctor(['--bind', '0.0.0.0:8443', '--certfile', fresh.cert, '--keyfile', fresh.key]);
    assert.equal(run.json.summary.severe, 0, JSON.stringify(run.ids));
    assert.equal(run.code, 0);
  });
});

describe('listening', () => {
  test('public-bind-without-tls', async () => {
    const { finding, bad } = await flawAndFix('public-bind-without-tls', doctor(['--bind', '0.0.0.0:8000']), doctor(['--bind', '0.0.0.0:8443', '--certfile', fresh.cert, '--keyfile', fresh.key]));
    assert.equal(finding.severity, 'severe');
    assert.match(finding.fix, /--bind 127\.0\.0\.1:8000/);
    assert.equal(bad.code, 1);
  });
  test('hsts-off', async () => {
    const tls = ['--bind', '0.0.0.0:8443', '--certfile', fresh.cert, '--keyfile', fresh.key];
    await flawAndFix('hsts-off', doctor([...tls, '--hsts', 'off']), doctor(tls));
  });
  test('forwarded-trust-all: severe beyond loopback, a warning on loopback only', async () => {
    const { finding } = await flawAndFix('forwarded-trust-all', doctor(['--bind', '10.1.2.3:8000', '--forwarded-allow-ips', '*']), doctor(['--bind', '10.1.2.3:8000', '--forwarded-allow-ips', '10.0.0.5']));
    assert.equal(finding.severity, 'severe');
    const loopback = await doctor(['--forwarded-allow-ips', '*']);
    assert.equal(loopback.json.findings.find((f) => f.id === 'forwarded-trust-all').severity, 'warning');
  });
  test('admin-public: severe without --admin-token (keel serve would refuse), info with one', async () => {
    const { finding } = await flawAndFix('admin-public', doctor(['--admin', '0.0.0.0:9000']), doctor(['--admin', '127.0.0.1:9000']));
    assert.equal(finding.severity, 'severe');
    const guarded = await doctor(['--admin', '0.0.0.0:9000'], { env: { KEEL_ADMIN_TOKEN: 'a-long-enough-admin-token' } });
    assert.equal(guarded.json.findings.find((f) => f.id === 'admin-public')?.severity, 'info', JSON.stringify(guarded.ids));
  });
  test('keep-alive-shorter-than-lb', async () => {
    const { finding } = await flawAndFix('keep-alive-shorter-than-lb', doctor(['--keep-alive', '30']), doctor(['--keep-alive', '75']));
    assert.match(finding.why, /AWS/);
  });
});

describe('development mode', () => {
  const project = (scripts) => {
    const dir = tempDir('keel-doctor-pkg-');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', scripts }));
    return dir;
  };
  test('dev-server-start-script, directly and through npm run', async () => {
    const { finding } = await flawAndFix('dev-server-start-script', doctor([], { cwd: project({ start: 'nodemon app.js' }) }), doctor([], { cwd: project({ start: 'keel serve app.ts', dev: 'nodemon app.js' }) }));
    assert.equal(finding.severity, 'severe');
    const viaNpm = await doctor([], { cwd: project({ start: 'npm run dev', dev: 'vite --port 3000' }) });
    assert.ok(viaNpm.ids.includes('dev-server-start-script'));
    assert.match(viaNpm.json.findings[0].where, /scripts\.dev/);
    const watch = await doctor([], { cwd: project({ start: 'node --watch server.js' }) });
    assert.ok(watch.ids.includes('dev-server-start-script'));
  });
  test('dev-server-upstream: a --run command that starts Flask with its debugger', async () => {
    await flawAndFix('dev-server-upstream', doctor(['--run', 'flask --app app run --debug -p {port}']), doctor(['--run', 'gunicorn -w 2 -b 127.0.0.1:{port} app:app']));
  });
  test('node-env-not-production, from the environment and from .env', async () => {
    await flawAndFix('node-env-not-production', doctor([], { env: { NODE_ENV: 'development' } }), doctor([], { env: { NODE_ENV: 'production' } }));
    const dir = tempDir('keel-doctor-env-');
    writeFileSync(join(dir, '.env'), 'NODE_ENV=development\n', { mode: 0o600 });
    const fromFile = await doctor([], { cwd: dir, env: { NODE_ENV: undefined } });
    assert.ok(fromFile.ids.includes('node-env-not-production'), JSON.stringify(fromFile.ids));
    const defaulted = await doctor([], { env: { NODE_ENV: undefined } });
    assert.ok(!defaulted.ids.includes('node-env-not-production'), 'keel defaults NODE_ENV to production');
  });
  test('debug-env', async () => {
    await flawAndFix('debug-env', doctor([], { env: { FLASK_DEBUG: '1' } }), doctor([], { env: { FLASK_DEBUG: '0' } }));
  });
  test('local-ca', async () => {
    await flawAndFix('local-ca', doctor(['--https', 'local']), doctor(['--https', 'off']));
  });
});

describe('process model, logs and timeouts', () => {
  test('single-worker', async () => {
    await flawAndFix('single-worker', doctor(['--workers', '1']), doctor(['--workers', '2']));
  });
  test('running-as-root: without --user, gone with --user nobody', { skip: !isRoot && 'needs to run as root' }, async () => {
    const { finding } = await flawAndFix('running-as-root', doctor([], { user: false }), doctor([]));
    assert.equal(finding.severity, 'severe');
    const asRoot = await doctor(['--user', 'root']);
    assert.ok(asRoot.ids.includes('running-as-root'), '--user root is no better');
  });
  test('no-access-log', async () => {
    await flawAndFix('no-access-log', doctor(['--access-logfile', 'off']), doctor(['--access-logfile', '-']));
  });
  test('worker-timeout-off', async () => {
    await flawAndFix('worker-timeout-off', doctor(['--timeout', '0']), doctor(['--timeout', '30']));
  });
  test('request-timeout-off', async () => {
    await flawAndFix('request-timeout-off', doctor(['--request-timeout', '0']), doctor(['--request-timeout', '60']));
  });
  test('proxy-timeout-exceeds-request-timeout', async () => {
    const proxy = ['--proxy', '/api=http://127.0.0.1:5000', '--request-timeout', '60'];
    await flawAndFix('proxy-timeout-exceeds-request-timeout', doctor([...proxy, '--proxy-header-timeout', '120']), doctor([...proxy, '--proxy-header-timeout', '30']));
  });
});

describe('secrets', () => {
  test('world-readable-secret-file: .env with a secret at 0644, not at 0600', async () => {
    const dir = tempDir('keel-doctor-dotenv-');
    const file = join(dir, '.env');
    writeFileSync(file, 'SECRET_KEY=hunter2hunter2\n');
    chmodSync(file, 0o644);
    const bad = await doctor([], { cwd: dir });
    chmodSync(file, 0o600);
    const good = await doctor([], { cwd: dir });
    const { finding } = await flawAndFix('world-readable-secret-file', bad, good);
    assert.equal(finding.severity, 'severe');
    assert.match(finding.fix, /chmod 600/);
  });
  test('world-readable-secret-file: an --env-file and a --keyfile', async () => {
    const dir = tempDir('keel-doctor-envfile-');
    const envFile = join(dir, 'prod.env');
    writeFileSync(envFile, 'DATABASE_URL=postgres://app:pw@db/app\n');
    chmodSync(envFile, 0o644);
    const fromEnvFile = await doctor(['--env-file', envFile], { cwd: dir });
    assert.ok(fromEnvFile.ids.includes('world-readable-secret-file'));
    const open = pki.leaf('open-key.example', { days: 90, keyMode: 0o644 });
    const tls = (leaf) => ['--bind', '127.0.0.1:8443', '--certfile', leaf.cert, '--keyfile', leaf.key];
    const { finding } = await flawAndFix('world-readable-secret-file', doctor(tls(open)), doctor(tls(fresh)));
    assert.equal(finding.where, '--keyfile');
  });
  test('secret-on-command-line: --redis as a flag, not from KEEL_REDIS', async () => {
    const url = 'redis://:s3cret@127.0.0.1:6379';
    const { finding } = await flawAndFix('secret-on-command-line', doctor(['--redis', url]), doctor([], { env: { KEEL_REDIS: url } }));
    assert.equal(finding.where, '--redis');
    assert.ok(!JSON.stringify(finding).includes('s3cret'), 'the finding does not repeat the secret');
  });
  test('secret-on-command-line: credentials inside a URL of a flag that is not secret', async () => {
    await flawAndFix('secret-on-command-line', doctor(['--run', 'gunicorn -b 127.0.0.1:{port} --env DATABASE_URL=postgres://app:pw@db/app app:app']), doctor(['--run', 'gunicorn -b 127.0.0.1:{port} app:app']));
  });
});

describe('secrets in a config file', () => {
  test('world-readable-secret-file: a config file that sets --redis, at 0644 and at 0600', async () => {
    const dir = tempDir('keel-doctor-config-');
    const file = join(dir, 'keel.config.json');
    writeFileSync(file, JSON.stringify({ workers: 2, redis: 'redis://:s3cret@127.0.0.1:6379' }));
    chmodSync(file, 0o644);
    const bad = await doctor([], { cwd: dir });
    chmodSync(file, 0o600);
    const { finding } = await flawAndFix('world-readable-secret-file', bad, doctor([], { cwd: dir }));
    assert.equal(finding.where, '--config');
    assert.ok(!bad.ids.includes('secret-on-command-line'), 'a config file is not the command line');
  });
});

describe('certificates', () => {
  const tls = (leaf) => ['--bind', '127.0.0.1:8443', '--certfile', leaf.cert, '--keyfile', leaf.key];
  test('certificate-expiring: 5 days is severe, 20 days a warning, 90 days nothing', async () => {
    const soon = pki.leaf('soon.example', { days: 5 });
    const month = pki.leaf('month.example', { days: 20 });
    const { finding } = await flawAndFix('certificate-expiring', doctor(tls(soon)), doctor(tls(fresh)));
    assert.equal(finding.severity, 'severe');
    const warned = await doctor(tls(month));
    assert.equal(warned.json.findings.find((f) => f.id === 'certificate-expiring').severity, 'warning');
    assert.equal(warned.code, 0);
  });
  test('certificate-expired and certificate-not-yet-valid', async () => {
    const expired = pki.leaf('expired.example', { notBefore: Date.now() - 40 * 86_400_000, notAfter: Date.now() - 86_400_000 });
    const future = pki.leaf('future.example', { notBefore: Date.now() + 5 * 86_400_000, days: 90 });
    await flawAndFix('certificate-expired', doctor(tls(expired)), doctor(tls(fresh)));
    await flawAndFix('certificate-not-yet-valid', doctor(tls(future)), doctor(tls(fresh)));
  });
  test('an SNI certificate from --cert is checked too', async () => {
    const soon = pki.leaf('sni-soon.example', { days: 3 });
    const run = await doctor([...tls(fresh), '--cert', `sni-soon.example=${soon.cert},${soon.key}`]);
    assert.equal(run.json.findings.find((f) => f.id === 'certificate-expiring')?.where, '--cert sni-soon.example');
  });
});

describe('limits that disagree with a proxied upstream', () => {
  const gunicorn = (extra = '') => ['--run', `gunicorn -w 2 -b 127.0.0.1:{port} ${extra} app:app`, '--limit-request-fields', '95'];
  test('upstream-timeout-shorter: gunicorn --timeout 5 under keel\'s 60 s proxy header timeout', async () => {
    const { finding } = await flawAndFix('upstream-timeout-shorter', doctor(gunicorn('--timeout 5')), doctor(gunicorn('--timeout 120')));
    assert.match(finding.fix, /--proxy-header-timeout 4/);
    const defaulted = await doctor(gunicorn());
    assert.ok(defaulted.ids.includes('upstream-timeout-shorter'), "gunicorn's default 30 s is below keel's default 60 s");
  });
  test('upstream-request-line-limit', async () => {
    await flawAndFix('upstream-request-line-limit', doctor([...gunicorn(), '--limit-request-line', '8190']), doctor([...gunicorn('--limit-request-line 8190'), '--limit-request-line', '8190']));
  });
  test('upstream-request-fields-limit: keel adds forwarding headers on the way', async () => {
    const run = ['--run', 'gunicorn -b 127.0.0.1:{port} app:app'];
    await flawAndFix('upstream-request-fields-limit', doctor(run), doctor([...run, '--limit-request-fields', '95']));
  });
  test('upstream-field-size-limit', async () => {
    await flawAndFix('upstream-field-size-limit', doctor([...gunicorn(), '--limit-request-field-size', '16000']), doctor([...gunicorn('--limit-request-field_size 16000'), '--limit-request-field-size', '16000']));
  });
  test('upstream-unbuffered: Gunicorn\'s sync workers with buffering turned off; gthread or buffering on is fine', async () => {
    const { finding } = await flawAndFix('upstream-unbuffered', doctor([...gunicorn(), '--proxy-request-buffering', 'false']), doctor(gunicorn()));
    assert.equal(finding.where, '--proxy-request-buffering');
    const responses = await doctor([...gunicorn(), '--proxy-response-buffer', '0']);
    assert.match(responses.json.findings.find((f) => f.id === 'upstream-unbuffered')?.fix ?? '', /--proxy-response-buffer 64m/);
    const threaded = await doctor([...gunicorn('--threads 4'), '--proxy-request-buffering', 'false', '--proxy-response-buffer', '0']);
    assert.ok(!threaded.ids.includes('upstream-unbuffered'), 'gthread workers serve other requests meanwhile');
  });
  test('upstream-max-body-limit: Waitress\'s --max-request-body-size', async () => {
    const waitress = ['--run', 'waitress-serve --listen=127.0.0.1:{port} --max-request-body-size=1048576 app:app'];
    await flawAndFix('upstream-max-body-limit', doctor([...waitress, '--max-body', '10m']), doctor([...waitress, '--max-body', '1m']));
  });
});

describe('what the host allows', () => {
  const hasPrlimit = spawnSync('sh', ['-c', 'command -v prlimit'], { stdio: 'ignore' }).status === 0;
  // The clean run lowers the limit to 4096, which needs a hard limit at least that high.
  const hardLimit = Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1].replace('unlimited', 'Infinity') ?? 0);
  const prlimitSkip = !hasPrlimit ? 'needs prlimit (util-linux)' : hardLimit < 4096 ? `the hard open-file limit here is ${hardLimit}` : false;
  test('open-file-limit-low under prlimit --nofile=256', { skip: prlimitSkip }, async () => {
    const { finding } = await flawAndFix('open-file-limit-low', doctor([], { prefix: ['prlimit', '--nofile=256:256', '--'] }), doctor([], { prefix: ['prlimit', '--nofile=4096:4096', '--'] }));
    assert.match(finding.title, /256/);
    const proxied = await doctor(['--proxy', '/api=http://127.0.0.1:5000'], { prefix: ['prlimit', '--nofile=1500:1500', '--'] });
    assert.ok(proxied.ids.includes('open-file-limit-low'), 'proxy routes double the connections a worker holds');
  });

  const cgroup = childCgroup();
  test('workers-exceed-cpu-quota in a cgroup limited to half a CPU', { skip: cgroup.skip }, async (t) => {
    const group = cgroup.create('cpu', t);
    if (!group.set({ v1: ['cpu.cfs_quota_us', '50000'], v2: ['cpu.max', '50000 100000'] })) return;
    const { finding } = await flawAndFix('workers-exceed-cpu-quota', doctor(['--workers', '4'], { prefix: group.prefix }), doctor(['--workers', '2'], { prefix: group.prefix }));
    assert.match(finding.title, /0\.5 CPU/);
    assert.match(finding.fix, /--workers 2/);
  });
  test('memory-limit-below-workers in a cgroup limited to 256 MiB', { skip: cgroup.skip }, async (t) => {
    const group = cgroup.create('memory', t);
    if (!group.set({ v1: ['memory.limit_in_bytes', String(256 * 1024 * 1024)], v2: ['memory.max', String(256 * 1024 * 1024)] })) return;
    const { finding } = await flawAndFix(
      'memory-limit-below-workers',
      doctor(['--workers', '2'], { prefix: group.prefix, env: { NODE_OPTIONS: '--max-old-space-size=512' } }),
      doctor(['--workers', '2'], { prefix: group.prefix, env: { NODE_OPTIONS: '--max-old-space-size=48' } }),
    );
    assert.match(finding.title, /256 MiB/);
    assert.match(finding.fix, /--max-memory \d+m/);
    const recycleTooLate = await doctor(['--workers', '2', '--max-memory', '512m'], { prefix: group.prefix, env: { NODE_OPTIONS: '--max-old-space-size=48' } });
    assert.ok(recycleTooLate.ids.includes('memory-limit-below-workers'), '--max-memory above the limit recycles too late');
  });

  test('log-disk-low on a 16 MiB tmpfs, not on the temp dir', { skip: !isRoot && 'mounting a tmpfs needs root' }, async (t) => {
    const dir = tempDir('keel-doctor-disk-');
    const small = join(dir, 'small');
    mkdirSync(small);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', small], { encoding: 'utf8' });
    if (mounted.status !== 0) return t.skip(`cannot mount a tmpfs here: ${mounted.stderr.trim()}`);
    t.after(() => spawnSync('umount', [small]));
    const { finding } = await flawAndFix('log-disk-low', doctor(['--access-logfile', join(small, 'access.log')]), doctor(['--access-logfile', join(dir, 'access.log')]));
    assert.equal(finding.where, '--access-logfile');
    const errorLog = await doctor(['--error-logfile', join(small, 'error.log')]);
    assert.equal(errorLog.json.findings.find((f) => f.id === 'log-disk-low')?.where, '--error-logfile');
  });
});

/**
 * A child cgroup under this process's own, for one controller, on cgroup v2 or v1, made by the
 * test (root, writable /sys/fs/cgroup) and removed after it. `prefix` runs a command inside it.
 */
function childCgroup() {
  const own = (() => {
    try {
      return readFileSync('/proc/self/cgroup', 'utf8');
    } catch {
      return '';
    }
  })();
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const pathFor = (controller) => {
    for (const line of own.split('\n')) {
      const [, list, path] = line.split(':');
      if (v2 && list === '') return join('/sys/fs/cgroup', path);
      if (!v2 && list?.split(',').includes(controller)) return join('/sys/fs/cgroup', controller, path);
    }
    return null;
  };
  const skip = !isRoot ? 'making a cgroup needs root' : !pathFor('cpu') && !pathFor('memory') ? 'no cgroup hierarchy to make a child in' : false;
  return {
    skip,
    create(controller, t) {
      const parent = pathFor(controller);
      const dir = join(parent, `keel-doctor-test-${process.pid}-${controller}`);
      try {
        mkdirSync(dir);
      } catch (err) {
        t.skip(`cannot make a cgroup in ${parent}: ${err.message}`);
        return { prefix: [], set: () => false };
      }
      // rmdir only succeeds once every process has left, which they have when their test ends.
      t.after(() => {
        try {
          rmdirSync(dir);
        } catch {}
      });
      return {
        // The shell moves itself into the cgroup, then becomes node: doctor reads its own limits.
        prefix: ['sh', '-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$@"`, 'sh'],
        /** Writes the limit; false (and the test skipped) where this cgroup cannot take it. */
        set({ v1, v2: two }) {
          const [file, value] = v2 ? two : v1;
          try {
            // On v2 the parent must hand the controller down; refused when it holds processes itself.
            if (v2) writeFileSync(join(parent, 'cgroup.subtree_control'), `+${controller}`);
          } catch {}
          try {
            writeFileSync(join(dir, file), value);
            return true;
          } catch (err) {
            t.skip(`cannot set ${file} in ${dir}: ${err.message}`);
            return false;
          }
        },
      };
    },
  };
}

describe('output and exit statuses', () => {
  test('human output groups by severity and ends with a summary line; no colours when piped', async () => {
    const run = await doctor(['--workers', '1', '--bind', '0.0.0.0:8000'], { json: false });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^SEVERE \(\d+\)/m);
    assert.match(run.stdout, /^WARNINGS \(\d+\)/m);
    assert.ok(run.stdout.indexOf('SEVERE') < run.stdout.indexOf('WARNINGS'));
    assert.match(run.stdout, /fix: +--workers 2/);
    assert.match(run.stdout, /keel doctor: 1 severe, \d+ warnings?, 0 notes\n$/);
    assert.ok(!run.stdout.includes('\x1b['), 'no escape codes into a pipe');
  });
  const hasScript = spawnSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' }).status === 0;
  test('colours on a real terminal (script gives doctor a pty), none there with NO_COLOR', { skip: !hasScript && 'needs script (util-linux)' }, async () => {
    const line = `${JSON.stringify(process.execPath)} ${JSON.stringify(KEEL)} doctor --workers 1 --user nobody`;
    const onTty = await doctor([], { json: false, argv: ['script', '-qec', line, '/dev/null'], env: { TERM: 'xterm' } });
    assert.ok(onTty.stdout.includes('\x1b[33m'), `yellow on a terminal: ${JSON.stringify(onTty.stdout.slice(0, 200))}`);
    const noColour = await doctor([], { json: false, argv: ['script', '-qec', line, '/dev/null'], env: { TERM: 'xterm', NO_COLOR: '1' } });
    assert.ok(noColour.stdout.includes('single-worker') && !noColour.stdout.includes('\x1b['), 'NO_COLOR on a terminal');
  });
  test('FORCE_COLOR colours a pipe; NO_COLOR alone does not', async () => {
    const forced = await doctor(['--workers', '1'], { json: false, env: { FORCE_COLOR: '1' } });
    assert.ok(forced.stdout.includes('\x1b[33m'), 'warnings in yellow');
    const off = await doctor(['--workers', '1'], { json: false, env: { FORCE_COLOR: '0' } });
    assert.ok(!off.stdout.includes('\x1b['));
    const noColour = await doctor(['--workers', '1'], { json: false, env: { NO_COLOR: '1' } });
    assert.ok(!noColour.stdout.includes('\x1b['));
  });
  test('--json has a stable shape', async () => {
    const run = await doctor(['--workers', '1', '--timeout', '0']);
    assert.deepEqual(Object.keys(run.json), ['findings', 'summary']);
    assert.deepEqual(configIds(run), ['single-worker', 'worker-timeout-off']);
    assert.deepEqual(run.json.summary, { severe: 0, warning: run.ids.length, info: 0 });
    for (const f of run.json.findings) assert.deepEqual(Object.keys(f), ['id', 'severity', 'title', 'why', 'fix', 'where']);
    assert.equal(run.code, 0, 'warnings alone exit 0');
  });
  test('bad input is one keel: line and exit status 2', async () => {
    for (const args of [['--workers', 'banana'], ['--user', 'no-such-user-keel'], ['--keep-alive', '-1']]) {
      const run = await doctor(args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /^keel: --\S+: .+\n$/);
      assert.equal(run.stdout, '');
    }
  });
});
