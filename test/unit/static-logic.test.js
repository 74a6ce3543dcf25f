// Pure logic of the static route: byte ranges, conditionals, Accept-Encoding, hashed names, safe
// paths. Each case would fail if the rule it names broke.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRange } from '../../dist/front/static/byte-range.js';
import { evaluatePreconditions, ifRangeHolds } from '../../dist/front/static/conditional.js';
import { codingWeights, parseAcceptEncoding, pickCoding } from '../../dist/front/accept-encoding.js';
import { cacheControlOf, contentTypeOf, etagOf, isHashedName } from '../../dist/front/static/static-headers.js';
import { hasExtension, resolveSafePath, urlOf } from '../../dist/front/static/safe-path.js';

describe('parseRange', () => {
  const cases = [
    ['bytes=0-99', 1000, { start: 0, end: 99 }],
    ['bytes=100-', 1000, { start: 100, end: 999 }],
    ['bytes=-100', 1000, { start: 900, end: 999 }],
    ['bytes=-5000', 1000, { start: 0, end: 999 }],
    ['bytes=990-5000', 1000, { start: 990, end: 999 }],
    ['BYTES=1-1', 10, { start: 1, end: 1 }],
    ['bytes= 2 - 3 ', 10, { start: 2, end: 3 }],
    ['bytes=0-0,', 10, { start: 0, end: 0 }],
    ['bytes=1000-', 1000, 'unsatisfiable'],
    ['bytes=1000-1001', 1000, 'unsatisfiable'],
    ['bytes=-0', 1000, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=-1', 0, 'unsatisfiable'],
    ['bytes=5-4', 1000, 'ignore'],
    ['bytes=0-1,5-9', 1000, 'ignore'],
    ['bytes=-', 1000, 'ignore'],
    ['bytes=a-b', 1000, 'ignore'],
    ['items=0-1', 1000, 'ignore'],
    ['bytes=', 1000, 'ignore'],
    ['bytes=99999999999999999999-', 1000, 'ignore'],
  ];
  for (const [header, size, expected] of cases) {
    test(`${header} of ${size} bytes → ${JSON.stringify(expected)}`, () => assert.deepEqual(parseRange(header, size), expected));
  }
});

describe('conditional requests', () => {
  const v = { etag: '"abc-10"', lastModifiedSec: 1_700_000_000 };
  const date = (sec) => new Date(sec * 1000).toUTCString();
  test('If-None-Match matching (weakly, in a list, or *) → 304', () => {
    assert.equal(evaluatePreconditions({ 'if-none-match': '"abc-10"' }, v), 304);
    assert.equal(evaluatePreconditions({ 'if-none-match': '"x", W/"abc-10"' }, v), 304);
    assert.equal(evaluatePreconditions({ 'if-none-match': '*' }, v), 304);
    assert.equal(evaluatePreconditions({ 'if-none-match': '"other"' }, v), 0);
  });
  test('If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)', () => {
    assert.equal(evaluatePreconditions({ 'if-none-match': '"other"', 'if-modified-since': date(v.lastModifiedSec + 10) }, v), 0);
  });
  test('If-Modified-Since: not modified since → 304, modified after → 0, garbage ignored', () => {
    assert.equal(evaluatePreconditions({ 'if-modified-since': date(v.lastModifiedSec) }, v), 304);
    assert.equal(evaluatePreconditions({ 'if-modified-since': date(v.lastModifiedSec - 1) }, v), 0);
    assert.equal(evaluatePreconditions({ 'if-modified-since': 'yesterday' }, v), 0);
  });
  test('If-Match (strong) and If-Unmodified-Since → 412 when they fail', () => {
    assert.equal(evaluatePreconditions({ 'if-match': '"abc-10"' }, v), 0);
    assert.equal(evaluatePreconditions({ 'if-match': 'W/"abc-10"' }, v), 412);
    assert.equal(evaluatePreconditions({ 'if-match': '"nope"' }, v), 412);
    assert.equal(evaluatePreconditions({ 'if-unmodified-since': date(v.lastModifiedSec - 5) }, v), 412);
    assert.equal(evaluatePreconditions({ 'if-unmodified-since': date(v.lastModifiedSec) }, v), 0);
  });
  test('If-Range: a strong ETag or the exact date holds; anything else does not', () => {
    assert.equal(ifRangeHolds(undefined, v), true);
    assert.equal(ifRangeHolds('"abc-10"', v), true);
    assert.equal(ifRangeHolds('"abc-11"', v), false);
    assert.equal(ifRangeHolds('W/"abc-10"', v), false);
    assert.equal(ifRangeHolds(date(v.lastModifiedSec), v), true);
    assert.equal(ifRangeHolds(date(v.lastModifiedSec + 1), v), false);
  });
});

describe('Accept-Encoding', () => {
  test('q-values, q=0 refusals, the * wildcard and x-gzip', () => {
    assert.deepEqual(parseAcceptEncoding('gzip, deflate, br'), { br: 1, gzip: 1 });
    assert.deepEqual(parseAcceptEncoding('br;q=0, gzip'), { br: 0, gzip: 1 });
    assert.deepEqual(parseAcceptEncoding('*'), { br: 1, gzip: 1 });
    assert.deepEqual(parseAcceptEncoding('br;q=0, *;q=0.5'), { br: 0, gzip: 0.5 });
    assert.deepEqual(parseAcceptEncoding('x-gzip'), { br: 0, gzip: 1 });
    assert.deepEqual(parseAcceptEncoding('identity'), { br: 0, gzip: 0 });
    assert.deepEqual(parseAcceptEncoding('GZIP;Q=0.3, BR;q=0.2'), { br: 0.2, gzip: 0.3 });
  });
  test('brotli preferred at equal weight, the higher weight otherwise, only among siblings that exist', () => {
    assert.equal(pickCoding(codingWeights('gzip, br'), true, true), 'br');
    assert.equal(pickCoding(codingWeights('gzip;q=1, br;q=0.5'), true, true), 'gzip');
    assert.equal(pickCoding(codingWeights('gzip, br'), false, true), 'gzip');
    assert.equal(pickCoding(codingWeights('br'), false, true), null);
    assert.equal(pickCoding(codingWeights('gzip;q=0, br;q=0'), true, true), null);
    assert.equal(pickCoding(codingWeights(undefined), true, true), null);
  });
});

describe('static headers', () => {
  test('content-hashed names are recognised; words, versions and dates are not', () => {
    for (const name of ['app.3f9a2c1b.js', 'main-BkX9s2Qa.css', 'main.073c9b0a.chunk.js', 'assets/index-BQ3kvK4Z.js', 'chunk.1a2b3c4d5e6f7a8b.mjs', 'img/logo.5d41402abc4b2a76b9719d911017c592.png']) {
      assert.equal(isHashedName(name), true, name);
    }
    for (const name of ['app.js', 'jquery-migration.js', 'jquery-3.7.1.min.js', 'report-20240101.pdf', 'index.html', 'bootstrap-Datepicker.js', 'a1b2c3d4.js', 'favicon.ico', 'ubuntu-22.04-desktop-amd64.iso']) {
      assert.equal(isHashedName(name), false, name);
    }
  });
  test('Cache-Control: immutable for hashed names, revalidate otherwise, no-cache for a SPA index.html', () => {
    assert.equal(cacheControlOf('app.3f9a2c1b.js', false), 'public, max-age=31536000, immutable');
    assert.equal(cacheControlOf('app.js', false), 'public, max-age=0, must-revalidate');
    assert.equal(cacheControlOf('index.html', true), 'no-cache');
    assert.equal(cacheControlOf('docs/index.html', true), 'no-cache');
    assert.equal(cacheControlOf('index.html', false), 'public, max-age=0, must-revalidate');
  });
  test('Content-Type with charset for text, octet-stream when unknown', () => {
    assert.equal(contentTypeOf('a.html'), 'text/html; charset=utf-8');
    assert.equal(contentTypeOf('a.js'), 'text/javascript; charset=utf-8');
    assert.equal(contentTypeOf('a.css'), 'text/css; charset=utf-8');
    assert.equal(contentTypeOf('a.png'), 'image/png');
    assert.equal(contentTypeOf('README'), 'application/octet-stream');
    assert.equal(contentTypeOf('x.unknownext'), 'application/octet-stream');
  });
  test('ETag changes with mtime (to the millisecond) and size', () => {
    assert.equal(etagOf(0x10, 0x20), '"10-20"');
    assert.notEqual(etagOf(1_700_000_000_001, 5), etagOf(1_700_000_000_002, 5));
  });
});

describe('resolveSafePath', () => {
  const ok = (url, prefix, rel, dir = false, query = '') => assert.deepEqual(resolveSafePath(url, prefix), { rel, dir, query }, url);
  test('plain paths under a prefix or under /', () => {
    ok('/assets/app.js', '/assets', 'app.js');
    ok('/assets/js/app.js?v=1', '/assets', 'js/app.js', false, '?v=1');
    ok('/assets', '/assets', '');
    ok('/assets/', '/assets', '', true);
    ok('/assets/sub/', '/assets', 'sub', true);
    ok('/', '/', '', true);
    ok('/a/b.txt', '/', 'a/b.txt');
    ok('/assets//js///app.js', '/assets', 'js/app.js');
    ok('/assets/%61pp.js', '/assets', 'app.js');
    ok('/assets/caf%C3%A9.txt', '/assets', 'café.txt');
    ok('/assets/.well-known/security.txt', '/assets', '.well-known/security.txt');
    ok('/assets/a%20b.txt', '/assets', 'a b.txt');
  });
  test('refusals: 400 for what cannot be decoded or holds NUL, 404 for the rest', () => {
    const refused = {
      '/assets/../secret': 404,
      '/assets/%2e%2e/secret': 404,
      '/assets/%2E%2E/secret': 404,
      '/assets/%252e%252e/secret': 404,
      '/assets/..%2fsecret': 404,
      '/assets/..%5csecret': 404,
      '/assets/..\\secret': 404,
      '/assets/./app.js': 404,
      '/assets/.env': 404,
      '/assets/sub/.git/config': 404,
      '/assets/.well-known/.hidden': 404,
      '/assets/..;/secret': 404,
      '/assets/%c0%ae%c0%ae/secret': 400,
      '/assets/%e0%80%ae/x': 400,
      '/assets/app.js%00.png': 400,
      '/assets/%zz': 400,
      '/assets/%': 400,
      '/assetsx/app.js': 404,
      '/%61ssets/../app.js': 404,
      '*': 400,
      'http://example.com/assets/app.js': 400,
    };
    for (const [url, status] of Object.entries(refused)) assert.equal(resolveSafePath(url, '/assets'), status, url);
  });
  test('extensions and redirect URLs', () => {
    assert.equal(hasExtension('app.js'), true);
    assert.equal(hasExtension('dashboard/settings'), false);
    assert.equal(hasExtension('v1.2/users'), false);
    assert.equal(hasExtension('.hidden'), false);
    assert.equal(urlOf('/assets', 'a b/c?d', true), '/assets/a%20b/c%3Fd/');
    assert.equal(urlOf('/', 'docs', true), '/docs/');
    assert.equal(urlOf('/', '', true), '/');
  });
});
