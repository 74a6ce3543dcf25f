// What keel answers when Node's parser gives up on a head that outgrew its size limit: the parser
// reports only the chunk it choked on, so the status is read from that chunk. The e2e tests in
// limits.test.js send real requests; these pin every shape of chunk, whatever the reads were.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refusalStatus } from '../../dist/front/client-errors.js';

const MAX_LINE = 256;
const overflow = (chunk) => Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from(chunk, 'latin1') });

describe('refusalStatus for a head over the parser limit', () => {
  const cases = [
    ['the whole request line in one chunk, longer than the limit', `GET /${'c'.repeat(40_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['the start of a request line with no end yet', `GET /${'c'.repeat(40_000)}`, 414],
    ['the rest of a request line that began in an earlier read', `${'c'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['the rest of a request line cut just after its last space', 'HTTP/1.1\r\nHost: x\r\n\r\n', 414],
    ['a short request line, then a huge header', `GET / HTTP/1.1\r\nX-Big: ${'h'.repeat(40_000)}\r\n\r\n`, 431],
    ['the middle of a header that arrives in pieces', 'h'.repeat(8192), 431],
    ['the end of a header, then more fields', `${'h'.repeat(8192)}\r\nX-Other: v\r\n\r\n`, 431],
  ];
  for (const [what, chunk, status] of cases) {
    test(`${what}: ${status}`, () => assert.equal(refusalStatus(overflow(chunk), MAX_LINE), status));
  }

  test('no chunk at all: 431; a header timeout: 408; anything else the parser refuses: 400', () => {
    assert.equal(refusalStatus({ code: 'HPE_HEADER_OVERFLOW' }, MAX_LINE), 431);
    assert.equal(refusalStatus({ code: 'HPE_HEADER_TIMEOUT' }, MAX_LINE), 408);
    assert.equal(refusalStatus({ code: 'HPE_INVALID_METHOD' }, MAX_LINE), 400);
  });
});
