// Revalidation helpers (src/front/cache/revalidation.ts): which kept entries can be revalidated, the
// conditional headers added to the request that goes on, and the RFC 9111 §4.3.4 update of the kept
// headers by a 304.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { addConditionals, canRevalidate, refreshedHeaders, stripConditionals } from '../../dist/front/cache/revalidation.js';

const LM = 'Mon, 01 Jan 2024 00:00:00 GMT';

function entry(headers) {
  return { kind: 'entry', status: 200, headers, lifetime: 60, initialAge: 0, responseTime: 0, staleWhileRevalidate: 0, staleIfError: 0 };
}

function request(raw) {
  const req = new IncomingMessage(new Socket());
  req.rawHeaders = raw;
  req.headers = {};
  for (let i = 0; i < raw.length; i += 2) req.headers[raw[i].toLowerCase()] = raw[i + 1];
  return req;
}

describe('revalidation', () => {
  test('an entry can be revalidated with an ETag or a Last-Modified, not without', () => {
    assert.equal(canRevalidate(entry({ etag: '"a"' })), true);
    assert.equal(canRevalidate(entry({ 'last-modified': LM })), true);
    assert.equal(canRevalidate(entry({ 'cache-control': 'max-age=60' })), false);
  });

  test("the client's conditionals are replaced by the entry's validators, parsed and raw", () => {
    const req = request(['Host', 'x', 'If-None-Match', '"client"', 'if-modified-since', 'Tue, 02 Jan 2024 00:00:00 GMT', 'Accept', '*/*']);
    stripConditionals(req);
    assert.deepEqual(req.rawHeaders, ['Host', 'x', 'Accept', '*/*']);
    assert.equal(req.headers['if-none-match'], undefined);
    addConditionals(req, entry({ etag: '"kept"', 'last-modified': LM }));
    assert.deepEqual(req.rawHeaders, ['Host', 'x', 'Accept', '*/*', 'If-None-Match', '"kept"', 'If-Modified-Since', LM]);
    assert.equal(req.headers['if-none-match'], '"kept"');
    assert.equal(req.headers['if-modified-since'], LM);
  });

  test("a 304's headers replace the kept ones, except the body's metadata; no Date means now", () => {
    const kept = { 'content-type': 'text/html', 'cache-control': 'max-age=5', etag: '"a"', date: 'Mon, 01 Jan 2024 00:00:00 GMT', 'x-kept': '1' };
    const out = refreshedHeaders(kept, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream', 'x-new': '2' }, Date.parse('2030-01-01T00:00:00Z'));
    assert.deepEqual(out, {
      'content-type': 'text/html',
      'cache-control': 'max-age=60',
      etag: '"a"',
      date: 'Tue, 01 Jan 2030 00:00:00 GMT',
      'x-kept': '1',
      'x-new': '2',
    });
    assert.equal(kept['cache-control'], 'max-age=5', 'the kept record is not changed in place');
    assert.equal(refreshedHeaders(kept, { date: 'Wed, 02 Jan 2030 00:00:00 GMT' }, 0).date, 'Wed, 02 Jan 2030 00:00:00 GMT');
  });
});
