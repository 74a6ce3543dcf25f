// Configuration, seen from outside through --print-config (`key = value  # source` lines) and a
// running app: precedence flag > KEEL_* env > config file > default, config file kinds, unknown and
// renamed keys, env files, NAME_FILE secrets, redaction.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { request } from 'undici';
import { KEEL, ROOT, runCommand, runKeel, startKeel, tempDir } from '../helpers/keel.js';

const HELLO = join(ROOT, 'examples', 'hello', 'app.ts');

/** The real environment without any KEEL_* variable, so the machine's env cannot change a result. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('KEEL_')) env[name] = undefined;
  return { ...env, ...extra };
}

/** Runs `keel serve APP --print-config ...args` and parses its lines into { key: { value, source } }. */
async function printConfig(args = [], { env = {}, cwd, app = HELLO } = {}) {
  const result = await runKeel(['serve', ...(app ? [app] : []), '--print-config', ...args], { env: cleanEnv(env), cwd: cwd ?? tempDir() });
  assert.equal(result.code, 0, `--print-config failed: ${result.stderr}`);
  const settings = {};
  for (const line of result.stdout.split('\n')) {
    const match = /^(\w+)\s+= (.*?)  # (.+)$/.exec(line);
    if (match) settings[match[1]] = { value: match[2], source: match[3] };
  }
  return { settings, stdout: result.stdout, stderr: result.stderr };
}

async function expectUsageError(args, { env = {}, cwd } = {}) {
  const result = await runKeel(args, { env: cleanEnv(env), cwd: cwd ?? tempDir() });
  assert.equal(result.code, 2, `expected exit status 2, got ${result.code}\nstderr: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0], /^keel: /);
  return lines[0];
}

describe('defaults', () => {
  test('--print-config shows the defaults: bind 127.0.0.1:8000, admin 127.0.0.1:9000, workers = CPU count; exits 0', async () => {
    const { settings, stdout } = await printConfig();
    assert.deepEqual(settings.bind, { value: '127.0.0.1:8000', source: 'default' });
    assert.deepEqual(settings.admin, { value: '127.0.0.1:9000', source: 'default' });
    assert.deepEqual(settings.workers, { value: String(availableParallelism()), source: 'default' });
    assert.deepEqual(settings.keepAlive, { value: '75', source: 'default' });
    assert.deepEqual(settings.timeout, { value: '30', source: 'default' });
    assert.deepEqual(settings.maxBody, { value: String(1024 * 1024), source: 'default' });
    assert.match(stdout, /^app\s+= ".*examples\/hello\/app\.ts"$/m);
    // Nothing else: the command printed and exited, it did not start serving.
    assert.ok(!/listen|worker ready/.test(stdout));
  });

  test('the printed settings are exactly the settings table (minus printConfig)', async () => {
    const { settings: table } = await import('../../dist/config/settings.js');
    const { settings } = await printConfig();
    assert.deepEqual(Object.keys(settings).sort(), table.map((s) => s.key).filter((k) => k !== 'printConfig').sort());
  });
});

describe('precedence: flag > KEEL_* env > config file > default', () => {
  test('each layer wins over the ones below it, and print-config names where each value came from', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'keel.config.mjs'), 'export default { workers: 3, timeout: 7, keepAlive: 11, maxBody: "2m" };\n');
    const { settings } = await printConfig(['--workers', '6'], { cwd: dir, env: { KEEL_WORKERS: '5', KEEL_TIMEOUT: '8' } });
    assert.deepEqual(settings.workers, { value: '6', source: 'flag' }, 'flag beats env and file');
    assert.deepEqual(settings.timeout, { value: '8', source: 'env' }, 'env beats file');
    assert.deepEqual(settings.keepAlive, { value: '11', source: 'config file' }, 'file beats default');
    assert.deepEqual(settings.maxBody, { value: String(2 * 1024 * 1024), source: 'config file' });
    assert.deepEqual(settings.gracefulTimeout, { value: '30', source: 'default' });
  });

  test('the same holds for a repeatable list setting (bind) and an empty env value is no value', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ bind: ['127.0.0.1:7001', '127.0.0.1:7002'] }));
    assert.deepEqual((await printConfig([], { cwd: dir })).settings.bind, { value: '127.0.0.1:7001,127.0.0.1:7002', source: 'config file' });
    assert.deepEqual((await printConfig([], { cwd: dir, env: { KEEL_BIND: '127.0.0.1:7003' } })).settings.bind, { value: '127.0.0.1:7003', source: 'env' });
    assert.deepEqual((await printConfig([], { cwd: dir, env: { KEEL_BIND: '' } })).settings.bind, { value: '127.0.0.1:7001,127.0.0.1:7002', source: 'config file' });
    const flags = await printConfig(['-b', '127.0.0.1:7004', '--bind', 'unix:/tmp/keel-x.sock'], { cwd: dir, env: { KEEL_BIND: '127.0.0.1:7003' } });
    assert.deepEqual(flags.settings.bind, { value: '127.0.0.1:7004,unix:/tmp/keel-x.sock', source: 'flag' });
  });
});

describe('config files', () => {
  test('keel.config.ts in the working directory (TypeScript, no build step)', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'keel.config.ts'),
      'const workers: number = 4;\nconst config: Record<string, unknown> = { workers, logLevel: "debug", bind: ["127.0.0.1:8111"] };\nexport default config;\n',
    );
    const { settings, stdout } = await printConfig([], { cwd: dir });
    assert.deepEqual(settings.workers, { value: '4', source: 'config file' });
    assert.deepEqual(settings.logLevel, { value: 'debug', source: 'config file' });
    assert.deepEqual(settings.bind, { value: '127.0.0.1:8111', source: 'config file' });
    assert.ok(stdout.includes(`# config file: ${join(dir, 'keel.config.ts')}`));
  });

  test("a typed config in the repo: import { defineConfig } from 'keel', loaded with -c", async () => {
    const { settings } = await printConfig(['-c', 'test/fixtures/cfg-define.ts'], { cwd: ROOT });
    assert.deepEqual(settings.workers, { value: '3', source: 'config file' });
    assert.deepEqual(settings.bind, { value: '127.0.0.1:8123', source: 'config file' });
    assert.deepEqual(settings.maxBody, { value: String(512 * 1024), source: 'config file' });
    assert.deepEqual(settings.keepAlive, { value: '90', source: 'config file' });
    assert.deepEqual(settings.logLevel, { value: 'warning', source: 'config file' });
    assert.deepEqual(settings.config, { value: 'test/fixtures/cfg-define.ts', source: 'flag' });
  });

  test('defineConfig is typed: known keys type-check; a misspelt key, a wrong type or a CLI-only setting does not', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'check.ts'),
      [
        `import { defineConfig } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};`,
        "defineConfig({ app: 'src/app.ts', workers: 2, bind: ['127.0.0.1:8000', 'unix:/run/app.sock'], maxBody: '1m', keepAlive: 75, admin: 'off', logLevel: 'warning' });",
        '// @ts-expect-error a misspelt key',
        'defineConfig({ wokers: 2 });',
        '// @ts-expect-error a wrong type',
        'defineConfig({ workers: true });',
        '// @ts-expect-error a command-line-only setting',
        'defineConfig({ printConfig: true });',
        '',
      ].join('\n'),
    );
    const compilerOptions = { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: [] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    // tsc exits non-zero on a type error, or on an @ts-expect-error that expected one in vain.
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { stdio: 'pipe', timeout: 30_000 });
    } catch (err) {
      assert.fail(`tsc: ${err.stdout ?? ''}${err.stderr ?? ''}${err.message}`);
    }
  });

  test('keel.config.json, and the app named in the config file is served', async (t) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'app.mjs'), "export default (req, res) => res.end('app from config\\n');\n");
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ app: 'app.mjs', maxRequests: 1000, accessLogformat: 'json' }));
    const { settings, stdout } = await printConfig([], { cwd: dir, app: null });
    assert.match(stdout, /^app\s+= "app\.mjs"$/m);
    assert.deepEqual(settings.maxRequests, { value: '1000', source: 'config file' });
    assert.deepEqual(settings.accessLogformat, { value: 'json', source: 'config file' });

    const keel = await startKeel(null, [], { cwd: dir, workers: 1, env: cleanEnv() });
    t.after(() => keel.stop());
    const res = await request(`${keel.url}/`);
    assert.equal(await res.body.text(), 'app from config\n');
  });

  test('-c path wins over keel.config.* in the working directory', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ workers: 9 }));
    const other = tempDir();
    writeFileSync(join(other, 'production.json'), JSON.stringify({ workers: 2, timeout: 12 }));
    const { settings, stdout } = await printConfig(['-c', join(other, 'production.json')], { cwd: dir });
    assert.deepEqual(settings.workers, { value: '2', source: 'config file' });
    assert.deepEqual(settings.timeout, { value: '12', source: 'config file' });
    assert.ok(stdout.includes(`# config file: ${join(other, 'production.json')}`));
    const long = await printConfig([`--config=${join(other, 'production.json')}`], { cwd: dir });
    assert.deepEqual(long.settings.workers, { value: '2', source: 'config file' });
  });

  test('-c with a missing file: exit 2 naming --config', async () => {
    const line = await expectUsageError(['serve', HELLO, '-c', 'nope.json']);
    assert.match(line, /--config/);
    assert.match(line, /nope\.json/);
    assert.match(line, /no such file/);
  });

  test('a config file that does not export an object, or does not parse: exit 2 naming the file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'keel.config.mjs'), 'export default 42;\n');
    assert.match(await expectUsageError(['serve', HELLO], { cwd: dir }), /keel\.config\.mjs.*must export an object/);
    const broken = tempDir();
    writeFileSync(join(broken, 'keel.config.json'), '{ "workers": 2, }');
    assert.match(await expectUsageError(['serve', HELLO], { cwd: broken }), /--config: cannot load keel\.config\.json/);
  });
});

describe('config file keys are checked', () => {
  async function keyError(values, name = 'keel.config.json') {
    const dir = tempDir();
    writeFileSync(join(dir, name), JSON.stringify(values));
    return expectUsageError(['serve', HELLO], { cwd: dir });
  }

  test('an unknown key: exit 2, naming the file and the key', async () => {
    const line = await keyError({ workers: 2, zebra: true });
    assert.match(line, /keel\.config\.json/);
    assert.match(line, /unknown setting "zebra"/);
  });

  test('a near miss gets "did you mean"', async () => {
    assert.match(await keyError({ wokers: 2 }), /unknown setting "wokers"; did you mean workers\?/);
    assert.match(await keyError({ max_body: '1m' }), /unknown setting "max_body"; did you mean maxBody\?/);
    assert.match(await keyError({ gracefulTimout: 3 }), /did you mean gracefulTimeout\?/);
  });

  test('a command-line-only setting in a file says so', async () => {
    assert.match(await keyError({ printConfig: true }), /unknown setting "printConfig"; it is only a command-line flag/);
  });

  test('a renamed key: "port was removed, use bind"', async () => {
    const line = await keyError({ port: 8080 });
    assert.match(line, /keel\.config\.json: port was removed, use bind/);
    assert.match(await keyError({ loglevel: 'info' }), /loglevel was removed, use logLevel/);
  });

  test('a bad value in the file names the file and key, and what is allowed', async () => {
    const line = await keyError({ workers: 'banana' });
    assert.match(line, /keel\.config\.json: workers/);
    assert.match(line, /"banana" is not valid; expected a whole number from 1 to 1024/);
  });

  test('the same checks apply to a -c file outside the working directory, named by its path', async () => {
    const other = tempDir();
    const path = join(other, 'custom.json');
    writeFileSync(path, JSON.stringify({ timout: 5 }));
    const line = await expectUsageError(['serve', HELLO, '-c', path], { cwd: ROOT });
    assert.ok(line.startsWith(`keel: ${path}: unknown setting "timout"; did you mean timeout?`), line);
  });
});

describe('environment files and NAME_FILE', () => {
  function envFixture() {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'FROM_DOTENV=dot\nA_THEN_B=from-dotenv\nREAL_WINS=from-dotenv\nKEEL_TIMEOUT=5\nKEEL_KEEP_ALIVE=6\nKEEL_MAX_REQUESTS=7\n');
    writeFileSync(join(dir, 'a.env'), 'FROM_A=a\nA_THEN_B=from-a\nKEEL_KEEP_ALIVE=16\nKEEL_MAX_REQUESTS=17\nKEEL_GRACEFUL_TIMEOUT=18\n');
    writeFileSync(join(dir, 'b.env'), 'FROM_B=b\nA_THEN_B=from-b\nKEEL_MAX_REQUESTS=27\n');
    writeFileSync(join(dir, 'token.txt'), 'tok-from-file-123\n');
    writeFileSync(join(dir, 'workers.txt'), '3\n');
    return dir;
  }

  test('.env in the working directory and repeated --env-file: later files override earlier, the real environment wins', async () => {
    const dir = envFixture();
    const { settings } = await printConfig(['--env-file', 'a.env', '--env-file', 'b.env'], { cwd: dir, env: { KEEL_GRACEFUL_TIMEOUT: '9' } });
    assert.deepEqual(settings.timeout, { value: '5', source: 'env' }, '.env is loaded');
    assert.deepEqual(settings.keepAlive, { value: '16', source: 'env' }, '--env-file overrides .env');
    assert.deepEqual(settings.maxRequests, { value: '27', source: 'env' }, 'the later --env-file wins');
    assert.deepEqual(settings.gracefulTimeout, { value: '9', source: 'env' }, 'the real environment wins over env files');
    assert.deepEqual(settings.envFile, { value: 'a.env,b.env', source: 'flag' });
  });

  test('NAME_FILE=/path sets NAME (here a KEEL_* setting) from the file', async () => {
    const dir = envFixture();
    const { settings } = await printConfig([], { cwd: dir, env: { KEEL_WORKERS_FILE: join(dir, 'workers.txt') } });
    assert.deepEqual(settings.workers, { value: '3', source: 'env' });
  });

  test('the app in the workers sees the merged environment, NAME_FILE secrets and NODE_ENV=production', async (t) => {
    const dir = envFixture();
    const keel = await startKeel(join(ROOT, 'test', 'fixtures', 'cfg-env-app.mjs'), ['--env-file', 'a.env', '--env-file', 'b.env'], {
      cwd: dir,
      workers: 1,
      env: cleanEnv({ REAL_WINS: 'from-real-env', API_TOKEN_FILE: 'token.txt', NODE_ENV: undefined }),
    });
    t.after(() => keel.stop());
    const res = await request(`${keel.url}/`);
    assert.deepEqual(await res.body.json(), {
      FROM_DOTENV: 'dot',
      FROM_A: 'a',
      FROM_B: 'b',
      A_THEN_B: 'from-b',
      REAL_WINS: 'from-real-env',
      API_TOKEN: 'tok-from-file-123',
      NODE_ENV: 'production',
    });
  });

  test('a missing env file (from KEEL_ENV_FILE) is exit 2 naming the setting and the file; a missing .env is fine', async () => {
    const line = await expectUsageError(['serve', HELLO], { env: { KEEL_ENV_FILE: 'missing.env' } });
    assert.match(line, /^keel: (--env-file|KEEL_ENV_FILE): cannot read .*missing\.env/);
  });

  test('a missing --env-file on the command line is exit 2 naming --env-file', async () => {
    const line = await expectUsageError(['serve', HELLO, '--env-file', 'missing.env']);
    assert.match(line, /^keel: --env-file: cannot read .*missing\.env/);
  });

  test('run as a command (its #! line, as npx and npm bin links run it), --env-file is still keel\'s, not Node\'s', async () => {
    // Node reads `--env-file` anywhere after the script unless `--` ends its options (nodejs/node#58338):
    // it would load the file itself, or exit 9 "not found" before keel runs.
    const dir = tempDir();
    const env = { ...cleanEnv({}), PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
    const missing = await runCommand(KEEL, ['serve', HELLO, '--env-file', 'missing.env'], { env, cwd: dir });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /^keel: --env-file: cannot read .*missing\.env/);
    writeFileSync(join(dir, 'app.env'), 'KEEL_WORKERS=3\n');
    const printed = await runCommand(KEEL, ['serve', HELLO, '--env-file', 'app.env', '--print-config'], { env, cwd: dir });
    assert.equal(printed.code, 0, printed.stderr);
    // keel read the file (a KEEL_* variable from an env file counts as the environment).
    assert.match(printed.stdout, /^workers\s+= 3 {2}# env$/m);
  });

  test('a bad KEEL_* value that came from .env names the variable', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'KEEL_WORKERS=lots\n');
    assert.match(await expectUsageError(['serve', HELLO], { cwd: dir }), /KEEL_WORKERS: "lots" is not valid; expected a whole number from 1 to 1024/);
  });
});

describe('--print-config redacts secrets', () => {
  test('no password, token or secret env value appears anywhere in its output', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'SESSION_SECRET=dotenv-secret-value-42\n');
    const password = 'Tr0ub4dor-x9';
    const { stdout, stderr, settings } = await printConfig(['--pid', join(dir, `run-${password}.pid`), '--access-logfile', join(dir, 'tok-0123456789abcdef.log')], {
      cwd: dir,
      env: { DATABASE_URL: `postgres://app:${password}@db.internal:5432/app`, API_TOKEN: 'tok-0123456789abcdef', REDIS_URL: 'redis://:r3dis-pass-77@cache:6379' },
    });
    const output = stdout + stderr;
    for (const secret of [password, 'tok-0123456789abcdef', 'dotenv-secret-value-42', 'r3dis-pass-77', 'postgres://']) {
      assert.ok(!output.includes(secret), `--print-config output contains ${secret}:\n${output}`);
    }
    // The values that held a secret are still shown, with the secret replaced.
    assert.equal(settings.pid.value, join(dir, 'run-[REDACTED].pid'));
    assert.equal(settings.accessLogfile.value, join(dir, '[REDACTED].log'));
  });
});
