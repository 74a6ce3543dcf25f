// The proxy route handler in process (the managed-apps code calls it this way): setUpstreams moves
// traffic to the new list at once, keeps the pools of upstreams that stay, answers 503 while the
// list is empty; close is idempotent. Real node:http servers on loopback; no keel process.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { createProxyRoute } from '../../dist/front/proxy/proxy-route.js';
import { KeelResponse } from '../../dist/front/response-headers.js';
import { startUpstream } from '../helpers/upstreams.js';

const config = { interceptErrors: false, balance: 'round-robin', proxyConnectTimeout: 2, proxyHeaderTimeout: 5, proxyIdleTimeout: 5, proxyMaxFails: 3, proxyFailTimeout: 10 };
const route = { kind: 'proxy', path: '/', text: '--run x', upstreams: [], balance: null, health: null, interceptErrors: null, run: { command: 'x {port}', instances: 2 }, rateLimit: null, cache: true };

describe('setUpstreams', () => {
  let front;
  let proxy;
  const ups = [];
  before(async () => {
    for (const name of ['a', 'b', 'c']) ups.push(await startUpstream(name, (req, res, up) => res.end(up.name)));
    proxy = createProxyRoute(route, config, pino({ level: 'silent' }));
    let n = 0;
    front = createServer({ ServerResponse: KeelResponse }, (req, res) => {
      req.keel = { id: `t-${n++}`, clientAddress: '127.0.0.1', scheme: 'http', event: '' };
      proxy.handle(req, res);
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
  });
  after(async () => {
    await proxy.close();
    front.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  const names = async (n) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const res = await request(`http://127.0.0.1:${front.address().port}/x`);
      out.push(res.statusCode === 200 ? await res.body.text() : (await res.body.dump(), res.statusCode));
    }
    return out;
  };

  test('503 while there are no upstreams', async () => {
    assert.deepEqual(await names(2), [503, 503]);
  });

  test('new lists take effect at once; upstreams that stay keep their connections', async () => {
    proxy.setUpstreams([ups[0].url, ups[1].url]);
    assert.deepEqual(new Set(await names(4)), new Set(['a', 'b']));
    const socketsOfA = new Set(ups[0].sockets);
    proxy.setUpstreams([ups[0].url, ups[2].url]);
    assert.deepEqual(new Set(await names(4)), new Set(['a', 'c']));
    for (const s of ups[0].sockets) assert.ok(socketsOfA.has(s), 'a kept its pooled connection');
    proxy.setUpstreams([]);
    assert.deepEqual(await names(1), [503]);
  });

  test('close is idempotent and stops proxying', async () => {
    proxy.setUpstreams([ups[0].url]);
    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    proxy.setUpstreams([ups[1].url]);
    assert.deepEqual(await names(1), [503]);
  });
});
