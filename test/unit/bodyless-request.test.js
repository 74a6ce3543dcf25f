// The fast path for requests without a body leans on Node's internals (src/front/bodyless-request.ts).
// test/e2e/bodyless-request.test.js holds the events apps see to Node's; this one fails if a Node
// release quietly turns the fast path off (for instance by renaming the end-of-response step that
// keel recognises), which no black-box test could see: every answer would stay right, only slower.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { KeelH2Request, KeelIncomingMessage, lifecycleSkipped, skipBodyLifecycle, skipH2BodyLifecycle } from '../../dist/front/bodyless-request.js';

async function serveAndCollect(requests) {
  const seen = [];
  const server = createServer({ IncomingMessage: KeelIncomingMessage }, (req, res) => {
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) skipBodyLifecycle(req);
    seen.push(req);
    if (req.method === 'POST') req.resume();
    res.end('ok\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dispatcher = new Agent({ connections: 1 });
  try {
    for (const { method, body } of requests) {
      const res = await request(`http://127.0.0.1:${server.address().port}/`, { method, body, dispatcher });
      assert.equal(await res.body.text(), 'ok\n');
    }
    // Past the end-of-response step and any lifecycle it would have started.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return seen;
  } finally {
    await dispatcher.close();
    server.close();
  }
}

describe('the bodyless fast path on this Node', () => {
  test('keel-served GETs skip the end-of-body lifecycle and are released by their parser', async () => {
    const seen = await serveAndCollect([{ method: 'GET' }, { method: 'GET' }, { method: 'GET' }]);
    assert.equal(seen.length, 3);
    for (const req of seen) {
      assert.equal(lifecycleSkipped(req), true, "Node's end-of-response step did not bring the lifecycle back");
      assert.equal(req.readableEnded, false, "no 'end' was emitted: the lifecycle stayed skipped");
      assert.equal(req.destroyed, false);
      assert.equal(req.complete, true);
    }
    // Same keep-alive connection: the parser holds at most the request it is on, never an answered one.
    assert.notEqual(seen[0].socket.parser?.incoming, seen[0]);
  });

  test('a request with a body keeps Node\'s lifecycle', async () => {
    const [post] = await serveAndCollect([{ method: 'POST', body: 'hello' }]);
    assert.equal(post.readableEnded, true);
    assert.equal(post.destroyed, true);
  });

  test('the lifecycle comes back for a request the app listens on', async () => {
    const [req] = await serveAndCollect([{ method: 'GET' }]);
    // After the response: Node dumps the body now, so 'end' and 'close' still come.
    const events = [];
    req.on('end', () => events.push('end'));
    req.on('close', () => events.push('close'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(events, ['end', 'close']);
  });

  test('HTTP/2 GETs skip it too, and keep it skipped through the stream\'s close', async () => {
    const seen = [];
    const server = createH2Server({ Http2ServerRequest: KeelH2Request }, (req, res) => {
      if (req.stream.endAfterHeaders) skipH2BodyLifecycle(req);
      seen.push(req);
      res.end('ok\n');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = h2connect(`http://127.0.0.1:${server.address().port}`);
    try {
      for (let i = 0; i < 2; i++) {
        const stream = session.request({ ':path': '/' });
        stream.resume();
        await once(stream, 'close');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      session.close();
      server.close();
    }
    assert.equal(seen.length, 2);
    for (const req of seen) {
      assert.equal(lifecycleSkipped(req), true, 'the compatibility state was found and the fast path taken');
      assert.equal(req.readableEnded, false, "no 'end' was emitted");
    }
  });
});
