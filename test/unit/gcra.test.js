// GCRA (the leaky bucket of Nginx's limit_req … nodelay) and the primary's counters, on a clock the
// test moves by hand.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gcraNext, gcraWait, intervalMs, retryAfterSeconds, toleranceMs } from '../../dist/front/ratelimit/gcra.js';
import { PrimaryCounters } from '../../dist/front/ratelimit/primary-counters.js';

/** A client of one bucket: take() at the current time, like the primary does. */
function bucket(rate, burst) {
  const interval = intervalMs(rate);
  const tolerance = toleranceMs(rate, burst);
  let tat = 0;
  return {
    take(now) {
      const wait = gcraWait(tat, now, tolerance);
      if (wait === 0) tat = gcraNext(tat, now, interval);
      return wait;
    },
  };
}

describe('GCRA', () => {
  test('burst+1 requests pass at once, then the next waits one interval', () => {
    const b = bucket(10, 20); // 10r/s burst=20
    const now = 1_000_000;
    for (let i = 0; i < 21; i++) assert.equal(b.take(now), 0, `request ${i + 1} of 21`);
    assert.equal(b.take(now), 100);
    assert.equal(b.take(now + 40), 60, 'a refused request is not counted: the wait only shrinks with time');
    assert.equal(b.take(now + 100), 0);
    assert.equal(b.take(now + 100), 100);
  });

  test('burst=0 lets one request per interval through', () => {
    const b = bucket(2, 0); // 2r/s: 500 ms apart
    assert.equal(b.take(0), 0);
    assert.equal(b.take(499), 1);
    assert.equal(b.take(500), 0);
    assert.equal(b.take(900), 100);
  });

  test('a steady client at the rate is never refused, and idle time refills the bucket only up to burst', () => {
    const b = bucket(5, 2); // 200 ms apart, burst 2
    for (let t = 0; t < 10_000; t += 200) assert.equal(b.take(t), 0, `at ${t} ms`);
    // After a long pause: burst+1 at once again, not more.
    const later = 60_000;
    for (let i = 0; i < 3; i++) assert.equal(b.take(later), 0);
    assert.ok(b.take(later) > 0);
  });

  test('per-minute rates', () => {
    assert.equal(intervalMs(1 / 60), 60_000);
    const b = bucket(1 / 60, 3);
    for (let i = 0; i < 4; i++) assert.equal(b.take(0), 0);
    assert.equal(b.take(0), 60_000);
  });

  test('Retry-After is whole seconds rounded up, at least 1', () => {
    assert.equal(retryAfterSeconds(1), 1);
    assert.equal(retryAfterSeconds(999), 1);
    assert.equal(retryAfterSeconds(1000), 1);
    assert.equal(retryAfterSeconds(1001), 2);
    assert.equal(retryAfterSeconds(60_000), 60);
    assert.equal(retryAfterSeconds(0.2), 1);
  });
});

describe("the primary's counters", () => {
  test('one bucket per rule and client', () => {
    let now = 0;
    const c = new PrimaryCounters(() => now);
    const [interval, tolerance] = [1000, 1000]; // 1r/s burst=1
    assert.equal(c.take('global', 'a', interval, tolerance), 0);
    assert.equal(c.take('global', 'a', interval, tolerance), 0);
    assert.equal(c.take('global', 'a', interval, tolerance), 1000);
    assert.equal(c.take('global', 'b', interval, tolerance), 0, 'another client');
    assert.equal(c.take('prefix /api', 'a', interval, tolerance), 0, 'another rule');
    now = 1000;
    assert.equal(c.take('global', 'a', interval, tolerance), 0);
  });

  test('the sweep drops buckets that have refilled, and only those', () => {
    let now = 0;
    const c = new PrimaryCounters(() => now);
    c.take('r', 'a', 1000, 0);
    c.take('r', 'b', 60_000, 0);
    assert.equal(c.bucketCount(), 2);
    now = 1000;
    c.sweep(() => true);
    assert.equal(c.bucketCount(), 1, 'a has refilled, b has not');
    assert.equal(c.take('r', 'b', 60_000, 0), 59_000, "b's state survived the sweep");
    now = 60_000;
    c.sweep(() => true);
    assert.equal(c.bucketCount(), 0);
  });

  test('connections: at most the limit per client across workers; closes and dead workers free places', () => {
    const c = new PrimaryCounters(() => 0);
    assert.equal(c.open('a', 101, 2), 1);
    assert.equal(c.open('a', 102, 2), 1);
    assert.equal(c.open('a', 101, 2), 0, 'third connection of a, whichever worker has it');
    assert.equal(c.open('b', 101, 2), 1, 'other clients are counted apart');
    c.close('a', 101);
    assert.equal(c.openConnections('a'), 1);
    assert.equal(c.open('a', 101, 2), 1);
    c.close('a', 999); // a worker that never counted a: nothing to undo
    assert.equal(c.openConnections('a'), 2);
    // Worker 102 died with its connection open: the sweep gives its place back.
    c.sweep((pid) => pid !== 102);
    assert.equal(c.openConnections('a'), 1);
    assert.equal(c.openConnections('b'), 1);
  });
});
