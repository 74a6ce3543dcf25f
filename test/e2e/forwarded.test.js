// Client address, scheme and request ID: believed from X-Forwarded-For / X-Forwarded-Proto /
// Forwarded and X-Request-Id only when the peer is in --forwarded-allow-ips (right-most untrusted
// address wins); the app sees the resolved values in req.keel and in rewritten headers; the PROXY
// protocol (v1 and v2) with --proxy-protocol.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startKeel } from '../helpers/keel.js';
import { waitFor } from '../helpers/wait.js';
import { rawExchange, parseResponses } from '../helpers/raw-client.js';

const ECHO = 'test/fixtures/front-echo.js';
/** What keel generates (today a per-process random prefix and a counter, src/front/request-id.ts): any valid ID. */
const GENERATED_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** GET through undici; returns what the echo app saw plus the response's request ID. */
async function seen(keel, path, headers = {}) {
  const res = await request(`${keel.url}${path}`, { headers });
  assert.equal(res.statusCode, 200);
  const body = await res.body.json();
  return { ...body, responseId: res.headers['x-request-id'] };
}

/** The access line for a request ID (combined format: the client address is the first field). */
function accessLineFor(keel, id) {
  return waitFor(() => keel.accessLines().find((l) => l.includes(id)), { timeout: 5000, what: `the access line for ${id}` });
}

describe('forwarded headers from a trusted peer (loopback, the default)', () => {
  let keel;
  before(async () => {
    keel = await startKeel(ECHO, [], { workers: 2 });
  });
  after(() => keel?.stop());

  it('takes the client address from X-Forwarded-For, for the app and the access log', async () => {
    const s = await seen(keel, '/xff', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(s.keel.clientAddress, '203.0.113.9');
    assert.equal(s.headers['x-forwarded-for'], '203.0.113.9');
    assert.ok((await accessLineFor(keel, s.responseId)).startsWith('203.0.113.9 - - ['));
  });

  it('takes the right-most untrusted address of a chain', async () => {
    const chain = await seen(keel, '/chain', { 'x-forwarded-for': '1.1.1.1, 203.0.113.9' });
    assert.equal(chain.keel.clientAddress, '203.0.113.9');
    assert.equal(chain.headers['x-forwarded-for'], '203.0.113.9', 'the app sees the resolved address only');
    // Trusted hops on the right are skipped.
    const viaLocalProxy = await seen(keel, '/chain2', { 'x-forwarded-for': '1.1.1.1, 203.0.113.9, 127.0.0.1' });
    assert.equal(viaLocalProxy.keel.clientAddress, '203.0.113.9');
    // Without the header, the peer itself.
    const direct = await seen(keel, '/direct');
    assert.equal(direct.keel.clientAddress, '127.0.0.1');
    assert.equal(direct.keel.scheme, 'http');
  });

  it('takes the scheme from X-Forwarded-Proto', async () => {
    const s = await seen(keel, '/proto', { 'x-forwarded-proto': 'https' });
    assert.equal(s.keel.scheme, 'https');
    assert.equal(s.headers['x-forwarded-proto'], 'https');
    const bogus = await seen(keel, '/proto2', { 'x-forwarded-proto': 'gopher' });
    assert.equal(bogus.keel.scheme, 'http', 'only http or https are believed');
  });

  it('reads the Forwarded header (RFC 7239), IPv6 included', async () => {
    const s = await seen(keel, '/forwarded', { forwarded: 'for=198.51.100.7;proto=https' });
    assert.equal(s.keel.clientAddress, '198.51.100.7');
    assert.equal(s.keel.scheme, 'https');
    assert.ok((await accessLineFor(keel, s.responseId)).startsWith('198.51.100.7 '));
    const v6 = await seen(keel, '/forwarded6', { forwarded: 'for="[2001:db8::17]:4711";proto=http' });
    assert.equal(v6.keel.clientAddress, '2001:db8::17');
    assert.equal(v6.keel.scheme, 'http');
  });

  it('keeps a trusted peer\'s valid X-Request-Id, and replaces an invalid one', async () => {
    const s = await seen(keel, '/rid', { 'x-request-id': 'lb-req.0042:abc' });
    assert.equal(s.responseId, 'lb-req.0042:abc');
    assert.equal(s.keel.id, 'lb-req.0042:abc');
    assert.ok((await accessLineFor(keel, 'lb-req.0042:abc')).includes('"GET /rid HTTP/1.1"'));
    const bad = await seen(keel, '/rid-bad', { 'x-request-id': 'has spaces "and quotes"' });
    assert.match(bad.responseId, GENERATED_ID, 'an ID with characters that do not belong is replaced');
    assert.notEqual(bad.responseId, 'has spaces "and quotes"');
  });
});

describe('forwarded headers from an untrusted peer (--forwarded-allow-ips 10.0.0.1)', () => {
  let keel;
  before(async () => {
    keel = await startKeel(ECHO, ['--forwarded-allow-ips', '10.0.0.1'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('ignores X-Forwarded-For / -Proto / Forwarded and hides them from the app', async () => {
    const s = await seen(keel, '/spoof', {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      forwarded: 'for=198.51.100.7;proto=https',
    });
    assert.equal(s.keel.clientAddress, '127.0.0.1');
    assert.equal(s.keel.scheme, 'http');
    assert.equal(s.headers['x-forwarded-for'], undefined, 'the app does not see the spoofed X-Forwarded-For');
    assert.equal(s.headers['x-forwarded-proto'], undefined);
    assert.equal(s.headers.forwarded, undefined);
    const line = await accessLineFor(keel, s.responseId);
    assert.ok(line.startsWith('127.0.0.1 - - ['), line);
    assert.ok(!line.includes('203.0.113.9'));
  });

  it('ignores a client-supplied X-Request-Id', async () => {
    const s = await seen(keel, '/rid', { 'x-request-id': 'client-chosen-id-1' });
    assert.notEqual(s.responseId, 'client-chosen-id-1');
    assert.match(s.responseId, GENERATED_ID);
    assert.equal(s.keel.id, s.responseId);
  });
});

/** A PROXY protocol v2 header (HAProxy spec, section 2.2) for TCP over IPv4. */
function proxyV2(source, destination, sourcePort, destinationPort) {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const header = Buffer.alloc(16 + 12);
  signature.copy(header, 0);
  header[12] = 0x21; // version 2, command PROXY
  header[13] = 0x11; // AF_INET, STREAM
  header.writeUInt16BE(12, 14);
  Buffer.from(source.split('.').map(Number)).copy(header, 16);
  Buffer.from(destination.split('.').map(Number)).copy(header, 20);
  header.writeUInt16BE(sourcePort, 24);
  header.writeUInt16BE(destinationPort, 26);
  return header;
}

describe('PROXY protocol (--proxy-protocol)', () => {
  let keel;
  before(async () => {
    keel = await startKeel(ECHO, ['--proxy-protocol'], { workers: 2 });
  });
  after(() => keel?.stop());

  const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`;

  it('v1: the address in the PROXY line is the client address', async () => {
    const result = await rawExchange(keel.port, [`PROXY TCP4 192.0.2.10 127.0.0.1 5555 ${keel.port}\r\n`, get('/pp1')], { timeout: 5000 });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 200, result.data.toString('latin1'));
    const s = JSON.parse(res.body);
    assert.equal(s.keel.clientAddress, '192.0.2.10');
    assert.ok((await accessLineFor(keel, res.headers['x-request-id'])).startsWith('192.0.2.10 '));
  });

  it('v1: the header and the request in one write, two keep-alive requests on the connection', async () => {
    const keepAlive = `GET /pp1-a HTTP/1.1\r\nHost: x\r\n\r\n`;
    const result = await rawExchange(keel.port, `PROXY TCP4 192.0.2.11 127.0.0.1 5556 ${keel.port}\r\n${keepAlive}${get('/pp1-b')}`, { timeout: 5000 });
    const responses = parseResponses(result.data);
    assert.equal(responses.length, 2);
    for (const res of responses) {
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).keel.clientAddress, '192.0.2.11');
    }
  });

  it('a request refused by the parser is logged with the PROXY source too, not the balancer', async () => {
    const smuggle = 'POST /pp-refused HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    const result = await rawExchange(keel.port, [`PROXY TCP4 192.0.2.13 127.0.0.1 5558 ${keel.port}\r\n`, smuggle], { timeout: 5000 });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 400, result.data.toString('latin1'));
    const line = await accessLineFor(keel, res.headers['x-request-id']);
    assert.ok(line.startsWith('192.0.2.13 '), line);
    assert.match(line, / 400 .* bad-request$/);
  });

  it('v2: the source address of the binary header is the client address', async () => {
    const result = await rawExchange(keel.port, [proxyV2('198.51.100.20', '127.0.0.1', 40000, keel.port), get('/pp2')], { timeout: 5000 });
    const [res] = parseResponses(result.data);
    assert.equal(res?.status, 200, result.data.toString('latin1'));
    assert.equal(JSON.parse(res.body).keel.clientAddress, '198.51.100.20');
  });

  it('the PROXY source is not a trusted proxy: its X-Forwarded-For is ignored', async () => {
    const result = await rawExchange(keel.port, [`PROXY TCP4 192.0.2.12 127.0.0.1 5557 ${keel.port}\r\n`, get('/pp-xff', 'X-Forwarded-For: 203.0.113.66\r\n')], { timeout: 5000 });
    const [res] = parseResponses(result.data);
    const s = JSON.parse(res.body);
    assert.equal(s.keel.clientAddress, '192.0.2.12');
    assert.equal(s.headers['x-forwarded-for'], undefined);
  });

  it('refuses a connection without a PROXY header: closed, no response', async () => {
    const result = await rawExchange(keel.port, get('/no-proxy-header'), { timeout: 5000 });
    assert.equal(result.timedOut, false, 'closed by keel');
    assert.equal(result.closed, true);
    assert.equal(result.data.length, 0, `no bytes back: ${result.data.toString('latin1')}`);
    const garbage = await rawExchange(keel.port, 'PROXY TCP4 not-an-ip\r\nGET / HTTP/1.1\r\n\r\n', { timeout: 5000 });
    assert.equal(garbage.closed, true);
    assert.equal(garbage.data.length, 0);
  });
});
