// `keel init systemd|docker|kubernetes`: the real CLI writes deployment files in temp projects, and
// each file is checked by a real validator: systemd-analyze verify for the unit, dockerfile-ast for
// the Dockerfile, kubernetes-models (the Kubernetes OpenAPI schemas, offline) for the manifests.
// The unit's ExecStart is then run for real under a NOTIFY_SOCKET read by a python3 datagram
// listener, which must receive READY=1 once keel serves (and RELOADING=1/READY=1 on HUP,
// STOPPING=1 on TERM), and the Dockerfile's HEALTHCHECK command is run against that keel.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DockerfileParser } from 'dockerfile-ast';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { KEEL, killTree, runKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'hunter2-sekrit-pass';
const REDIS_URL = `redis://:${SECRET}@127.0.0.1:6379`;

/** A small project: an app, a static folder, a package.json with a build script and a lockfile. */
function project({ build = true } = {}) {
  const dir = tempDir('keel-init-');
  writeFileSync(join(dir, 'server.mjs'), "export default (req, res) => res.end('hello from init');\n");
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'public', 'hello.txt'), 'static hello\n');
  const pkg = { name: '@acme/Shop_App', version: '1.0.0', dependencies: { keel: '^0.1.0' }, engines: { node: '>=22.12' } };
  if (build) pkg.scripts = { build: 'echo built' };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  writeFileSync(join(dir, 'package-lock.json'), '{}');
  return dir;
}

async function init(dir, args, { expect = 0 } = {}) {
  const result = await runKeel(['init', ...args], { cwd: dir });
  assert.equal(result.code, expect, `keel init ${args.join(' ')}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Every file init wrote, for the check that no secret reached any of them. */
function assertNoSecret(dir, names) {
  for (const name of names) assert.ok(!readFileSync(join(dir, name), 'utf8').includes(SECRET), `${name} contains the secret`);
}

/** systemd's own view of a unit line: `Key=value` (continuation lines joined). */
function unitValues(text) {
  const values = new Map();
  const joined = text.replace(/\\\n\s*/g, ' ');
  for (const line of joined.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) values.set(match[1], [...(values.get(match[1]) ?? []), match[2]]);
  }
  return { one: (key) => values.get(key)?.at(-1), all: (key) => values.get(key) ?? [] };
}

/** Splits an ExecStart value into words as systemd does: double quotes, backslash escapes, %% and $$. */
function execWords(value) {
  const words = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of value.matchAll(pattern)) {
    const word = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2];
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

function verifyUnit(path) {
  const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 30_000 });
  // verify also reports problems of other units on the machine; only lines about this one count.
  const ours = result.stderr.split('\n').filter((line) => line.includes('keel.service'));
  assert.equal(result.status, 0, `systemd-analyze verify failed:\n${result.stderr}`);
  assert.deepEqual(ours, [], `systemd-analyze verify complained:\n${ours.join('\n')}`);
}

/** `keel serve … --print-config` values, without the "# source" column (flags and defaults differ by design). */
async function printedValues(args, cwd) {
  const result = await runKeel([...args, '--print-config'], { cwd });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('#') && !line.startsWith('app '))
    .map((line) => line.replace(/\s+#.*$/, ''));
}

describe('keel init systemd', () => {
  test('a unit that verifies, restarts, reloads and drains for --graceful-timeout', async () => {
    const dir = project();
    const args = ['server.mjs', '--workers', '3', '--graceful-timeout', '45', '--static', '/assets=./public', '--bind', '127.0.0.1:8123', '--redis', REDIS_URL];
    const result = await init(dir, ['systemd', ...args]);
    assert.match(result.stdout, /keel\.service/);
    assert.match(result.stdout, /sudo cp keel\.service \/etc\/systemd\/system\/ && sudo systemctl daemon-reload && sudo systemctl enable --now keel/);
    const text = readFileSync(join(dir, 'keel.service'), 'utf8');
    const unit = unitValues(text);
    verifyUnit(join(dir, 'keel.service'));

    assert.equal(unit.one('Type'), 'notify');
    assert.equal(unit.one('NotifyAccess'), 'all');
    assert.equal(unit.one('Restart'), 'on-failure');
    assert.ok(Number(unit.one('RestartSec')) > 0);
    assert.equal(unit.one('User'), 'keel');
    assert.match(text, /useradd --system/, 'says how to create the keel user');
    assert.equal(unit.one('WorkingDirectory'), dir);
    assert.equal(unit.one('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(unit.one('KillSignal'), 'SIGTERM');
    // 45 s of draining plus keel's 2 s kill grace must fit before systemd kills.
    assert.ok(Number(unit.one('TimeoutStopSec')) >= 47, `TimeoutStopSec=${unit.one('TimeoutStopSec')}`);
    assert.equal(unit.one('NoNewPrivileges'), 'yes');
    assert.equal(unit.one('ProtectSystem'), 'strict');
    assert.ok(unit.one('ProtectHome'));
    assert.ok(unit.one('LimitNOFILE'));
    assert.equal(unit.one('AmbientCapabilities'), undefined, 'no capability without a port below 1024');

    const words = execWords(unit.one('ExecStart'));
    assert.equal(words[0], process.execPath);
    assert.deepEqual(words.slice(1, 3), ['--', KEEL]);
    assert.deepEqual(words.slice(3, 5), ['serve', join(dir, 'server.mjs')]);
    const flags = words.slice(5).join(' ');
    assert.match(flags, /--workers 3/);
    assert.match(flags, /--graceful-timeout 45/);
    assert.match(flags, /--static \/assets=\.\/public/);
    assert.doesNotMatch(flags, /--redis/);
    // The secret setting is named for the EnvironmentFile, its value written nowhere.
    assert.ok(unit.one('EnvironmentFile'));
    assert.match(readFileSync(join(dir, 'keel.env.example'), 'utf8'), /^KEEL_REDIS=$/m);
    assert.equal(statSync(join(dir, 'keel.env.example')).mode & 0o077, 0);
    assertNoSecret(dir, ['keel.service', 'keel.env.example']);

    // The command line reproduces the effective config: same values as the original flags.
    const original = await printedValues(['serve', ...args], dir);
    const reproduced = await printedValues(words.slice(3), dir);
    assert.deepEqual(
      reproduced.filter((l) => !l.startsWith('redis ')),
      original.filter((l) => !l.startsWith('redis ')),
    );
  });

  test('port 80 gets CAP_NET_BIND_SERVICE; --user becomes User= and leaves the command line', async () => {
    const dir = project();
    await init(dir, ['systemd', 'server.mjs', '--bind', '0.0.0.0:80', '--user', 'www-data', '--group', 'www-data', '--access-logfile', '/var/log/keel/access.log']);
    const text = readFileSync(join(dir, 'keel.service'), 'utf8');
    verifyUnit(join(dir, 'keel.service'));
    const unit = unitValues(text);
    assert.equal(unit.one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(unit.one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(unit.one('User'), 'www-data');
    assert.equal(unit.one('Group'), 'www-data');
    assert.doesNotMatch(unit.one('ExecStart'), /--user|--group/, 'keel must not start as root to switch users');
    assert.ok(unit.all('ReadWritePaths').includes('-/var/log/keel'), `ReadWritePaths: ${unit.all('ReadWritePaths')}`);
  });
});

describe('keel init docker', () => {
  test('a multi-stage, non-root Dockerfile whose signals reach keel', async () => {
    const dir = project();
    const result = await init(dir, ['docker', 'server.mjs', '--workers', '2', '--bind', '127.0.0.1:80', '--static', '/assets=./public', '--redis', REDIS_URL, '--error-logfile', join(dir, 'error.log')]);
    assert.match(result.stdout, /docker build -t acme-shop-app \./);
    assertNoSecret(dir, ['Dockerfile', '.dockerignore']);
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    const dockerfile = DockerfileParser.parse(text);
    const instructions = dockerfile.getInstructions();
    // Stages, split at FROM.
    const stages = [];
    for (const instruction of instructions) {
      if (instruction.getKeyword() === 'FROM') stages.push([]);
      stages.at(-1)?.push(instruction);
    }
    const froms = dockerfile.getFROMs();
    assert.equal(froms.length, 3, 'deps, build and runtime stages');
    assert.deepEqual(froms.map((f) => f.getBuildStage()), ['deps', 'build', 'runtime']);
    const runs = (stage) => stage.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent());
    assert.ok(runs(stages[0]).some((r) => /^npm ci\b/.test(r)), 'deps stage runs npm ci');
    assert.ok(runs(stages[1]).some((r) => r === 'npm run build'), 'build stage runs the build script');
    assert.equal(froms[2].getImageName(), 'node');
    assert.equal(froms[2].getImageTag(), '24-slim');
    const runtime = stages[2];
    const users = runtime.filter((i) => i.getKeyword() === 'USER').map((i) => i.getArgumentsContent());
    assert.deepEqual(users, ['node']);
    assert.equal(runtime.find((i) => i.getKeyword() === 'STOPSIGNAL')?.getArgumentsContent(), 'SIGTERM');
    // Exec form: JSON arrays, so no shell stands between Docker's signals and keel.
    const [entrypoint] = dockerfile.getENTRYPOINTs();
    const [cmd] = dockerfile.getCMDs();
    const entryWords = entrypoint.getJSONStrings().map((s) => s.getJSONValue());
    const cmdWords = cmd.getJSONStrings().map((s) => s.getJSONValue());
    assert.deepEqual(entryWords, ['node', '--', '/app/node_modules/keel/bin/keel.js']);
    assert.ok(cmdWords.length > 2 && entrypoint.getArgumentsContent().trim().startsWith('['));
    assert.deepEqual(cmdWords.slice(0, 2), ['serve', 'server.mjs']);
    const cmdText = cmdWords.join(' ');
    // 0.0.0.0 inside the container; port 80 moves to 8080 for the non-root user.
    assert.match(cmdText, /--bind 0\.0\.0\.0:8080/);
    assert.match(cmdText, /--static \/assets=public/);
    assert.match(cmdText, /--workers 2/);
    assert.doesNotMatch(cmdText, /--redis|--error-logfile/, 'secrets come from the environment, logs go to stderr');
    assert.match(runtime.find((i) => i.getKeyword() === 'EXPOSE').getArgumentsContent(), /\b8080\b/);
    const [healthcheck] = dockerfile.getHEALTHCHECKs();
    assert.equal(healthcheck.getSubcommand()?.getValue(), 'CMD');
    assert.match(healthcheck.getArgumentsContent(), /\/healthz/);
    assert.match(result.stdout, /-p 80:8080/);
    assert.match(result.stdout, /-e KEEL_REDIS/);

    const ignore = readFileSync(join(dir, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.git', '.env', '*.key']) assert.ok(ignore.includes(entry), `.dockerignore lacks ${entry}`);
  });

  test('without a build script there is no build stage and the project is copied as is', async () => {
    const dir = project({ build: false });
    await init(dir, ['docker', 'server.mjs']);
    const dockerfile = DockerfileParser.parse(readFileSync(join(dir, 'Dockerfile'), 'utf8'));
    assert.deepEqual(dockerfile.getFROMs().map((f) => f.getBuildStage()), ['deps', 'runtime']);
    assert.ok(dockerfile.getInstructions().some((i) => i.getKeyword() === 'COPY' && i.getArgumentsContent() === '. .'));
  });
  test('settings from a config file that the container provides otherwise are reset on the command line', async () => {
    const dir = project({ build: false });
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ app: 'server.mjs', user: 'www-data', pid: 'keel.pid', accessLogfile: 'access.log', workers: 2 }));
    const result = await init(dir, ['docker']);
    assert.match(result.stdout, /in a container logs go to stdout/);
    const [cmd] = DockerfileParser.parse(readFileSync(join(dir, 'Dockerfile'), 'utf8')).getCMDs();
    const words = cmd.getJSONStrings().map((s) => s.getJSONValue());
    // The image holds the same keel.config.json: what the CMD says must win over it.
    const printed = await runKeel([...words, '--print-config'], { cwd: dir });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^user += none +# flag$/m);
    assert.match(printed.stdout, /^pid += none +# flag$/m);
    assert.match(printed.stdout, /^accessLogfile += - +# flag$/m);
    assert.match(printed.stdout, /^workers += 2 /m);
  });
});

describe('keel init kubernetes', () => {
  test('a Deployment and a Service that pass the Kubernetes schemas, with probes and grace matched to keel', async () => {
    const dir = project();
    const result = await init(dir, ['kubernetes', 'server.mjs', '--workers', '3', '--graceful-timeout', '45', '--max-memory', '400m', '--bind', '127.0.0.1:80', '--redis', REDIS_URL]);
    assertNoSecret(dir, ['kubernetes.yaml']);
    const docs = parseAllDocuments(readFileSync(join(dir, 'kubernetes.yaml'), 'utf8'));
    for (const doc of docs) assert.deepEqual(doc.errors, []);
    const [deploymentData, serviceData] = docs.map((d) => d.toJSON());
    assert.equal(deploymentData.kind, 'Deployment');
    assert.equal(serviceData.kind, 'Service');
    // The schemas of kubernetes-models (from Kubernetes' OpenAPI spec) throw on any invalid field.
    new Deployment(deploymentData).validate();
    new Service(serviceData).validate();
    // …and they do catch mistakes: a port given as text is refused.
    const broken = structuredClone(deploymentData);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    assert.throws(() => new Deployment(broken).validate());

    const pod = deploymentData.spec.template.spec;
    const [container] = pod.containers;
    const preStop = container.lifecycle.preStop.exec.command;
    assert.equal(preStop[0], 'sleep');
    const preStopSeconds = Number(preStop[1]);
    assert.ok(preStopSeconds > 0);
    // Grace covers the preStop pause, 45 s of draining and keel's 2 s kill grace.
    assert.ok(pod.terminationGracePeriodSeconds >= preStopSeconds + 45 + 2, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}`);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);

    const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.livenessProbe.httpGet.port, 'admin');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, 'admin');
    const args = container.args.join(' ');
    assert.match(args, new RegExp(`--admin 0\\.0\\.0\\.0:${ports.admin}`), 'kubelet probes reach the admin listener from outside the pod');
    assert.match(args, /--bind 0\.0\.0\.0:8080/);
    assert.match(args, /--graceful-timeout 45/);
    assert.doesNotMatch(args, /--redis/);
    const env = Object.fromEntries(container.env.map((e) => [e.name, e]));
    assert.ok(env.KEEL_ADMIN_TOKEN.valueFrom.secretKeyRef.name, 'the admin token comes from a Secret');
    assert.ok(env.KEEL_REDIS.valueFrom.secretKeyRef.key);
    assert.match(result.stdout, /kubectl create secret generic \S+ --from-literal=admin-token=/);

    // Memory: the limit holds 3 workers at --max-memory 400m each, plus the primary.
    const mebibytes = Number(/^(\d+)Mi$/.exec(container.resources.limits.memory)[1]);
    assert.ok(mebibytes >= 3 * 400, `memory limit ${container.resources.limits.memory}`);
    assert.equal(container.resources.limits.cpu, '3', 'one CPU per worker');

    // The Service publishes port 80 to the container's 8080.
    const [servicePort] = serviceData.spec.ports;
    assert.equal(servicePort.port, 80);
    assert.equal(ports[servicePort.targetPort], 8080);
    assert.deepEqual(serviceData.spec.selector, deploymentData.spec.selector.matchLabels);
  });
});

describe('keel init kubernetes with TLS files', () => {
  test('keys come from a Secret, copied mode 600 by an init container; the redirect listener gets its own port', async () => {
    const dir = project();
    const result = await init(dir, ['kubernetes', 'server.mjs', '--bind', 'https://127.0.0.1:443', '--certfile', 'certs/site.pem', '--keyfile', 'certs/site.key', '--redirect-http', '127.0.0.1:80']);
    const [deploymentData, serviceData] = parseAllDocuments(readFileSync(join(dir, 'kubernetes.yaml'), 'utf8')).map((d) => d.toJSON());
    new Deployment(deploymentData).validate();
    new Service(serviceData).validate();
    const pod = deploymentData.spec.template.spec;
    const [container] = pod.containers;
    const args = container.args.join(' ');
    assert.match(args, /--certfile \/etc\/keel\/tls\/site\.pem --keyfile \/etc\/keel\/tls\/site\.key/);
    assert.match(args, /--bind https:\/\/0\.0\.0\.0:8443/);
    assert.match(args, /--redirect-http 0\.0\.0\.0:8080/);
    const [copy] = pod.initContainers;
    assert.match(copy.command.join(' '), /chmod 600 \/etc\/keel\/tls\//);
    const tlsVolume = pod.volumes.find((v) => v.secret);
    assert.equal(tlsVolume.secret.secretName, 'acme-shop-app-tls');
    assert.ok(container.volumeMounts.some((m) => m.mountPath === '/etc/keel/tls'));
    assert.deepEqual(serviceData.spec.ports.map((p) => [p.port, p.targetPort]), [[443, 'https'], [80, 'redirect']]);
    assert.match(result.stdout, /kubectl create secret generic acme-shop-app-tls --from-file=\S+site\.pem --from-file=\S+site\.key/);
  });
});

describe('keel init: files and bad input', () => {
  test('an existing file is kept without --force (exit 2) and replaced with it; --out picks the directory', async () => {
    const dir = project();
    const out = join(dir, 'deploy', 'systemd');
    await init(dir, ['systemd', 'server.mjs', '--out', out]);
    const path = join(out, 'keel.service');
    writeFileSync(path, 'edited by hand\n');
    const refused = await init(dir, ['systemd', 'server.mjs', '--out', out, '--workers', '5'], { expect: 2 });
    assert.match(refused.stderr, /^keel: .*keel\.service already exists; pass --force/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    assert.equal(readFileSync(path, 'utf8'), 'edited by hand\n');
    await init(dir, ['systemd', 'server.mjs', '--out', out, '--workers', '5', '--force']);
    assert.match(readFileSync(path, 'utf8'), /--workers 5/);
    assert.ok(!existsSync(join(dir, 'keel.service')), 'nothing written outside --out');
  });

  test('an unknown target is exit 2 with the allowed list', async () => {
    const dir = project();
    const result = await init(dir, ['upstart', 'server.mjs'], { expect: 2 });
    assert.equal(result.stderr, 'keel: init: unknown target "upstart"; expected one of systemd, docker, kubernetes\n');
  });

  test('a bad setting is refused as keel serve refuses it', async () => {
    const dir = project();
    const result = await init(dir, ['docker', 'server.mjs', '--workers', 'lots'], { expect: 2 });
    assert.match(result.stderr, /^keel: --workers: "lots" is not valid/);
    assert.ok(!existsSync(join(dir, 'Dockerfile')));
  });
});

describe('sd_notify', () => {
  test('the unit\'s ExecStart, run under NOTIFY_SOCKET, sends READY=1 once keel serves, RELOADING=1/READY=1 on HUP, STOPPING=1 on TERM', async (t) => {
    const dir = project();
    const port = await freePort();
    const adminPort = await freePort();
    const args = ['server.mjs', '--workers', '2', '--bind', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--static', '/assets=./public'];
    await init(dir, ['systemd', ...args]);
    await init(dir, ['docker', ...args]);
    const words = execWords(unitValues(readFileSync(join(dir, 'keel.service'), 'utf8')).one('ExecStart'));

    // A python3 listener on a unix datagram socket stands in for systemd: one JSON line per datagram,
    // with the CLOCK_MONOTONIC time it arrived (the clock process.hrtime reads).
    const socketPath = join(tempDir('keel-notify-'), 'notify.sock');
    const listener = spawn('python3', ['-u', '-c', [
      'import socket, sys, json, time',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("listening")',
      'while True:',
      '    data = s.recv(65536).decode()',
      '    print(json.dumps([time.monotonic(), data]))',
    ].join('\n'), socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => listener.kill('SIGKILL'));
    let received = '';
    listener.stdout.on('data', (d) => (received += d));
    await waitFor(() => received.startsWith('listening'), { timeout: 10_000, what: 'the notify listener' });
    const arrivals = () => received.split('\n').slice(1).filter(Boolean).map((line) => JSON.parse(line)).filter(([, m]) => !m.startsWith('BARRIER='));
    const messages = () => arrivals().map(([, m]) => m);

    // A systemd-notify that takes 0.3 s, as one can on a loaded host: keel must still not exit
    // before its STOPPING=1 is out, or systemd never hears it.
    const slowBin = tempDir('keel-slow-notify-');
    const realNotify = spawnSync('sh', ['-c', 'command -v systemd-notify'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(slowBin, 'systemd-notify'), `#!/bin/sh\nsleep 0.3\nexec ${realNotify} "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, NOTIFY_SOCKET: socketPath, PATH: `${slowBin}:${process.env.PATH}` };
    const keel = spawn(words[0], words.slice(1), { cwd: unitValues(readFileSync(join(dir, 'keel.service'), 'utf8')).one('WorkingDirectory'), env, stdio: ['ignore', 'ignore', 'pipe'] });
    let exit = null;
    keel.on('exit', (code, signal) => (exit = { code, signal, at: Number(process.hrtime.bigint()) / 1e9 }));
    let stderr = '';
    keel.stderr.on('data', (d) => (stderr += d));
    t.after(() => exit || killTree(keel.pid));

    await waitFor(() => exit || messages().some((m) => m.split('\n').includes('READY=1')), { timeout: 30_000, what: 'READY=1' });
    assert.equal(exit, null, `keel exited: ${stderr}`);
    const [ready] = messages();
    assert.ok(ready.split('\n').includes(`MAINPID=${keel.pid}`), ready);
    // READY=1 means serving: readiness, the app and the static route all answer now.
    const readyz = await request(`http://127.0.0.1:${adminPort}/readyz`);
    await readyz.body.text();
    assert.equal(readyz.statusCode, 200);
    const page = await request(`http://127.0.0.1:${port}/`);
    assert.equal(await page.body.text(), 'hello from init');
    const file = await request(`http://127.0.0.1:${port}/assets/hello.txt`);
    assert.equal(await file.body.text(), 'static hello\n');

    // The Dockerfile's HEALTHCHECK command, run as Docker would run it, passes against this keel.
    const [healthcheck] = DockerfileParser.parse(readFileSync(join(dir, 'Dockerfile'), 'utf8')).getHEALTHCHECKs();
    const check = JSON.parse(healthcheck.getArgumentsContent().replace(/^CMD\s+/, ''));
    assert.equal(spawnSync(process.execPath, check.slice(1), { timeout: 10_000 }).status, 0);

    process.kill(keel.pid, 'SIGHUP');
    await waitFor(() => messages().filter((m) => m.includes('READY=1')).length >= 2, { timeout: 30_000, what: 'READY=1 after the reload' });
    const kinds = messages().map((m) => m.split('\n').find((l) => /^(READY|RELOADING|STOPPING)=1$/.test(l)));
    assert.deepEqual(kinds, ['READY=1', 'RELOADING=1', 'READY=1']);
    assert.match(messages()[1], /^MONOTONIC_USEC=\d+$/m);

    process.kill(keel.pid, 'SIGTERM');
    await waitFor(() => exit, { timeout: 30_000, what: 'keel to exit' });
    assert.equal(exit.code, 0);
    // keel waits for the helper that carries STOPPING=1 before it exits: systemd ignores a message whose main PID is gone.
    // The listener prints each datagram as it arrives; a short bounded wait lets its pipe catch up.
    await waitFor(() => messages().length >= 4, { timeout: 2_000, what: 'the listener to print STOPPING=1' });
    assert.deepEqual(messages().map((m) => m.split('\n').find((l) => /^(READY|RELOADING|STOPPING)=1$/.test(l))), ['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    const [stoppingAt] = arrivals()[3];
    assert.ok(stoppingAt < exit.at, `STOPPING=1 arrived ${(stoppingAt - exit.at).toFixed(3)} s after keel exited`);
    // And the health check fails once keel is gone.
    assert.notEqual(spawnSync(process.execPath, check.slice(1), { timeout: 10_000 }).status, 0);
  });
});
