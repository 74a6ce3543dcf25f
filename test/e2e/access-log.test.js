// The access log: combined and json lines with every field, escaping that stops a client from
// forging lines or fields, file / off destinations, aborted requests, Gunicorn-style formats, a bad
// format refused at start, and lines flushed when keel exits.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { runKeel, startKeel, tempDir } from '../helpers/keel.js';
import { freePort } from '../helpers/ports.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { rawExchange, parseResponses } from '../helpers/raw-client.js';

const ECHO = 'test/fixtures/front-echo.js';

/** A User-Agent that tries to close the quoted field, fake an escape and smuggle a tab and non-ASCII bytes. */
const FORGING_UA = Buffer.concat([Buffer.from('evil" 200 "x \\x22 back\\slash \\n\tTAB '), Buffer.from([0xff, 0xc3, 0xa9]), Buffer.from(' "-" "fake-agent" 0.001 fake-id')]);

const QUOTED = String.raw`"((?:[^"\\]|\\x[0-9A-F]{2})*)"`;
/** combined = ADDR - - [time] "METHOD URL HTTP/x" STATUS BYTES "REFERER" "UA" SECONDS REQUEST_ID[ EVENT] */
const COMBINED = new RegExp(
  String.raw`^(\S+) - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] ${QUOTED} (\d{1,3}) (\d+|-) ${QUOTED} ${QUOTED} (\d+\.\d{3}) ([A-Za-z0-9._:-]+)(?: ([a-z-]+))?$`,
);

function parseCombined(line) {
  const m = COMBINED.exec(line);
  if (!m) return null;
  const [, address, time, requestLine, status, bytes, referrer, userAgent, seconds, requestId, event] = m;
  return { address, time, requestLine, status: Number(status), bytes, referrer, userAgent, seconds: Number(seconds), requestId, event };
}

/** Undoes the log's \xHH escaping (back to the latin1 text Node decoded the header as). */
const unescape = (text) => text.replace(/\\x([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

/** Sends one request over a raw socket (so any header bytes can be sent) and returns { status, id, body }. */
async function rawGet(port, path, headers) {
  const head = Buffer.concat([
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`, 'latin1'),
    ...Object.entries(headers).flatMap(([name, value]) => [Buffer.from(`${name}: `, 'latin1'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n')]),
    Buffer.from('\r\n'),
  ]);
  const result = await rawExchange(port, head, { timeout: 5000 });
  const [res] = parseResponses(result.data);
  assert.ok(res, `an answer to ${path}: ${result.data.toString('latin1')}`);
  return { status: res.status, id: res.headers['x-request-id'], body: res.body };
}

describe('access log: combined (stdout)', () => {
  let keel;
  let hitsFile;
  before(async () => {
    hitsFile = join(tempDir('keel-front-access-'), 'hits.jsonl');
    keel = await startKeel(ECHO, [], { env: { FRONT_HITS_FILE: hitsFile }, workers: 2 });
  });
  after(() => keel?.stop());

  it('writes one combined line with address, time, request line, status, bytes, referrer, UA, duration and request ID', async () => {
    const res = await request(`${keel.url}/combined/path?x=1&y=two`, { headers: { 'user-agent': 'front-test-agent/1.0', referer: 'http://ref.example/page' } });
    const body = await res.body.text();
    const id = res.headers['x-request-id'];
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes(id)), { timeout: 5000, what: 'the access line' });
    const f = parseCombined(line);
    assert.ok(f, `combined line shape: ${line}`);
    assert.equal(f.address, '127.0.0.1');
    assert.equal(f.requestLine, 'GET /combined/path?x=1&y=two HTTP/1.1');
    assert.equal(f.status, 200);
    assert.equal(Number(f.bytes), Buffer.byteLength(body));
    assert.equal(f.referrer, 'http://ref.example/page');
    assert.equal(f.userAgent, 'front-test-agent/1.0');
    assert.ok(f.seconds >= 0 && f.seconds < 60);
    assert.equal(f.requestId, id);
    assert.equal(f.event, undefined);
    const logged = new Date(f.time.replace(/^(\d{2})\/(\w{3})\/(\d{4}):/, '$2 $1 $3 ').replace(' +0000', ' GMT'));
    assert.ok(Math.abs(logged.getTime() - Date.now()) < 5 * 60_000, `time field is now: ${f.time}`);
    // Missing referrer and UA are dashes.
    const bare = await rawGet(keel.port, '/bare', {});
    const bareLine = await waitFor(() => keel.accessLines().find((l) => l.includes(bare.id)), { timeout: 5000, what: 'the bare line' });
    const bf = parseCombined(bareLine);
    assert.equal(bf.referrer, '-');
    assert.equal(bf.userAgent, '-');
  });

  it('escapes a User-Agent with quotes, backslashes, tabs and non-ASCII bytes so it cannot forge a field or a line', async () => {
    const before = keel.accessLines().length;
    const res = await rawGet(keel.port, '/forge?q="quoted"', { 'User-Agent': FORGING_UA, Referer: 'a"b\\c' });
    assert.equal(res.status, 200);
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes(res.id)), { timeout: 5000, what: 'the access line' });
    await sleep(100);
    const mine = keel.accessLines().slice(before).filter((l) => l.includes('forge') || l.includes('fake'));
    assert.equal(mine.length, 1, `one line for the request: ${JSON.stringify(mine)}`);
    const f = parseCombined(line);
    assert.ok(f, `still a well-formed combined line: ${line}`);
    assert.equal(f.requestId, res.id, 'the real request ID is the last field, not the forged one');
    assert.equal(f.status, 200);
    assert.equal(unescape(f.userAgent), FORGING_UA.toString('latin1'), 'the UA round-trips through the escaping');
    assert.equal(unescape(f.referrer), 'a"b\\c');
    assert.ok(f.userAgent.includes('\\x22') && f.userAgent.includes('\\x5C') && f.userAgent.includes('\\x09') && f.userAgent.includes('\\xFF'));
    assert.ok(!line.includes('\t'), 'no raw control byte in the line');
  });

  it('writes a line with event aborted for a client that goes away mid-request', async () => {
    const socket = connect({ host: '127.0.0.1', port: keel.port });
    socket.on('error', () => {});
    socket.write('GET /slow?ms=5000&abort=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: aborting-client\r\n\r\n');
    await waitFor(() => existsSync(hitsFile) && readFileSync(hitsFile, 'utf8').includes('/slow?ms=5000&abort=1'), { timeout: 5000, what: 'the app to start the request' });
    socket.destroy();
    const line = await waitFor(() => keel.accessLines().find((l) => l.includes('/slow?ms=5000&abort=1')), { timeout: 5000, what: 'the aborted line' });
    const f = parseCombined(line);
    assert.ok(f, line);
    assert.equal(f.event, 'aborted');
    assert.equal(f.userAgent, 'aborting-client');
  });
});

describe('access log: json to a file', () => {
  let keel;
  let logFile;
  before(async () => {
    logFile = join(tempDir('keel-front-access-'), 'access.jsonl');
    keel = await startKeel(ECHO, ['--access-logformat', 'json', '--access-logfile', logFile], { workers: 1 });
  });
  after(() => keel?.stop());

  const fileLines = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : []);

  it('--access-logfile FILE gets the lines, stdout none; each json line parses and has every key', async () => {
    const res = await request(`${keel.url}/json/path?a=1`, { headers: { 'user-agent': 'json-agent', referer: 'http://ref.example/' } });
    const body = await res.body.text();
    const id = res.headers['x-request-id'];
    const line = await waitFor(() => fileLines().find((l) => l.includes(id)), { timeout: 5000, what: 'the line in the access log file' });
    const entry = JSON.parse(line);
    for (const key of ['time', 'remote_addr', 'method', 'path', 'protocol', 'status', 'bytes', 'duration_ms', 'request_id', 'user_agent', 'referrer']) {
      assert.ok(key in entry, `json key ${key}`);
    }
    assert.equal(entry.remote_addr, '127.0.0.1');
    assert.equal(entry.method, 'GET');
    assert.equal(entry.path, '/json/path?a=1');
    assert.equal(entry.protocol, 'HTTP/1.1');
    assert.equal(entry.status, 200);
    assert.equal(entry.bytes, Buffer.byteLength(body));
    assert.equal(typeof entry.duration_ms, 'number');
    assert.equal(entry.request_id, id);
    assert.equal(entry.user_agent, 'json-agent');
    assert.equal(entry.referrer, 'http://ref.example/');
    assert.ok(!('event' in entry), 'no event for a normal end');
    assert.ok(Math.abs(Date.parse(entry.time) - Date.now()) < 5 * 60_000);
    assert.equal(keel.stdout, '', 'nothing on stdout when the access log goes to a file');
  });

  it('a forging User-Agent stays one JSON line whose user_agent is exactly what was sent', async () => {
    const res = await rawGet(keel.port, '/json-forge', { 'User-Agent': FORGING_UA });
    assert.equal(res.status, 200);
    await waitFor(() => fileLines().some((l) => l.includes(res.id)), { timeout: 5000, what: 'the line' });
    await sleep(100);
    const lines = fileLines();
    const parsed = lines.map((l) => JSON.parse(l)); // every line is a whole JSON document
    const mine = parsed.filter((e) => e.path === '/json-forge' || String(e.user_agent).includes('fake'));
    assert.equal(mine.length, 1);
    assert.equal(mine[0].user_agent, FORGING_UA.toString('latin1'));
    assert.equal(mine[0].request_id, res.id);
  });
});

describe('access log: off', () => {
  let keel;
  before(async () => {
    keel = await startKeel(ECHO, ['--access-logfile', 'off'], { workers: 1 });
  });
  after(() => keel?.stop());

  it('writes no access line anywhere', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(`${keel.url}/off-${i}`);
      assert.equal(res.statusCode, 200);
      await res.body.text();
    }
    await sleep(300); // lines are flushed every 20 ms: long enough for any to appear
    assert.equal(keel.stdout, '');
    assert.ok(!keel.stderr.includes('/off-'), 'no access line on stderr either');
  });
});

describe('access log: Gunicorn-style format, and flush on exit', () => {
  let keel;
  before(async () => {
    keel = await startKeel(ECHO, ['--access-logformat', '%(h)s "%(r)s" %(s)s %({x-test}i)s', '--graceful-timeout', '3'], { workers: 2 });
  });
  after(() => keel?.stop());

  it('formats lines with the atoms given, request headers included', async () => {
    const res = await request(`${keel.url}/atoms?z=9`, { headers: { 'x-test': 'hello-atoms' } });
    await res.body.text();
    const plain = await request(`${keel.url}/atoms-no-header`);
    await plain.body.text();
    const lines = await waitFor(() => (keel.accessLines().length >= 2 ? keel.accessLines() : null), { timeout: 5000, what: 'two lines' });
    assert.ok(lines.includes('127.0.0.1 "GET /atoms?z=9 HTTP/1.1" 200 hello-atoms'), JSON.stringify(lines));
    assert.ok(lines.includes('127.0.0.1 "GET /atoms-no-header HTTP/1.1" 200 -'), JSON.stringify(lines));
  });

  it('flushes every line when keel exits on TERM', async () => {
    const count = 60;
    const statuses = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const res = await request(`${keel.url}/flush-${i}`);
        await res.body.text();
        return res.statusCode;
      }),
    );
    assert.deepEqual(statuses, Array(count).fill(200));
    keel.signal('SIGTERM');
    const exit = await keel.waitExit(15_000);
    assert.equal(exit.code, 0);
    const lines = keel.accessLines().filter((l) => / "GET \/flush-\d+ /.test(l));
    assert.equal(lines.length, count, `every line present after exit (${lines.length} of ${count})`);
    for (let i = 0; i < count; i++) assert.ok(lines.some((l) => l.includes(`"GET /flush-${i} HTTP/1.1" 200`)), `line for /flush-${i}`);
  });
});

describe('access log: bad format', () => {
  it('an unknown atom makes keel exit 2 with a message naming --access-logformat, before listening', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const result = await runKeel(['serve', ECHO, '--bind', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--workers', '1', '--access-logformat', '%(zz)s']);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line: ${result.stderr}`);
    assert.match(lines[0], /^keel: .*--access-logformat/);
    assert.equal(result.stdout, '');
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      }),
      /ECONNREFUSED/,
    );
  });
});
