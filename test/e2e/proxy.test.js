// The reverse proxy (--proxy): balancing, health, retries, timeouts, streaming, headers,
// hop-by-hop removal and refused smuggling, against real node:http upstreams on loopback.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startKeel } from '../helpers/keel.js';
import { startUpstream } from '../helpers/upstreams.js';

async function get(keel, path, options = {}) {
  const res = await request(`${keel.url}${path}`, options);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe('round-robin over three upstreams', () => {
  let keel;
  const ups = [];
  before(async () => {
    for (const name of ['a', 'b', 'c']) ups.push(await startUpstream(name));
    keel = await startKeel(null, ['--proxy', `/api=${ups.map((u) => u.url).join(',')}`], { workers: 1 });
  });
  after(async () => {
    await keel?.stop();
    await Promise.all(ups.map((u) => u.close()));
  });

  it('spreads requests evenly and forwards the full URL as received', async () => {
    for (let i = 0; i < 30; i++) {
      const r = await get(keel, `/api/items/${i}?q=${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.json().url, `/api/items/${i}?q=${i}`);
    }
    assert.deepEqual(ups.map((u) => u.count), [10, 10, 10]);
  });

  it('leaves paths outside the prefix alone (404 with no app)', async () => {
    const before = ups.reduce((n, u) => n + u.count, 0);
    const r = await get(keel, '/apix');
    assert.equal(r.status, 404);
    assert.equal(ups.reduce((n, u) => n + u.count, 0), before);
  });
});
