// The dev mode in the resolved config, and what keel dev accepts to listen on: the mode comes only
// from the command, with dev defaults (one worker, NODE_ENV=development) that flags and env override.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../dist/config/resolve.js';
import { checkDevConfig } from '../../dist/cli/dev.js';
import { tempDir } from '../helpers/keel.js';

const cwd = tempDir('keel-devmode-');
const resolve = (cli, { env = {}, mode } = {}) => resolveConfig({ cli, appArg: null, env, cwd, mode });

describe('mode in the resolved config', () => {
  test('serve by default: production, workers per CPU', async () => {
    const config = await resolve({});
    assert.equal(config.mode, 'serve');
    assert.equal(config.env.NODE_ENV, 'production');
  });

  test('env cannot turn dev on', async () => {
    const config = await resolve({}, { env: { KEEL_MODE: 'dev', KEEL_DEV: '1', NODE_ENV: 'development', DEBUG: '1' } });
    assert.equal(config.mode, 'serve');
  });

  test('a config file cannot set it either: mode is an unknown key', async () => {
    const dir = tempDir('keel-devmode-file-');
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify({ mode: 'dev' }));
    await assert.rejects(resolveConfig({ cli: {}, appArg: null, env: {}, cwd: dir }), (err) => err.code === 'KEEL_ERR_CONFIG_UNKNOWN');
  });

  test('dev: one worker and NODE_ENV=development, unless set', async () => {
    const config = await resolve({}, { mode: 'dev' });
    assert.equal(config.mode, 'dev');
    assert.equal(config.workers, 1);
    assert.equal(config.env.NODE_ENV, 'development');
    assert.equal(config.accessLogfile, '-');
    const told = await resolve({ workers: '3' }, { mode: 'dev', env: { NODE_ENV: 'staging' } });
    assert.equal(told.workers, 3);
    assert.equal(told.env.NODE_ENV, 'staging');
    assert.equal((await resolve({}, { mode: 'dev', env: { KEEL_WORKERS: '2' } })).workers, 2);
  });
});

describe('checkDevConfig', () => {
  test('accepts loopback addresses and unix sockets', async () => {
    for (const bind of ['127.0.0.1:8000', '127.0.0.2:8000', 'localhost:8000', '[::1]:8000', 'unix:/tmp/keel-dev.sock']) {
      checkDevConfig(await resolve({ bind: [bind], admin: '127.0.0.1:9000' }, { mode: 'dev' }));
    }
    checkDevConfig(await resolve({ admin: 'off' }, { mode: 'dev' }));
  });

  test('refuses any public --bind, --admin or --redirect-http, naming the flag and keel serve', async () => {
    const cases = [
      [{ bind: ['0.0.0.0:8000'] }, '--bind', '0.0.0.0:8000'],
      [{ bind: ['127.0.0.1:8000', '[::]:8001'] }, '--bind', '[::]:8001'],
      [{ admin: '0.0.0.0:9000' }, '--admin', '0.0.0.0:9000'],
      [{ bind: ['https://127.0.0.1:8443'], https: 'local', redirectHttp: '0.0.0.0:8080' }, '--redirect-http', '0.0.0.0:8080'],
    ];
    for (const [cli, setting, address] of cases) {
      const config = await resolve(cli, { mode: 'dev' });
      assert.throws(
        () => checkDevConfig(config),
        (err) => err.code === 'KEEL_ERR_DEV_NOT_LOOPBACK' && err.exitCode === 2 && err.message === `${setting}: keel dev listens on loopback only (${address} is not); use keel serve for a public address`,
        `${setting} ${address}`,
      );
    }
  });
});
