// The pure parts of the metrics and the status snapshot: stack signatures, duration buckets and
// percentiles, the error inbox's bounds, worker slots and restart reasons, loopback detection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stackSignature, stackFrames, errorTitle } from '../../dist/observe/error-signature.js';
import { bucketQuantile, TrafficRing } from '../../dist/observe/traffic-ring.js';
import { DURATION_BOUNDS_MS, DURATION_BUCKETS, routeLabels } from '../../dist/observe/metric-names.js';
import { ErrorInbox, MAX_GROUPS } from '../../dist/observe/error-inbox.js';
import { Telemetry, restartReason } from '../../dist/observe/telemetry.js';
import { RequestCounters, durationBucket, methodIndex, statusClassIndex } from '../../dist/worker/request-counters.js';
import { isLoopback } from '../../dist/supervisor/bind-check.js';
import { subjectAltNames } from '../../dist/tls/certificate-files.js';

describe('stack signatures', () => {
  const at = (col, msg) => `Error: ${msg}\n    at boom (file:///app/server.js:6:${col})\n    at handle (file:///app/server.js:22:14)`;
  test('ignore the message and column numbers', () => {
    assert.equal(stackSignature(at(9, 'one')), stackSignature(at(13, 'two')));
    assert.match(stackSignature(at(9, 'one')), /^[0-9a-f]{12}$/);
  });
  test('differ by line and by call path', () => {
    assert.notEqual(stackSignature(at(9, 'x')), stackSignature(at(9, 'x').replace(':6:', ':7:')));
    assert.notEqual(stackSignature(at(9, 'x')), stackSignature(at(9, 'x').replace('at handle', 'at other')));
  });
  test('drop a dev reload cache-buster from file URLs', () => {
    assert.deepEqual(stackFrames('E\n    at f (file:///a.js?t=123:4:5)'), ['at f (file:///a.js:4)']);
  });
  test('a multi-line message is not part of the frames', () => {
    assert.equal(stackSignature('Error: a\nsecond line\n    at f (/x.js:1:1)'), stackSignature('Error: b\n    at f (/x.js:1:2)'));
  });
  test('titles', () => {
    assert.equal(errorTitle(new TypeError('x is undefined')), 'TypeError: x is undefined');
    assert.equal(errorTitle('plain'), 'thrown: plain');
    assert.equal(errorTitle({ a: 1 }), 'thrown: {"a":1}');
  });
});

describe('request counters', () => {
  test('label indexes', () => {
    assert.equal(methodIndex('GET'), 0);
    assert.equal(methodIndex('PROPFIND'), 7);
    assert.equal(methodIndex('constructor'), 7);
    assert.deepEqual([101, 200, 304, 404, 503, 0, 999].map(statusClassIndex), [0, 1, 2, 3, 4, 3, 4]);
  });
  test('duration buckets: upper bounds are inclusive, past the last is +Inf', () => {
    assert.equal(durationBucket(0), 0);
    assert.equal(durationBucket(0.25), 0);
    assert.equal(durationBucket(0.26), 1);
    assert.equal(durationBucket(1000), DURATION_BOUNDS_MS.indexOf(1000));
    assert.equal(durationBucket(1e9), DURATION_BUCKETS - 1);
  });
  test('take() returns the deltas and starts over', () => {
    const counters = new RequestCounters(routeLabels([{ path: '/static' }]));
    counters.record('GET', 2, 200, 3, 0, 100, 0, false);
    counters.record('GET', 2, 200, 3, 0, 100, 0, false);
    counters.record('POST', 1, 503, 12, 50, 10, 2, true);
    // A revalidated answer (CACHE_REVALIDATED = 4) has its own count.
    counters.record('GET', 2, 200, 3, 0, 0, 4, false);
    const first = counters.take();
    // (method × 3 routes + route) × 5 + class
    assert.deepEqual(first.requests, [(0 * 3 + 2) * 5 + 1, 3, (2 * 3 + 1) * 5 + 4, 1]);
    assert.equal(first.requestBytes, 50);
    assert.equal(first.responseBytes, 210);
    assert.deepEqual(first.cache, [0, 1, 0, 1]);
    assert.deepEqual(first.limited, [1, 1]);
    const second = counters.take();
    assert.deepEqual(second.requests, []);
    assert.deepEqual(second.durations, []);
    assert.equal(second.durationSumSeconds, 0);
  });
});

describe('percentiles from buckets', () => {
  test('interpolate inside the bucket', () => {
    const counts = new Float64Array(DURATION_BUCKETS);
    counts[DURATION_BOUNDS_MS.indexOf(10)] = 100; // all between 7.5 and 10 ms
    assert.equal(bucketQuantile(counts, 100, 0.5), 8.75);
    assert.equal(bucketQuantile(counts, 100, 1), 10);
    assert.equal(bucketQuantile(counts, 0, 0.5), 0);
  });
  test('the traffic ring keeps ten minutes, oldest first', () => {
    const ring = new TrafficRing();
    for (let i = 0; i < 605; i++) {
      ring.add(i % 3, i % 3 === 2 ? 1 : 0, [durationBucket(5), i % 3]);
      ring.tick(i * 1000);
    }
    const samples = ring.list();
    assert.equal(samples.length, 600);
    assert.equal(samples[0].t, 5000);
    const last = samples.at(-1);
    assert.equal(last.rps, 604 % 3);
    assert.equal(samples.find((s) => s.rps === 2).errorRate, 0.5);
  });
});

describe('error inbox', () => {
  const report = (signature, n, ids, at = 1) => ({ signature, title: `E ${signature}`, stack: 's', count: n, firstSeen: at, lastSeen: at, requestIds: ids });
  test('groups by signature, keeps the last 20 request ids', () => {
    const inbox = new ErrorInbox();
    inbox.add(report('a', 1, ['r1']));
    inbox.add(report('a', 25, Array.from({ length: 20 }, (_, i) => `x${i}`), 2));
    const [group] = inbox.list();
    assert.equal(group.count, 26);
    assert.equal(group.requestIds.length, 20);
    assert.equal(group.requestIds.at(-1), 'x19');
    assert.equal(group.firstSeen, 1);
    assert.equal(group.lastSeen, 2);
  });
  test('drops the group seen least recently past the cap', () => {
    const inbox = new ErrorInbox();
    for (let i = 0; i <= MAX_GROUPS; i++) inbox.add(report(`g${i}`, 1, []));
    inbox.add(report('g1', 1, []));
    inbox.add(report('extra', 1, []));
    const signatures = inbox.list().map((g) => g.signature);
    assert.equal(signatures.length, MAX_GROUPS);
    assert.equal(signatures[0], 'extra');
    assert.ok(signatures.includes('g1'));
    assert.ok(!signatures.includes('g0') && !signatures.includes('g2'));
    assert.equal(inbox.total, MAX_GROUPS + 3);
  });
});

describe('workers, slots and restarts', () => {
  let nextId = 1;
  const record = (generation = 0) => ({ worker: { id: nextId++ }, pid: 1000 + nextId, generation, startedAt: nextId, state: 'ready', requests: 0, rss: 0, retireReason: null, bootFailure: null });
  const telemetry = () => new Telemetry({ version: 'test', phase: () => 'running', tls: () => null, cacheEnabled: false });
  test('restart reasons', () => {
    assert.equal(restartReason({ retireReason: null }, false), 'crash');
    assert.equal(restartReason({ retireReason: 'max-requests' }, false), 'max-requests');
    assert.equal(restartReason({ retireReason: 'scale-down' }, false), null);
    assert.equal(restartReason({ retireReason: 'reload-failed' }, false), null);
    assert.equal(restartReason({ retireReason: null }, true), null);
  });
  test('a replacement inherits its slot; a reload replaces every slot once', () => {
    const t = telemetry();
    const a = record();
    const b = record();
    t.workerStarted(a);
    t.workerStarted(b);
    a.state = 'dead';
    t.workerExited(a, false);
    const a2 = record();
    t.workerStarted(a2);
    assert.deepEqual(t.workers().map((w) => w.restarts), [0, 1]);
    const [n1, n2] = [record(1), record(1)];
    t.workerStarted(n1);
    t.workerStarted(n2);
    for (const old of [b, a2]) {
      old.retireReason = 'reload';
      old.state = 'dead';
      t.workerExited(old, false);
    }
    assert.equal(t.restarts.crash, 1);
    assert.equal(t.restarts.reload, 2);
    assert.deepEqual(t.workers().map((w) => w.restarts).sort(), [1, 2]);
    assert.equal(t.workerStarts, 5);
    assert.equal(t.workerExits, 3);
  });
  test('an abandoned reload gives the slot back', () => {
    const t = telemetry();
    const a = record(0);
    t.workerStarted(a);
    const n = record(1);
    t.workerStarted(n);
    n.retireReason = 'reload-failed';
    n.state = 'dead';
    t.workerExited(n, false);
    assert.deepEqual(t.workers().map((w) => [w.id, w.restarts]), [[a.worker.id, 0]]);
  });
  test('a report folds into totals that outlive the worker', () => {
    const t = telemetry();
    const a = record();
    t.workerStarted(a);
    const routes = ['none', 'app'];
    t.fold(a, { routes, requests: [(0 * 2 + 1) * 5 + 1, 3, (0 * 2 + 1) * 5 + 4, 1], durations: [5, 4], durationSumSeconds: 0.01, requestBytes: 0, responseBytes: 40, inflight: 2, rss: 5, eventLoopDelay: 0, cache: [0, 0, 0, 0], limited: [], upstreams: [], errors: [] });
    assert.equal(t.inflight(), 2);
    a.state = 'dead';
    t.workerExited(a, false);
    assert.equal(t.inflight(), 0);
    assert.equal(t.requestCount, 4);
    assert.equal(t.serverErrors, 1);
    assert.deepEqual([...t.requests.values()].map((c) => [c.method, c.route, c.statusClass, c.value]), [['GET', 'app', '2xx', 3], ['GET', 'app', '5xx', 1]]);
  });
});

test('loopback addresses (the admin listener needs no token there)', () => {
  const tcp = (host) => ({ kind: 'tcp', host, port: 9000, text: `${host}:9000` });
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost']) assert.ok(isLoopback(tcp(host)), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com']) assert.ok(!isLoopback(tcp(host)), host);
  assert.ok(isLoopback({ kind: 'unix', path: '/tmp/admin.sock', text: 'unix:/tmp/admin.sock' }));
});

test('subjectAltName parsing', () => {
  assert.deepEqual(subjectAltNames('DNS:a.example, DNS:*.b.example, IP Address:127.0.0.1, email:x@y'), ['a.example', '*.b.example', '127.0.0.1']);
  assert.deepEqual(subjectAltNames(undefined), []);
});
