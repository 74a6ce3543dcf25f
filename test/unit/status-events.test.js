// The status page's event streams over real loopback sockets: one snapshot built per tick and
// shared by every stream, a cap on open streams, the timer stopped when the last client leaves,
// and close() ending every stream, also when the admin listener closes.
import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import { test } from 'node:test';
import { createEventStreams } from '../../dist/observe/status-events.js';
import { startAdminServer } from '../../dist/supervisor/admin-server.js';
import { waitFor, sleep } from '../helpers/wait.js';

/** A snapshot whose `now` counts the calls, so a frame tells which build it came from. */
function countingSnapshot() {
  const counter = { calls: 0 };
  counter.snapshot = () => {
    counter.calls++;
    return { version: 't', startedAt: 0, now: counter.calls, phase: 'running', traffic: [], totals: { requests: 0, errors: 0, inflight: 0 }, workers: [], restarts: {}, upstreams: [], certificates: [], errors: [] };
  };
  return counter;
}

async function listen(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** Opens an event stream and parses it as it arrives: { res, status, frames, retry, ended }. */
function openStream(url) {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      const stream = { req, res, status: res.statusCode, headers: res.headers, frames: [], retry: null, ended: false, body: '' };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        stream.body += chunk;
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of block.split('\n')) {
            if (line.startsWith('retry: ')) stream.retry = Number(line.slice(7));
            else if (line.startsWith('data: ')) stream.frames.push(JSON.parse(line.slice(6)));
          }
        }
      });
      res.on('end', () => (stream.ended = true));
      res.on('error', () => (stream.ended = true));
      res.on('close', () => (stream.ended = true));
      resolve(stream);
    });
    req.on('error', reject);
  });
}

test('every stream gets the same snapshot per tick, built once, after a retry: line and an immediate first frame', async (t) => {
  const counter = countingSnapshot();
  const streams = createEventStreams(counter.snapshot, { intervalMs: 40, retryMs: 1500 });
  const { server, url } = await listen((req, res) => streams.open(req, res));
  t.after(() => {
    streams.close();
    server.close();
  });
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await openStream(url));
  for (const c of clients) {
    assert.equal(c.status, 200);
    assert.match(c.headers['content-type'], /^text\/event-stream/);
    assert.equal(c.headers['cache-control'], 'no-store');
    await waitFor(() => c.frames.length >= 1, { what: 'the first frame' });
    assert.equal(c.retry, 1500);
    assert.ok(c.body.startsWith('retry: 1500\ndata: {'), 'retry: comes first, in the first event with its data');
  }
  // Frames built after the third stream opened must reach all three, unchanged.
  const opened = Math.max(...clients.map((c) => c.frames[0].now));
  const wanted = [opened + 1, opened + 2, opened + 3];
  await waitFor(() => clients.every((c) => wanted.every((n) => c.frames.some((f) => f.now === n))), { what: 'three shared ticks on every stream' });
  // One build per open plus one per tick: never one per stream per tick.
  const seen = new Set(clients.flatMap((c) => c.frames.map((f) => f.now)));
  const callsNow = counter.calls;
  assert.ok(callsNow <= seen.size + 1, `snapshot built ${callsNow} times for ${seen.size} distinct frames`);
  for (const c of clients) c.req.destroy();
});

test('streams beyond the cap are refused with 503 and Retry-After; a freed slot is usable again', async (t) => {
  const counter = countingSnapshot();
  const streams = createEventStreams(counter.snapshot, { intervalMs: 1000, maxStreams: 2 });
  const { server, url } = await listen((req, res) => streams.open(req, res));
  t.after(() => {
    streams.close();
    server.close();
  });
  const a = await openStream(url);
  const b = await openStream(url);
  const refused = await openStream(url);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['retry-after'], '5');
  await waitFor(() => refused.ended, { what: 'the refused response to end' });
  a.req.destroy();
  await waitFor(() => streams.size() === 1, { what: 'the server to notice the client left' });
  const again = await openStream(url);
  assert.equal(again.status, 200);
  b.req.destroy();
  again.req.destroy();
});

test('the timer stops when the last client leaves: no snapshot is built for nobody', async (t) => {
  const counter = countingSnapshot();
  const streams = createEventStreams(counter.snapshot, { intervalMs: 20 });
  const { server, url } = await listen((req, res) => streams.open(req, res));
  t.after(() => {
    streams.close();
    server.close();
  });
  const c = await openStream(url);
  await waitFor(() => c.frames.length >= 3, { what: 'a few ticks' });
  c.req.destroy();
  await waitFor(() => streams.size() === 0, { what: 'the stream to be forgotten' });
  const calls = counter.calls;
  // Absence can only be shown by waiting: ten intervals with no build (a live timer would build ~10).
  await sleep(200);
  assert.equal(counter.calls, calls);
});

test('a snapshot that throws skips its tick and keeps the stream', async (t) => {
  let fail = true;
  const counter = countingSnapshot();
  const snapshot = () => {
    if (fail && counter.calls >= 1) {
      counter.calls++;
      throw new Error('not now');
    }
    return counter.snapshot();
  };
  const streams = createEventStreams(snapshot, { intervalMs: 20 });
  const { server, url } = await listen((req, res) => streams.open(req, res));
  t.after(() => {
    streams.close();
    server.close();
  });
  const c = await openStream(url);
  await waitFor(() => counter.calls >= 4, { what: 'some failing ticks' });
  assert.equal(c.frames.length, 1);
  assert.equal(c.ended, false);
  fail = false;
  await waitFor(() => c.frames.length >= 2, { what: 'a frame after recovery' });
  c.req.destroy();
});

test('close() ends every open stream and refuses new ones', async (t) => {
  const counter = countingSnapshot();
  const streams = createEventStreams(counter.snapshot, { intervalMs: 1000 });
  const { server, url } = await listen((req, res) => streams.open(req, res));
  t.after(() => server.close());
  const a = await openStream(url);
  const b = await openStream(url);
  await waitFor(() => a.frames.length && b.frames.length, { what: 'first frames' });
  streams.close();
  streams.close();
  await waitFor(() => a.ended && b.ended, { what: 'both streams to end' });
  const late = await openStream(url);
  assert.equal(late.status, 503);
});

test('the admin listener finishes closing while a browser holds /events open', async (t) => {
  const counter = countingSnapshot();
  const state = { ready: () => true, describe: () => ({}), metrics: async () => ({ contentType: 'text/plain', body: '' }), snapshot: counter.snapshot };
  const server = await startAdminServer({ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, state);
  const url = `http://127.0.0.1:${server.address().port}`;
  t.after(() => server.closeAllConnections?.());
  const c = await openStream(`${url}/events`);
  await waitFor(() => c.frames.length >= 1, { what: 'a first frame from the admin listener' });
  let closed = false;
  server.close(() => (closed = true));
  await waitFor(() => closed, { timeout: 5000, what: 'admin server.close() to finish' });
  await waitFor(() => c.ended, { what: 'the stream to end' });
});
