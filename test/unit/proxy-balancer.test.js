// Balancing policies (src/front/proxy/balancer.ts): round-robin, least-conn, rendezvous hashing
// (stable, spreads, moves only the removed upstream's keys), health skipping, retry exclusion.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBalancer, hashString, rendezvousScore } from '../../dist/front/proxy/balancer.js';

function upstreams(n) {
  return Array.from({ length: n }, (_, i) => ({
    name: `u${i}`,
    seed: hashString(`http://10.0.0.${i}:80`),
    inflight: 0,
    down: false,
    usable() {
      return !this.down;
    },
  }));
}

describe('round-robin', () => {
  test('each in turn, evenly', () => {
    const list = upstreams(3);
    const b = createBalancer('round-robin');
    const counts = new Map();
    for (let i = 0; i < 300; i++) {
      const u = b.pick(list, undefined, null, 0);
      counts.set(u.name, (counts.get(u.name) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()], [100, 100, 100]);
  });

  test('skips a down upstream; when all are down, tries them anyway', () => {
    const list = upstreams(3);
    list[1].down = true;
    const b = createBalancer('round-robin');
    for (let i = 0; i < 30; i++) assert.notEqual(b.pick(list, undefined, null, 0).name, 'u1');
    for (const u of list) u.down = true;
    assert.ok(b.pick(list, undefined, null, 0));
  });

  test('never picks one already tried; null when all were', () => {
    const list = upstreams(3);
    const b = createBalancer('round-robin');
    const tried = [list[0], list[2]];
    for (let i = 0; i < 10; i++) assert.equal(b.pick(list, undefined, tried, 0).name, 'u1');
    assert.equal(b.pick(list, undefined, list, 0), null);
    assert.equal(b.pick([], undefined, null, 0), null);
  });
});

describe('least-conn', () => {
  test('the fewest in flight wins; ties rotate', () => {
    const list = upstreams(3);
    const b = createBalancer('least-conn');
    list[0].inflight = 5;
    list[1].inflight = 2;
    list[2].inflight = 7;
    assert.equal(b.pick(list, undefined, null, 0).name, 'u1');
    for (const u of list) u.inflight = 0;
    const seen = new Set();
    for (let i = 0; i < 3; i++) seen.add(b.pick(list, undefined, null, 0).name);
    assert.equal(seen.size, 3);
  });

  test('a down upstream is skipped even when idle', () => {
    const list = upstreams(2);
    list[0].down = true;
    list[1].inflight = 100;
    assert.equal(createBalancer('least-conn').pick(list, undefined, null, 0).name, 'u1');
  });
});

describe('rendezvous hashing (hash-ip, hash-header)', () => {
  const keys = Array.from({ length: 3000 }, (_, i) => `198.51.${i >> 8}.${i & 255}`);

  test('the same key always goes to the same upstream, and keys spread over all', () => {
    const list = upstreams(4);
    const b = createBalancer('hash-ip');
    const counts = new Map();
    for (const key of keys) {
      const u = b.pick(list, key, null, 0);
      assert.equal(b.pick(list, key, null, 0), u);
      counts.set(u.name, (counts.get(u.name) ?? 0) + 1);
    }
    assert.equal(counts.size, 4);
    for (const n of counts.values()) assert.ok(n > 3000 / 4 / 2 && n < (3000 / 4) * 1.5, `uneven: ${[...counts.values()]}`);
  });

  test('removing an upstream moves only its keys; a down one too', () => {
    const list = upstreams(4);
    const b = createBalancer('hash-ip');
    const before = new Map(keys.map((k) => [k, b.pick(list, k, null, 0).name]));
    const fewer = list.filter((u) => u.name !== 'u2');
    for (const key of keys) {
      const now = b.pick(fewer, key, null, 0).name;
      if (before.get(key) !== 'u2') assert.equal(now, before.get(key), key);
    }
    list[2].down = true;
    for (const key of keys) if (before.get(key) !== 'u2') assert.equal(b.pick(list, key, null, 0).name, before.get(key));
  });

  test('the same list in another order picks the same upstreams (workers agree)', () => {
    const list = upstreams(5);
    const reversed = [...list].reverse();
    const b = createBalancer('hash-header:x-user');
    for (const key of keys.slice(0, 200)) assert.equal(b.pick(list, key, null, 0), b.pick(reversed, key, null, 0));
  });

  test('hash-header reads its header name lower-case; no key means round-robin', () => {
    const b = createBalancer('hash-header:X-User');
    assert.equal(b.header, 'x-user');
    assert.equal(b.hashed, true);
    assert.equal(createBalancer('hash-ip').header, null);
    const list = upstreams(3);
    const seen = new Set();
    for (let i = 0; i < 3; i++) seen.add(b.pick(list, undefined, null, 0).name);
    assert.equal(seen.size, 3);
  });

  test('scores are 32-bit unsigned and depend on both key and upstream', () => {
    const s = rendezvousScore(hashString('a'), 1);
    assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
    assert.notEqual(s, rendezvousScore(hashString('a'), 2));
    assert.notEqual(s, rendezvousScore(hashString('b'), 1));
  });
});
