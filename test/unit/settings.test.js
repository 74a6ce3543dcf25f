// The settings table is the single source of truth: every entry is well-formed, its default passes
// its own validation, names do not collide, docs/settings.md is generated from it, and the value
// types parse what they promise and refuse the rest with a message saying what is allowed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { defaultOf, envName, settings, showValue } from '../../dist/config/settings.js';
import { renderSettingsDoc } from '../../dist/config/settings-doc.js';
import {
  ValueError,
  bindAddress,
  boolean,
  bytes,
  integer,
  ipRange,
  listOf,
  oneOf,
  optionalBindAddress,
  parseBindAddress,
  seconds,
} from '../../dist/config/value-types.js';

const ROOT = join(import.meta.dirname, '..', '..');

function duplicates(values) {
  return values.filter((v, i) => values.indexOf(v) !== i);
}

describe('the settings table', () => {
  test('has the options the issue names (Gunicorn names where Gunicorn has one)', () => {
    const flags = settings.map((s) => s.flag);
    for (const flag of [
      'bind', 'workers', 'timeout', 'graceful-timeout', 'keep-alive', 'max-requests', 'max-requests-jitter', 'limit-request-line',
      'limit-request-fields', 'limit-request-field-size', 'forwarded-allow-ips', 'access-logfile', 'access-logformat', 'error-logfile',
      'log-level', 'user', 'group', 'pid', 'config', 'env-file', 'max-body', 'max-memory', 'request-timeout', 'admin', 'print-config',
    ]) {
      assert.ok(flags.includes(flag), `no --${flag}`);
    }
    const short = Object.fromEntries(settings.filter((s) => s.short).map((s) => [s.short, s.flag]));
    assert.equal(short.b, 'bind');
    assert.equal(short.w, 'workers');
    assert.equal(short.c, 'config');
  });

  for (const entry of settings) {
    test(`${entry.key}: well-formed, and its default passes its own validation`, () => {
      assert.match(entry.key, /^[a-z][A-Za-z0-9]*$/, 'key is camelCase');
      assert.match(entry.flag, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'flag is kebab-case');
      assert.equal(entry.flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase()), entry.key, 'key is the flag in camelCase');
      if (entry.short !== undefined) assert.match(entry.short, /^[a-zA-Z]$/);
      assert.equal(typeof entry.help, 'string');
      assert.ok(entry.help.length > 10, 'help present');
      assert.ok(entry.help.endsWith('.'), `help ends with a full stop: ${entry.help}`);
      assert.ok(entry.type.allowed.length > 0, 'allowed text present');
      assert.ok(['server', 'tls', 'routes', 'upstreams', 'cache', 'ratelimit', 'workers', 'limits', 'proxy', 'logging', 'process', 'config'].includes(entry.section));
      assert.match(envName(entry), /^KEEL_[A-Z0-9_]+$/);
      if (typeof entry.default === 'function') assert.ok(entry.defaultText, 'a machine-dependent default has a defaultText for the docs');

      const value = defaultOf(entry);
      if (value === null) {
        assert.equal(entry.type.parse(null), null, 'null default: the type accepts "no value"');
        assert.equal(showValue(entry, value), 'none');
      } else {
        // As a flag or env var would give it: the shown text parses back to the default.
        assert.deepEqual(entry.type.parse(showValue(entry, value)), value, 'parse(show(default)) round-trips');
        // As a config file would give it, for plain values.
        const plain = (v) => ['number', 'boolean', 'string'].includes(typeof v);
        if (plain(value) || (Array.isArray(value) && value.every(plain))) assert.deepEqual(entry.type.parse(value), value, 'parse(default)');
      }
      if (entry.switch) assert.equal(value, false, 'a switch defaults to off');
      if (entry.repeatable) assert.ok(Array.isArray(value), 'a repeatable setting holds a list');
    });
  }

  test('keys, flags, short flags and env names are unique; env names start with KEEL_', () => {
    assert.deepEqual(duplicates(settings.map((s) => s.key)), []);
    assert.deepEqual(duplicates(settings.map((s) => s.flag)), []);
    assert.deepEqual(duplicates(settings.filter((s) => s.short).map((s) => s.short)), []);
    const envs = settings.filter((s) => !s.cliOnly).map(envName);
    assert.deepEqual(duplicates(envs), []);
    for (const name of envs) assert.ok(name.startsWith('KEEL_'));
    // -h and -v belong to --help and --version.
    for (const s of settings) assert.ok(!['h', 'v'].includes(s.short), `-${s.short} is taken by commander`);
  });

  test('defaults the issue fixes: loopback 127.0.0.1:8000, admin 127.0.0.1:9000, keep-alive 75 s, max body 1 MiB, timeout 30 s, workers = CPUs', async () => {
    const { availableParallelism } = await import('node:os');
    const byKey = Object.fromEntries(settings.map((s) => [s.key, defaultOf(s)]));
    assert.deepEqual(byKey.bind.map((b) => b.text), ['127.0.0.1:8000']);
    assert.equal(byKey.admin.text, '127.0.0.1:9000');
    assert.equal(byKey.keepAlive, 75);
    assert.equal(byKey.maxBody, 1024 * 1024);
    assert.equal(byKey.timeout, 30);
    assert.equal(byKey.workers, availableParallelism());
    assert.deepEqual(byKey.forwardedAllowIps, ['127.0.0.1', '::1']);
  });

  test('docs/settings.md is exactly what the table generates (run `npm run docs` after changing the table)', () => {
    const committed = readFileSync(join(ROOT, 'docs', 'settings.md'), 'utf8');
    assert.equal(committed, renderSettingsDoc());
    for (const entry of settings) assert.ok(committed.includes(`--${entry.flag}`), `docs/settings.md lacks --${entry.flag}`);
  });
});

function refuses(type, raw, allowed = type.allowed) {
  assert.throws(() => type.parse(raw), (err) => err instanceof ValueError && err.message === allowed, `${JSON.stringify(raw)} should be refused with "${allowed}"`);
}

describe('value types', () => {
  test('seconds: plain numbers as Gunicorn takes them, or with a unit', () => {
    const type = seconds(0, 3600);
    assert.equal(type.parse('30'), 30);
    assert.equal(type.parse(30), 30);
    assert.equal(type.parse('500ms'), 0.5);
    assert.equal(type.parse('2m'), 120);
    assert.equal(type.parse('1h'), 3600);
    assert.equal(type.parse('1.5s'), 1.5);
    assert.equal(type.parse(' 10 s '), 10);
    assert.equal(type.allowed, 'a number of seconds from 0 to 3600 (units ms, s, m, h allowed)');
    for (const bad of ['banana', '-1', '2h', '5d', '', 'ms', '1e3']) refuses(type, bad);
    refuses(seconds(1, 60), '0.5');
  });

  test('bytes: plain or with k/m/g units', () => {
    const type = bytes();
    assert.equal(type.parse('1m'), 1024 * 1024);
    assert.equal(type.parse('512k'), 512 * 1024);
    assert.equal(type.parse('512K'), 512 * 1024);
    assert.equal(type.parse('2GiB'), 2 * 1024 ** 3);
    assert.equal(type.parse('1.5kb'), 1536);
    assert.equal(type.parse('1048576'), 1048576);
    assert.equal(type.parse(0), 0);
    assert.match(type.allowed, /^a size in bytes, optionally with a unit \(k, m, g\)/);
    for (const bad of ['huge', '5x', '-1', '1 tb', '']) refuses(type, bad);
  });

  test('bind addresses: host:port, [IPv6]:port, unix:/path, a bare port, a bare host', () => {
    assert.deepEqual(parseBindAddress('[::1]:8080', 8000), { kind: 'tcp', host: '::1', port: 8080, text: '[::1]:8080' });
    assert.deepEqual(parseBindAddress('[::]', 8000), { kind: 'tcp', host: '::', port: 8000, text: '[::]:8000' });
    assert.deepEqual(parseBindAddress('unix:/x', 8000), { kind: 'unix', path: '/x', text: 'unix:/x' });
    assert.deepEqual(parseBindAddress('8000', 9999), { kind: 'tcp', host: '127.0.0.1', port: 8000, text: '127.0.0.1:8000' });
    assert.deepEqual(parseBindAddress('host', 8000), { kind: 'tcp', host: 'host', port: 8000, text: 'host:8000' });
    assert.deepEqual(parseBindAddress('0.0.0.0:80', 8000), { kind: 'tcp', host: '0.0.0.0', port: 80, text: '0.0.0.0:80' });
    assert.deepEqual(parseBindAddress('localhost:0', 8000), { kind: 'tcp', host: 'localhost', port: 0, text: 'localhost:0' });

    const type = bindAddress(8000);
    assert.equal(type.allowed, 'HOST:PORT, [IPv6]:PORT or unix:/path/to/socket');
    for (const bad of ['127.0.0.1:99999', '127.0.0.1:-1', 'host:port', 'a:b:c', 'unix:', ':8000', 'ho st:80', '[::1]:x', '', 'https://127.0.0.1:1']) refuses(type, bad);
  });

  test('bind schemes: https:// is TLS (443 by default), http:// plain, bare decided by the certificate settings', () => {
    assert.deepEqual(parseBindAddress('https://127.0.0.1:8443', 8000), { kind: 'tcp', host: '127.0.0.1', port: 8443, text: 'https://127.0.0.1:8443', scheme: 'https' });
    assert.deepEqual(parseBindAddress('https://0.0.0.0', 8000), { kind: 'tcp', host: '0.0.0.0', port: 443, text: 'https://0.0.0.0:443', scheme: 'https' });
    assert.deepEqual(parseBindAddress('http://[::1]:80', 8000), { kind: 'tcp', host: '::1', port: 80, text: 'http://[::1]:80', scheme: 'http' });
    assert.equal(parseBindAddress('127.0.0.1:1', 8000).scheme, undefined);
    const type = bindAddress(8000, true);
    assert.equal(type.parse('https://127.0.0.1:1').scheme, 'https');
    for (const bad of ['https://', 'ftp://127.0.0.1:1', 'https://host:port']) refuses(type, bad);
  });

  test('bind lists (repeatable flag, comma-separated env, array in a file) and the admin address (or off)', () => {
    const list = settings.find((s) => s.key === 'bind').type;
    assert.deepEqual(list.parse(['127.0.0.1:1', 'unix:/s']).map((b) => b.text), ['127.0.0.1:1', 'unix:/s']);
    assert.deepEqual(list.parse('127.0.0.1:1, [::1]:2').map((b) => b.text), ['127.0.0.1:1', '[::1]:2']);
    assert.throws(() => list.parse('127.0.0.1:1,nope:port'), ValueError);

    const admin = optionalBindAddress(9000);
    assert.equal(admin.parse('off'), null);
    assert.equal(admin.parse('OFF'), null);
    assert.equal(admin.parse(false), null);
    assert.equal(admin.parse('127.0.0.1:9100').text, '127.0.0.1:9100');
    assert.equal(admin.parse('9100').text, '127.0.0.1:9100');
    refuses(admin, 'nowhere:port', 'HOST:PORT, [IPv6]:PORT or unix:/path/to/socket, or off');
  });

  test('integers, booleans, choices and IP ranges', () => {
    const workers = integer(1, 1024);
    assert.equal(workers.parse('4'), 4);
    assert.equal(workers.parse(4), 4);
    assert.equal(workers.allowed, 'a whole number from 1 to 1024');
    for (const bad of ['banana', '0', '1025', '2.5', '', '4x', true]) refuses(workers, bad);

    const flag = boolean();
    for (const yes of ['true', '1', 'yes', 'on', 'TRUE', true]) assert.equal(flag.parse(yes), true);
    for (const no of ['false', '0', 'no', 'off', false]) assert.equal(flag.parse(no), false);
    refuses(flag, 'maybe', 'true or false');

    const level = oneOf(['debug', 'info', 'warning']);
    assert.equal(level.parse('info'), 'info');
    refuses(level, 'loud', 'one of debug, info, warning');

    const ips = listOf(ipRange());
    assert.deepEqual(ips.parse('10.0.0.0/8, ::1,*'), ['10.0.0.0/8', '::1', '*']);
    assert.deepEqual(ips.parse(['192.168.1.1', 'fd00::/8']), ['192.168.1.1', 'fd00::/8']);
    for (const bad of ['10.0.0.0/33', '256.1.1.1', 'example.com', '::1/129', '10.0.0.0/8/1']) assert.throws(() => ips.parse(bad), ValueError, bad);
  });
});
