// Accept-Encoding negotiation (RFC 9110 §12.5.3) for on-the-fly compression: which of br and gzip a
// client takes, with q-values, `*`, q=0 refusals and malformed entries; finding the header in a raw
// header list; and which Content-Types are worth compressing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodingFor, findAcceptEncoding, negotiateEncoding } from '../../dist/front/accept-encoding.js';
import { isCompressibleType } from '../../dist/front/compressible-type.js';

describe('negotiateEncoding', () => {
  const cases = [
    // [Accept-Encoding, chosen]
    ['gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, br', 'br'],
    ['br, gzip', 'br'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['gzip; q=0.8, br; q=0.9', 'br'],
    ['gzip;q=0.5, br;q=0.5', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['br;q=0', ''],
    ['gzip;q=0, br;q=0', ''],
    ['br;q=0, *', 'gzip'],
    ['*', 'br'],
    ['*;q=0.1', 'br'],
    ['*;q=0', ''],
    ['gzip, *;q=0', 'gzip'],
    ['br;q=0.2, *;q=0.5', 'gzip'],
    ['identity', ''],
    ['identity;q=0', ''],
    ['deflate', ''],
    ['', ''],
    [' , ,', ''],
    ['GZIP', 'gzip'],
    ['Br;Q=1', 'br'],
    ['x-gzip', 'gzip'],
    ['gzip;q=1.0, br;q=0.999', 'gzip'],
    ['gzip;q=0.001', 'gzip'],
    // Malformed q-values drop the entry: as if the coding were not named.
    ['br;q=2, gzip', 'gzip'],
    ['br;q=abc, gzip;q=0.1', 'gzip'],
    ['br;q=0.1234, gzip;q=0.1', 'gzip'],
    ['br;q=-1', ''],
    // Named twice: the higher q stands.
    ['br;q=0, br;q=0.5, gzip;q=0.4', 'br'],
    // Other parameters are ignored.
    ['gzip;level=9;q=0.9, br;foo=bar;q=0.8', 'gzip'],
  ];
  for (const [header, expected] of cases) {
    test(`${JSON.stringify(header)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(negotiateEncoding(header), expected);
      assert.equal(encodingFor(header), expected, 'the remembered answer is the same');
      assert.equal(encodingFor(header), expected, 'and stays the same on the second lookup');
    });
  }

  test('a flood of distinct values does not break the remembered answers', () => {
    for (let i = 0; i < 2000; i++) assert.equal(encodingFor(`gzip;q=0.${String(i % 1000).padStart(3, '0')}, x-${i}`), i % 1000 === 0 ? '' : 'gzip');
    assert.equal(encodingFor('br'), 'br');
  });
});

describe('findAcceptEncoding', () => {
  test('finds the field whatever its case, joins several fields, undefined when absent', () => {
    assert.equal(findAcceptEncoding(['Host', 'a', 'Accept-Encoding', 'gzip, br']), 'gzip, br');
    assert.equal(findAcceptEncoding(['accept-encoding', 'br']), 'br');
    assert.equal(findAcceptEncoding(['ACCEPT-ENCODING', 'gzip']), 'gzip');
    assert.equal(findAcceptEncoding(['Accept-Encoding', 'gzip', 'X-Forwarded-For', '1.2.3.4', 'accept-encoding', 'br;q=0.5']), 'gzip, br;q=0.5');
    assert.equal(findAcceptEncoding(['Host', 'a', 'X-Forwarded-For', '1.2.3.4']), undefined);
    assert.equal(findAcceptEncoding([]), undefined);
    assert.equal(findAcceptEncoding(['Accept-Encoding', '']), '');
  });
});

describe('isCompressibleType', () => {
  test('text-like types are compressible, with or without parameters and in any case', () => {
    for (const type of ['text/html', 'text/plain; charset=utf-8', 'TEXT/CSS', 'application/json', 'application/json; charset=utf-8', 'application/javascript', 'text/javascript', 'image/svg+xml', 'application/wasm', 'application/problem+json', 'application/vnd.custom+json', 'application/atom+xml', 'text/event-stream', 'application/x-ndjson', 'text/x-unknown-thing', 'application/xml']) {
      assert.equal(isCompressibleType(type), true, type);
    }
  });
  test('images, archives, fonts mime-db marks otherwise, unknown binaries and octet-stream are not', () => {
    for (const type of ['image/png', 'image/jpeg', 'image/webp', 'application/zip', 'application/gzip', 'video/mp4', 'application/octet-stream', 'application/x-unknown-binary', 'font/woff2', '', '  ;charset=utf-8']) {
      assert.equal(isCompressibleType(type), false, type);
    }
  });
});
