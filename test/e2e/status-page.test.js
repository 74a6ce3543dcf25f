// The live status page on the admin listener, end to end: its headers and event stream over plain
// HTTP, then the page itself in a real headless Chromium at a phone's size, fed by a keel with two
// workers under load: worker pids, moving charts, the error inbox, and app markup kept as text;
// then behind --admin-token, and with a certificate near its expiry.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { request } from 'undici';
import { makeCertificates } from '../helpers/certs.js';
import { ROOT, startKeel, tempDir } from '../helpers/keel.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

const APP = join(ROOT, 'test', 'fixtures', 'status-app.js');
/** The message test/fixtures/status-app.js throws on /xss. */
const XSS_MESSAGE = 'bad input <img src=x onerror="document.body.dataset.pwned=1"> in form';
const ARTIFACTS = join(ROOT, 'test', 'artifacts');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PHONE = { width: 390, height: 844 };

async function get(url, options = {}) {
  const res = await request(url, options);
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

/**
 * Reads GET /events over a raw socket until `events` data events have arrived: the exact bytes,
 * with no client library to smooth over a malformed stream. { head, retry, events, raw }.
 */
function readEventStream(port, path, events = 1, timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ${events} event(s) on ${path} within ${timeout} ms; got:\n${raw}`));
    }, timeout);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
    socket.on('data', (chunk) => {
      raw += chunk;
      const split = raw.indexOf('\r\n\r\n');
      if (split === -1) return;
      const head = raw.slice(0, split);
      // Chunked transfer coding: strip the chunk-size lines to get the event text.
      const body = raw.slice(split + 4).replace(/(^|\r\n)[0-9a-f]+\r\n/g, '$1').replace(/\r\n/g, '');
      const blocks = body.split('\n\n').slice(0, -1);
      const data = blocks.filter((b) => b.split('\n').some((l) => l.startsWith('data: ')));
      if (data.length < events) return;
      clearTimeout(timer);
      socket.destroy();
      const retryLine = blocks.flatMap((b) => b.split('\n')).find((l) => l.startsWith('retry: '));
      resolve({
        head,
        retry: retryLine ? Number(retryLine.slice(7)) : null,
        events: data.slice(0, events).map((b) => {
          const lines = b.split('\n').filter((l) => l.startsWith('data: '));
          assert.equal(lines.length, 1, `one data: line per event, got: ${b}`);
          return JSON.parse(lines[0].slice(6));
        }),
        raw,
      });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('status page', () => {
  let keel;
  before(async () => {
    keel = await startKeel(APP, [], { workers: 2 });
  });
  after(() => keel?.stop());

  it('serves the page with a CSP that forbids inline code, and its script and style sheet as files', async () => {
    const page = await get(`${keel.adminUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    const csp = page.headers['content-security-policy'];
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.match(page.body, /<meta name="viewport" content="width=device-width/);
    // Under that policy inline code would not run anyway; none is written.
    assert.match(page.body, /<script src="status\.js" defer><\/script>/);
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)/);
    assert.doesNotMatch(page.body, /<style|\sstyle=|\son[a-z]+=/i);

    const script = await get(`${keel.adminUrl}/status.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers['content-type'], /^text\/javascript/);
    assert.equal(script.headers['x-content-type-options'], 'nosniff');
    assert.match(script.body, /new EventSource\(/);
    assert.doesNotMatch(script.body, /\.(inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write\(|\beval\(/, 'status.js parses no data as markup');
    const again = await get(`${keel.adminUrl}/status.js`, { headers: { 'if-none-match': script.headers.etag } });
    assert.equal(again.status, 304);

    const styles = await get(`${keel.adminUrl}/status.css`);
    assert.equal(styles.status, 200);
    assert.match(styles.headers['content-type'], /^text\/css/);

    const post = await get(`${keel.adminUrl}/`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('/events is an unbuffered event stream: retry:, then one well-formed snapshot a second', async () => {
    const stream = await readEventStream(keel.adminPort, '/events', 2);
    assert.match(stream.head, /^HTTP\/1\.1 200 /);
    assert.match(stream.head, /\r\ncontent-type: text\/event-stream/i);
    assert.match(stream.head, /\r\ncache-control: no-store/i);
    assert.equal(stream.retry, 2000);
    const [first, second] = stream.events;
    assert.equal(first.version, VERSION);
    for (const key of ['traffic', 'workers', 'upstreams', 'certificates', 'errors']) assert.ok(Array.isArray(first[key]), `${key} is a list`);
    for (const key of ['requests', 'errors', 'inflight']) assert.equal(typeof first.totals[key], 'number');
    assert.equal(typeof first.restarts, 'object');
    assert.ok(second.now > first.now, 'the second event is a newer snapshot');
  });

  it('in Chromium at 390×844: live workers with their pids, charts that move under load, the error inbox as text', async (t) => {
    const context = await chromium.launchPersistentContext(tempDir('keel-chromium-'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: PHONE });
    t.after(() => context.close());
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`));
    await page.goto(`${keel.adminUrl}/`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });

    // The workers table: two rows, the pids keel's workers really have.
    const expected = keel.workerPids().sort((a, b) => a - b);
    assert.equal(expected.length, 2);
    await page.waitForFunction((n) => document.querySelectorAll('#workers tbody tr').length === n, 2, { timeout: 10_000 });
    const shown = await page.$$eval('#workers tbody tr', (rows) => rows.map((r) => Number(r.dataset.pid)).sort((a, b) => a - b));
    assert.deepEqual(shown, expected);
    assert.deepEqual(await page.$$eval('#workers tbody tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent)), ['ready', 'ready']);

    // Load moves the requests/s chart: what it plots changes between two updates and shows traffic.
    const before = await page.getAttribute('#chart-rps', 'data-values');
    const load = startLoad(keel.url, { connections: 4, maxMs: 30_000, path: '/ok' });
    let moved;
    try {
      moved = await page.waitForFunction(
        (prev) => {
          const chart = document.getElementById('chart-rps');
          return chart.dataset.values !== prev && Number(chart.dataset.last) > 0 && Number(document.getElementById('rps-now').textContent) > 0 && chart.dataset.values;
        },
        before,
        { timeout: 15_000 },
      );
    } finally {
      const result = await load.stop();
      assert.ok(result.ok > 0, `the load got answers: ${JSON.stringify(result)}`);
    }
    const plotted = (await moved.jsonValue()).split(',').map(Number);
    assert.ok(Math.max(...plotted) > 0, `plotted requests/s above 0: ${plotted.slice(-5)}`);
    const path = await page.getAttribute('#chart-rps path.series', 'd');
    assert.match(path, /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/, 'the line is drawn');
    const latency = await page.getAttribute('#chart-latency', 'data-last');
    assert.ok(Number(latency) >= 0, 'the latency chart has a value');

    // App errors reach the inbox with their count and request IDs; markup in a title stays text.
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const res = await get(`${keel.url}/boom`);
      assert.equal(res.status, 500);
      ids.push(res.headers['x-request-id']);
    }
    const xss = await get(`${keel.url}/xss`);
    assert.equal(xss.status, 500);
    const boom = await page.waitForSelector('#errors .error[data-count="3"]', { timeout: 10_000 });
    assert.match(await boom.$eval('.title', (n) => n.textContent), /status-page fixture failure/);
    assert.equal(await boom.$eval('.count', (n) => n.textContent), '×3');
    const shownIds = await boom.$$eval('.request-id', (nodes) => nodes.map((n) => n.textContent));
    for (const id of ids) assert.ok(shownIds.includes(id), `request id ${id} listed: ${shownIds}`);
    assert.equal(await boom.$eval('details.stack-fold', (d) => d.open), false, 'the stack is folded');
    assert.match(await boom.$eval('pre.stack', (n) => n.textContent), /status-app\.js/);

    const xssTitle = await page.waitForFunction((msg) => [...document.querySelectorAll('#errors .title')].find((n) => n.textContent.includes(msg))?.textContent, XSS_MESSAGE, { timeout: 10_000 });
    assert.ok((await xssTitle.jsonValue()).includes('<img src=x onerror='), 'the markup is shown as text');
    assert.equal(await page.$$eval('img', (imgs) => imgs.length), 0, 'no element was created from the title');
    assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined, 'no handler ran');

    // A phone's width: nothing scrolls sideways, not even inside the tables.
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
      boxes: [...document.querySelectorAll('.table-box')].map((b) => b.scrollWidth - b.clientWidth),
    }));
    assert.ok(widths.page <= widths.viewport, `page ${widths.page}px wide in a ${widths.viewport}px viewport`);
    assert.deepEqual(widths.boxes.filter((extra) => extra > 0), [], 'no table wider than its box');

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`status page screenshot: ${shot}`);
    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
  });
});

describe('status page behind --admin-token', () => {
  const TOKEN = 'status-page-token-5Jx9qL2w';
  let keel;
  before(async () => {
    keel = await startKeel(APP, ['--admin-token', TOKEN], { workers: 2 });
  });
  after(() => keel?.stop());

  it('needs the token for the page and /events, not for its data-free script and style sheet', async () => {
    assert.equal((await get(`${keel.adminUrl}/`)).status, 401);
    assert.equal((await get(`${keel.adminUrl}/events`)).status, 401);
    assert.equal((await get(`${keel.adminUrl}/?token=wrong-token-wrong-token`)).status, 401);
    assert.equal((await get(`${keel.adminUrl}/status.js`)).status, 200);
    assert.equal((await get(`${keel.adminUrl}/status.css`)).status, 200);
    const stream = await readEventStream(keel.adminPort, `/events?token=${TOKEN}`, 1);
    assert.match(stream.head, /^HTTP\/1\.1 200 /);
    assert.equal(stream.events[0].workers.length, 2);
  });

  it('in Chromium, a page opened with ?token= passes it on to its event stream and goes live', async (t) => {
    const context = await chromium.launchPersistentContext(tempDir('keel-chromium-'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: PHONE });
    t.after(() => context.close());
    const page = await context.newPage();
    const refused = [];
    page.on('response', (res) => res.status() >= 400 && refused.push(`${res.status()} ${res.url()}`));
    await page.goto(`${keel.adminUrl}/?token=${TOKEN}`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#workers tbody tr').length === 2, null, { timeout: 10_000 });
    assert.deepEqual(refused, []);
  });
});

describe('status page with certificates', () => {
  let keel;
  let pki;
  before(async () => {
    pki = makeCertificates();
    // Ten days and an hour left: under the two weeks that turn a certificate red.
    const { cert, key } = pki.leaf('localhost', { dns: ['localhost'], ip: ['127.0.0.1'], days: 10, notBefore: Date.now() - 3600_000, notAfter: Date.now() + 10 * 86_400_000 + 3600_000 });
    keel = await startKeel(APP, ['--certfile', cert, '--keyfile', key], { workers: 2 });
  });
  after(async () => {
    await keel?.stop();
    pki?.cleanup();
  });

  it('shows the served certificate with its days left, in red under 14 days', async (t) => {
    const context = await chromium.launchPersistentContext(tempDir('keel-chromium-'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: PHONE });
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`${keel.adminUrl}/`);
    const row = await page.waitForSelector('#certificates tbody tr', { timeout: 10_000 });
    assert.equal(await row.getAttribute('data-days-left'), '10');
    assert.match(await row.$eval('td', (n) => n.textContent), /localhost/);
    assert.equal(await row.$eval('td:last-child', (n) => n.classList.contains('expiring')), true, 'red under 14 days');
    assert.equal(await page.isVisible('#certificates-empty'), false);
  });
});
