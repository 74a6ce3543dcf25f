// The pieces of `keel init`: the command line rebuilt from a resolved config parses back to the same
// config (secrets left out), systemd words and YAML text read back as what was meant.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { buildProgram } from '../../dist/cli/program.js';
import { resolveConfig } from '../../dist/config/resolve.js';
import { settings, showValue } from '../../dist/config/settings.js';
import { serveArguments } from '../../dist/deploy/serve-arguments.js';
import { systemdWord } from '../../dist/deploy/systemd-unit.js';
import { kubernetesName } from '../../dist/deploy/kubernetes-manifests.js';
import { toYaml } from '../../dist/deploy/yaml-text.js';
import { tempDir } from '../helpers/keel.js';

/** Parses `keel serve …` words with keel's real command-line parser. */
async function parseServe(words) {
  const program = buildProgram('test');
  let parsed = null;
  program.commands.find((c) => c.name() === 'serve').action((app, options) => (parsed = { app, options }));
  await program.parseAsync(words, { from: 'user' });
  return parsed;
}

async function resolveWords(words, cwd) {
  const { app, options } = await parseServe(words);
  return resolveConfig({ cli: options, appArg: app ?? null, env: {}, cwd });
}

function shown(config) {
  return Object.fromEntries(settings.map((s) => [s.key, showValue(s, config[s.key])]));
}

describe('serveArguments', () => {
  test('the rebuilt command line resolves to the same settings, with secrets only named', async () => {
    const cwd = tempDir('keel-deploy-');
    writeFileSync(join(cwd, 'app.mjs'), 'export default () => {};\n');
    mkdirSync(join(cwd, 'public'));
    const words = [
      'serve', 'app.mjs:create()',
      '--bind', '127.0.0.1:8001', '--bind', 'http://127.0.0.1:8002', '--bind', 'unix:/run/keel.sock',
      '--admin', 'off', '--hsts', 'off', '--compress', 'false', '--h2c',
      '--workers', '3', '--graceful-timeout', '45', '--timeout', '20', '--max-body', '2m',
      '--static', '/assets=./public spa', '--static', '/files=./public cache=off',
      '--proxy', '/api=http://127.0.0.1:5000,http://127.0.0.1:5001 balance=least-conn health=/healthz:3s',
      '--proxy', '/private=http://user:pw-secret@127.0.0.1:5002',
      '--rate-limit', '10r/s burst=20', '--rate-limit', '/api 5r/s',
      '--forwarded-allow-ips', '10.0.0.0/8,127.0.0.1',
      '--access-logformat', '%(h)s "%(r)s" %(s)s 100%',
      '--routes', JSON.stringify([{ path: '/py', run: 'gunicorn -b 127.0.0.1:{port} app:app' }]),
      '--redis', 'redis://:hunter2@127.0.0.1:6379',
      '--log-level', 'debug',
    ];
    const original = await resolveWords(words, cwd);
    const { args, secrets } = serveArguments(original, { app: original.app.text });
    assert.ok(!args.join(' ').includes('hunter2') && !args.join(' ').includes('pw-secret'), args.join(' '));
    assert.deepEqual(secrets.map((s) => s.envName).sort(), ['KEEL_PROXY', 'KEEL_REDIS']);
    const rebuilt = await resolveWords(args, cwd);
    const expected = shown(original);
    const actual = shown(rebuilt);
    for (const secret of secrets) {
      delete expected[secret.key];
      delete actual[secret.key];
    }
    assert.deepEqual(actual, expected);
    assert.equal(rebuilt.app.text, 'app.mjs:create()');
  });

  test('defaults are left out, except --workers, whose default is the machine', async () => {
    const cwd = tempDir('keel-deploy-');
    writeFileSync(join(cwd, 'app.mjs'), 'export default () => {};\n');
    const config = await resolveWords(['serve', 'app.mjs'], cwd);
    assert.deepEqual(serveArguments(config, { app: 'app.mjs' }).args, ['serve', 'app.mjs', '--workers', String(config.workers)]);
  });
});

describe('systemdWord', () => {
  test('quotes what systemd would split or expand, and reads back as written', () => {
    const words = ['plain', 'with space', '50%', '$HOME', 'say "hi"', 'back\\slash', '%(h)s "%(r)s"'];
    const line = words.map(systemdWord).join(' ');
    const back = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
      (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]).replace(/%%/g, '%').replace(/\$\$/g, '$'),
    );
    assert.deepEqual(back, words);
    assert.equal(systemdWord('plain'), 'plain');
  });
});

describe('toYaml', () => {
  test('writes YAML that parses back to the same data, whatever the strings look like', () => {
    const data = {
      strings: ['on', 'no', '0755', '1e3', '#comment', 'a: b', '', 'multi\nline', '- dash', '"quoted"', 'null'],
      numbers: [0, 1.5, -3],
      flags: { yes: true, no: false },
      empty: { list: [], map: {} },
      nested: [{ name: 'x', items: [{ a: 1 }, { b: [1, 2] }] }, 'scalar'],
      'odd key': null,
    };
    assert.deepEqual(parse(toYaml(data)), data);
  });

  test('leaves out undefined entries', () => {
    assert.deepEqual(parse(toYaml({ a: 1, b: undefined })), { a: 1 });
  });
});

describe('kubernetesName', () => {
  test('makes a DNS-1123 label of a package name', () => {
    assert.equal(kubernetesName('@acme/Shop_App'), 'acme-shop-app');
    assert.equal(kubernetesName('123-go'), 'app-123-go');
    assert.equal(kubernetesName('@@@'), 'keel-app');
    assert.match(kubernetesName('x'.repeat(80)), /^[a-z0-9-]{1,63}$/);
  });
});
