// What keel sends upstream and back (src/front/proxy/forward-headers.ts, response-head.ts,
// hop-by-hop.ts): forwarding headers, hop-by-hop removal, refused framing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FRAMING_BAD, FRAMING_OK, appendForwarding, forwardedFor, forwardedNode, forwardedValue, scanRequestHead } from '../../dist/front/proxy/forward-headers.js';
import { connectionTokens, isHopByHop } from '../../dist/front/proxy/hop-by-hop.js';
import { responseHeaders } from '../../dist/front/proxy/response-head.js';

function scan(raw, version = 'http/1.1', hashHeader = null) {
  const out = { headers: [], hasBody: false, lengthKnown: false, upgrade: '', host: undefined, forwarding: false, hashKey: undefined };
  const result = scanRequestHead(raw, version, hashHeader, out);
  return { result, ...out };
}

const pairs = (flat) => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);

describe('Forwarded and X-Forwarded-For', () => {
  test('RFC 7239 nodes: IPv6 bracketed and quoted, unix peers unknown', () => {
    assert.equal(forwardedNode('192.0.2.60'), '192.0.2.60');
    assert.equal(forwardedNode('2001:db8:cafe::17'), '"[2001:db8:cafe::17]"');
    assert.equal(forwardedNode('unix'), 'unknown');
  });

  test('one element for a direct client; the trusted hop follows a forwarded one', () => {
    assert.equal(forwardedValue('192.0.2.60', 'http', 'example.com', null), 'for=192.0.2.60;host="example.com";proto=http');
    assert.equal(forwardedValue('2001:db8::1', 'https', 'example.com:8443', '10.0.0.2'), 'for="[2001:db8::1]";host="example.com:8443";proto=https, for=10.0.0.2');
    assert.equal(forwardedValue('192.0.2.60', 'http', undefined, '192.0.2.60'), 'for=192.0.2.60;proto=http');
    assert.equal(forwardedValue('192.0.2.60', 'http', 'a"b', null), 'for=192.0.2.60;host="a\\"b";proto=http');
  });

  test('X-Forwarded-For appends the peer only when it differs from the client', () => {
    assert.equal(forwardedFor('203.0.113.9', null), '203.0.113.9');
    assert.equal(forwardedFor('203.0.113.9', '203.0.113.9'), '203.0.113.9');
    assert.equal(forwardedFor('203.0.113.9', '10.0.0.2'), '203.0.113.9, 10.0.0.2');
  });

  test('appendForwarding sets all five headers', () => {
    const headers = [];
    appendForwarding(headers, { id: 'req-1', clientAddress: '203.0.113.9', scheme: 'https' }, 'shop.example', null);
    assert.deepEqual(Object.fromEntries(pairs(headers)), {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      forwarded: 'for=203.0.113.9;host="shop.example";proto=https',
      'x-request-id': 'req-1',
      'x-forwarded-host': 'shop.example',
    });
  });
});

describe('the request head sent upstream', () => {
  test('hop-by-hop headers, those Connection names, and the client\'s forwarding headers go', () => {
    const s = scan([
      'Host', 'a.example',
      'Connection', 'keep-alive, X-Private',
      'X-Private', 'secret',
      'Keep-Alive', '300',
      'Proxy-Connection', 'keep-alive',
      'TE', 'gzip',
      'Trailer', 'X-T',
      'Upgrade', 'websocket',
      'Proxy-Authorization', 'Basic eA==',
      'Authorization', 'Bearer t',
      'X-Forwarded-For', '1.2.3.4',
      'X-Forwarded-Host', 'evil',
      'X-Forwarded-Proto', 'https',
      'Forwarded', 'for=1.2.3.4',
      'X-Request-Id', 'client-chosen',
      'Expect', '100-continue',
      'Accept', '*/*',
    ]);
    assert.equal(s.result, FRAMING_OK);
    assert.deepEqual(pairs(s.headers), [['Authorization', 'Bearer t'], ['Accept', '*/*'], ['host', 'a.example']]);
    assert.equal(s.upgrade, 'websocket');
    assert.equal(s.forwarding, true);
    assert.equal(s.hasBody, false);
  });

  test('TE keeps only trailers', () => {
    assert.deepEqual(pairs(scan(['TE', 'trailers, deflate;q=0.5']).headers), [['te', 'trailers']]);
    assert.deepEqual(scan(['TE', 'deflate']).headers, []);
  });

  test('a body is announced by a non-zero Content-Length or chunked', () => {
    assert.equal(scan(['Content-Length', '10']).hasBody, true);
    assert.equal(scan(['Content-Length', '0']).hasBody, false);
    assert.equal(scan(['Transfer-Encoding', 'chunked']).hasBody, true);
    // A chunked body has no length yet: a buffered one gets its Content-Length added (proxy-exchange.ts).
    assert.equal(scan(['Content-Length', '10']).lengthKnown, true);
    assert.equal(scan(['Transfer-Encoding', 'chunked']).lengthKnown, false);
    assert.deepEqual(pairs(scan(['Transfer-Encoding', 'chunked']).headers), [], 'undici frames the body itself');
  });

  test('ambiguous framing is refused', () => {
    const bad = [
      ['Content-Length', '4', 'Transfer-Encoding', 'chunked'],
      ['Transfer-Encoding', 'gzip, chunked'],
      ['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'],
      ['Transfer-Encoding', 'identity'],
      ['Content-Length', '3', 'Content-Length', '4'],
      ['Content-Length', '4, 4'],
      ['Content-Length', '-1'],
      ['Host', 'a', 'Host', 'b'],
      ['X-Folded', 'a\r\n b'],
    ];
    for (const raw of bad) assert.equal(scan(raw).result, FRAMING_BAD, JSON.stringify(raw));
    assert.equal(scan(['Transfer-Encoding', 'chunked'], 'http/1.0').result, FRAMING_BAD);
    assert.equal(scan(['Content-Length', '4', 'Content-Length', '4']).result, FRAMING_OK, 'the same length twice is one length');
    assert.equal(scan(['Transfer-Encoding', ' Chunked ']).result, FRAMING_OK);
  });

  test('HTTP/2: pseudo-headers dropped, :authority becomes Host, cookies joined', () => {
    const s = scan([':method', 'GET', ':path', '/x', ':scheme', 'https', ':authority', 'h2.example', 'cookie', 'a=1', 'cookie', 'b=2', 'accept', '*/*'], 'h2');
    assert.deepEqual(pairs(s.headers), [['accept', '*/*'], ['cookie', 'a=1; b=2'], ['host', 'h2.example']]);
    assert.equal(s.host, 'h2.example');
  });

  test('hash-header picks its value out in the same pass', () => {
    assert.equal(scan(['X-User', 'alice', 'Accept', '*/*'], 'http/1.1', 'x-user').hashKey, 'alice');
    assert.equal(scan(['Accept', '*/*'], 'http/1.1', 'x-user').hashKey, undefined);
  });
});

describe('the response head sent to the client', () => {
  test('hop-by-hop and Connection-named headers go; repeated fields become arrays', () => {
    const raw = ['Connection', 'X-Hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Type', 'text/plain', 'X-Request-Id', 'upstream', 'Proxy-Authenticate', 'Basic'].map((s) => Buffer.from(s));
    assert.deepEqual(responseHeaders(raw), { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
  });

  test('latin1 bytes survive', () => {
    const raw = [Buffer.from('X-Name'), Buffer.from([0x63, 0x61, 0x66, 0xe9])];
    assert.equal(responseHeaders(raw)['x-name'], 'caf\u00e9');
  });

  test('hop-by-hop names and Connection tokens', () => {
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']) assert.equal(isHopByHop(name), true, name);
    for (const name of ['authorization', 'content-length', 'host', 'cookie']) assert.equal(isHopByHop(name), false, name);
    assert.deepEqual(connectionTokens('close, X-A ,x-b, keep-alive, Upgrade', null), ['x-a', 'x-b']);
    assert.equal(connectionTokens('keep-alive', null), null);
  });
});
