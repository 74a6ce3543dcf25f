// The pure parts of `keel doctor`'s audit: reading cgroup v1 and v2 limits from made-up trees,
// recognising dev-server commands, reading an upstream's limits from its command line, address
// scopes, certificate expiry thresholds, and the report's colour rules, summary and JSON shape.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bindScope, hostScope } from '../../dist/doctor/address-scope.js';
import { cgroupLimitsFrom } from '../../dist/doctor/cgroup-limits.js';
import { devServerIn, devServerInScripts } from '../../dist/doctor/dev-server-commands.js';
import { maxOldSpaceFrom, parseOpenFileLimit } from '../../dist/doctor/host-facts.js';
import { expiryFinding } from '../../dist/doctor/audit-tls.js';
import { exitStatusFor, renderJson, renderText, summaryLine, useColour } from '../../dist/doctor/report.js';
import { splitCommand, upstreamLimits } from '../../dist/doctor/upstream-command.js';

const reader = (files) => (path) => files[path] ?? null;

describe('cgroupLimitsFrom', () => {
  const v2Mount = '41 31 0:38 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n';
  test('cgroup v2: cpu.max and memory.max, the tightest ancestor wins', () => {
    const limits = cgroupLimitsFrom('0::/kubepods/pod1/app\n', v2Mount, reader({
      '/sys/fs/cgroup/kubepods/pod1/app/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/app/memory.max': '536870912\n',
      '/sys/fs/cgroup/kubepods/memory.max': '1073741824\n',
    }));
    assert.equal(limits.cpus, 1.5);
    assert.equal(limits.cpuFile, '/sys/fs/cgroup/kubepods/pod1/cpu.max');
    assert.equal(limits.memory, 536870912);
  });
  test('cgroup v2 with no limits anywhere', () => {
    const limits = cgroupLimitsFrom('0::/\n', v2Mount, reader({ '/sys/fs/cgroup/cpu.max': 'max 100000', '/sys/fs/cgroup/memory.max': 'max' }));
    assert.deepEqual(limits, { cpus: null, memory: null, cpuFile: null, memoryFile: null });
  });
  test('cgroup namespace: the mount root is the cgroup itself', () => {
    const mount = '41 31 0:38 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
    const limits = cgroupLimitsFrom('0::/docker/abc\n', mount, reader({ '/sys/fs/cgroup/cpu.max': '200000 100000' }));
    assert.equal(limits.cpus, 2);
  });
  test('cgroup v1: cfs quota over period, memory.limit_in_bytes, "no limit" ignored', () => {
    const mounts = [
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
      '35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    ].join('\n');
    const limits = cgroupLimitsFrom('3:cpu,cpuacct:/docker/x\n4:memory:/docker/x\n', mounts, reader({
      '/sys/fs/cgroup/cpu,cpuacct/docker/x/cpu.cfs_quota_us': '50000',
      '/sys/fs/cgroup/cpu,cpuacct/docker/x/cpu.cfs_period_us': '100000',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000',
      '/sys/fs/cgroup/memory/docker/x/memory.limit_in_bytes': '268435456',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712',
    }));
    assert.equal(limits.cpus, 0.5);
    assert.equal(limits.memory, 268435456);
  });
});

describe('dev servers', () => {
  const dev = ['keel dev app.ts', 'nodemon app.js', 'ts-node-dev src/app.ts', 'node --watch app.js', 'tsx watch src/app.ts', 'vite', 'vite --port 3000', 'next dev', 'nuxt dev', 'webpack serve', 'webpack-dev-server', 'react-scripts start', 'ng serve', 'flask run --debug', 'flask --app app --debug run', 'python manage.py runserver 0.0.0.0:8000', 'uvicorn app:app --reload', 'tsc && nodemon dist/app.js'];
  const prod = ['keel serve app.ts', 'node dist/app.js', 'vite build', 'vite preview', 'vitest', 'next start', 'gunicorn app:app', 'uvicorn app:app --workers 4', 'flask run', 'react-scripts build'];
  for (const line of dev) test(`dev: ${line}`, () => assert.notEqual(devServerIn(line), null));
  for (const line of prod) test(`not dev: ${line}`, () => assert.equal(devServerIn(line), null));
  test('npm start follows npm run / yarn / pnpm once or more, and stops at loops', () => {
    assert.deepEqual(devServerInScripts({ start: 'npm run dev', dev: 'vite' }), { script: 'dev', command: 'vite', server: 'vite' });
    assert.equal(devServerInScripts({ start: 'yarn serve', serve: 'pnpm run watch', watch: 'nodemon x.js' })?.server, 'nodemon');
    assert.equal(devServerInScripts({ start: 'npm run start' }), null);
    assert.equal(devServerInScripts({ dev: 'vite' }), null);
  });
});

describe('upstream commands', () => {
  test('splitCommand follows quotes and escapes', () => {
    assert.deepEqual(splitCommand(`gunicorn -b '127.0.0.1:{port}' --access-logformat "%(h)s \\"x\\"" a\\ b`), ['gunicorn', '-b', '127.0.0.1:{port}', '--access-logformat', '%(h)s "x"', 'a b']);
  });
  test('gunicorn defaults, every spelling of the options, 0 as no limit', () => {
    assert.deepEqual(upstreamLimits('gunicorn app:app'), { server: 'gunicorn', timeout: 30, limitRequestLine: 4094, limitRequestFields: 100, limitRequestFieldSize: 8190, maxBody: null, oneRequestPerWorker: true });
    const limits = upstreamLimits('python -m gunicorn -t5 --limit-request-line=0 --limit-request-fields 50 --limit-request-field_size 100 app:app');
    assert.equal(upstreamLimits('/venv/bin/gunicorn -t 7 app:app').timeout, 7);
    assert.equal(upstreamLimits('gunicorn --timeout=0 app:app').timeout, null);
    assert.deepEqual(limits, { server: 'gunicorn', timeout: 5, limitRequestLine: null, limitRequestFields: 50, limitRequestFieldSize: 100, maxBody: null, oneRequestPerWorker: true }, 'python -m gunicorn, -t5, =, field_size');
  });
  test('which Gunicorn workers serve one request at a time: sync or gthread with one thread', () => {
    for (const command of ['gunicorn app:app', 'gunicorn -k sync app:app', 'gunicorn --worker-class=sync --threads 1 app:app', 'gunicorn -k gunicorn.workers.sync.SyncWorker app:app', 'gunicorn -k gthread app:app']) {
      assert.equal(upstreamLimits(command).oneRequestPerWorker, true, command);
    }
    for (const command of ['gunicorn --threads 4 app:app', 'gunicorn -k gthread --threads 8 app:app', 'gunicorn -k uvicorn.workers.UvicornWorker app:app', 'gunicorn -kgevent app:app', 'waitress-serve app:app']) {
      assert.equal(upstreamLimits(command).oneRequestPerWorker, false, command);
    }
  });
  test('waitress body limit and unknown servers', () => {
    assert.equal(upstreamLimits('waitress-serve --listen=127.0.0.1:{port} app:app').maxBody, 1024 ** 3);
    assert.equal(upstreamLimits('waitress-serve --max-request-body-size=1000 app:app').maxBody, 1000);
    assert.equal(upstreamLimits('node server.js {port}'), null);
  });
});

describe('host facts', () => {
  test('open-file limit from /proc/self/limits', () => {
    assert.equal(parseOpenFileLimit('Max processes  100 100 processes\nMax open files            1024                 524288               files     \n'), 1024);
    assert.equal(parseOpenFileLimit('Max open files unlimited unlimited files'), Number.POSITIVE_INFINITY);
    assert.equal(parseOpenFileLimit(''), null);
  });
  test('--max-old-space-size from NODE_OPTIONS', () => {
    assert.equal(maxOldSpaceFrom('--enable-source-maps --max-old-space-size=512'), 512 * 1024 * 1024);
    assert.equal(maxOldSpaceFrom('--max_old_space_size 64'), 64 * 1024 * 1024);
    assert.equal(maxOldSpaceFrom('--max-semi-space-size=16'), null);
    assert.equal(maxOldSpaceFrom(undefined), null);
  });
});

describe('address scope', () => {
  const cases = [['127.0.0.1', 'local'], ['::1', 'local'], ['localhost', 'local'], ['10.0.0.1', 'private'], ['172.20.0.1', 'private'], ['192.168.1.1', 'private'], ['fd00::1', 'private'], ['0.0.0.0', 'public'], ['::', 'public'], ['[::]', 'public'], ['203.0.113.5', 'public'], ['example.com', 'public'], ['::ffff:127.0.0.1', 'local']];
  for (const [host, scope] of cases) test(`${host} is ${scope}`, () => assert.equal(hostScope(host), scope));
  test('unix sockets are local', () => assert.equal(bindScope({ kind: 'unix', path: '/run/keel.sock', text: 'unix:/run/keel.sock' }), 'local'));
});

describe('certificate expiry thresholds', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const day = 86_400_000;
  const at = (from, to) => expiryFinding({ validFrom: new Date(now + from * day), validTo: new Date(now + to * day), subject: 'CN=x' }, 'c.pem', '--certfile', now);
  test('30 days or more: nothing', () => assert.equal(at(-10, 30), null));
  test('under 30 days: warning', () => assert.equal(at(-10, 29.5).severity, 'warning'));
  test('under 14 days: severe', () => assert.equal(at(-10, 13.9).severity, 'severe'));
  test('expired', () => assert.equal(at(-10, -0.001).id, 'certificate-expired'));
  test('not yet valid', () => assert.equal(at(1, 90).id, 'certificate-not-yet-valid'));
});

describe('report', () => {
  const findings = [
    { id: 'a', severity: 'warning', title: 'A', why: 'why a', fix: '--a 1' },
    { id: 'b', severity: 'severe', title: 'B', why: 'why b', fix: '--b 2', where: '--b' },
    { id: 'c', severity: 'info', title: 'C', why: 'why c', fix: '--c 3' },
  ];
  test('colour rules: FORCE_COLOR over NO_COLOR over the terminal', () => {
    assert.equal(useColour(true, {}), true);
    assert.equal(useColour(false, {}), false);
    assert.equal(useColour(undefined, {}), false);
    assert.equal(useColour(true, { NO_COLOR: '1' }), false);
    assert.equal(useColour(true, { NO_COLOR: '' }), true);
    assert.equal(useColour(false, { FORCE_COLOR: '1' }), true);
    assert.equal(useColour(false, { FORCE_COLOR: '' }), true);
    assert.equal(useColour(true, { FORCE_COLOR: '0' }), false);
    assert.equal(useColour(true, { FORCE_COLOR: 'false', NO_COLOR: '1' }), false);
    assert.equal(useColour(true, { TERM: 'dumb' }), false);
  });
  test('summary line', () => {
    assert.equal(summaryLine({ severe: 2, warning: 3, info: 0 }), '2 severe, 3 warnings, 0 notes');
    assert.equal(summaryLine({ severe: 0, warning: 1, info: 1 }), '0 severe, 1 warning, 1 note');
    assert.equal(summaryLine({ severe: 0, warning: 0, info: 0 }), 'nothing found');
  });
  test('text: severe first, then warnings, then notes; colour only when asked', () => {
    const plain = renderText(findings, false);
    assert.ok(plain.indexOf('SEVERE (1)') < plain.indexOf('WARNINGS (1)') && plain.indexOf('WARNINGS (1)') < plain.indexOf('NOTES (1)'));
    assert.match(plain, /where: --b/);
    assert.ok(!plain.includes('\x1b'));
    assert.ok(renderText(findings, true).includes('\x1b[1;31m'));
    assert.match(renderText([], false), /keel doctor: nothing found/);
  });
  test('JSON shape and exit status', () => {
    const parsed = JSON.parse(renderJson(findings));
    assert.deepEqual(parsed.summary, { severe: 1, warning: 1, info: 1 });
    assert.deepEqual(Object.keys(parsed.findings[0]), ['id', 'severity', 'title', 'why', 'fix']);
    assert.equal(exitStatusFor(findings), 1);
    assert.equal(exitStatusFor(findings.filter((f) => f.severity !== 'severe')), 0);
  });
});
