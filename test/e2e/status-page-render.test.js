// The status page's rendering in a real headless Chromium, fed a crafted snapshot by the real page
// module over loopback: every string a snapshot carries is hostile markup and must stay text,
// certificates near expiry turn red, an unfolded stack stays unfolded across updates, and the page
// reconnects by itself when its stream drops.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { createStatusPage } from '../../dist/observe/status-page.js';
import { tempDir } from '../helpers/keel.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DAY = 86_400_000;
/** Markup that would run or create an element if any string reached the DOM as HTML. */
const evil = (where) => `<img src=x onerror="document.body.dataset.pwned='${where}'"><script>document.body.dataset.pwned='${where}'</script>`;

function hostileSnapshot(counter) {
  const now = Date.now();
  const traffic = Array.from({ length: 120 }, (_, i) => ({ t: now - (119 - i) * 1000, rps: i % 7, errorRate: i % 5 === 0 ? 0.1 : 0, p50: 1, p90: 2, p99: 4 + (i % 3) }));
  return {
    version: evil('version'),
    startedAt: now - 3_600_000,
    now,
    phase: evil('phase'),
    traffic,
    totals: { requests: counter, errors: 3, inflight: 1 },
    workers: [{ id: 1, pid: 4242, state: evil('state'), startedAt: now - 60_000, requests: 10, rss: 50 << 20, restarts: 0 }],
    restarts: { [evil('reason')]: 2 },
    upstreams: [{ route: evil('route'), url: evil('url'), healthy: false }],
    certificates: [
      { names: [evil('names'), 'soon.example'], notAfter: now + 5 * DAY + 3_600_000, source: evil('source') },
      { names: ['later.example'], notAfter: now + 90 * DAY + 3_600_000, source: 'acme' },
    ],
    errors: [{ signature: 'sig1', title: evil('title'), stack: `Error: x\n${evil('stack')}\n    at f (/app.js:1:1)`, count: 2, firstSeen: now - 10_000, lastSeen: now - 1000, requestIds: [evil('request-id'), 'req-2'] }],
  };
}

describe('status page rendering', () => {
  let server;
  let url;
  let statusPage;
  let streamsOpened = 0;
  let ticks = 0;
  before(async () => {
    statusPage = createStatusPage(() => hostileSnapshot(++ticks), { intervalMs: 300 });
    server = createServer((req, res) => {
      const path = req.url.split('?')[0];
      if (path === '/') return statusPage.page(req, res);
      if (path === '/status.js') return statusPage.script(req, res);
      if (path === '/status.css') return statusPage.styles(req, res);
      if (path === '/events') {
        streamsOpened++;
        return statusPage.events(req, res);
      }
      res.writeHead(404).end();
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => {
    statusPage.close();
    server.close();
  });

  it('keeps every snapshot string as text, colours what needs a human, keeps folds and reconnects', async (t) => {
    const context = await chromium.launchPersistentContext(tempDir('keel-chromium-'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 390, height: 844 } });
    t.after(() => context.close());
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`));
    await page.goto(`${url}/?token=s3cret&x=1`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    await page.waitForSelector('#errors .error');

    // Nothing from the snapshot became an element or ran; each string is there as text.
    assert.equal(await page.$$eval('img', (n) => n.length), 0);
    assert.equal(await page.$$eval('body script', (n) => n.length), 0);
    assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
    const text = await page.evaluate(() => document.body.textContent);
    for (const where of ['version', 'phase', 'state', 'reason', 'route', 'url', 'names', 'source', 'title', 'stack', 'request-id']) {
      assert.ok(text.includes(`document.body.dataset.pwned='${where}'`), `the ${where} is shown as text`);
    }

    // Certificates: days left, red under two weeks only.
    const certs = await page.$$eval('#certificates tbody tr', (rows) => rows.map((r) => ({ days: r.dataset.daysLeft, red: r.lastElementChild.classList.contains('expiring') })));
    assert.deepEqual(certs, [{ days: '5', red: true }, { days: '90', red: false }]);
    assert.equal(await page.$eval('#upstreams tbody td:nth-child(3)', (n) => n.textContent), 'down');

    // The stream carried the page's token: EventSource cannot send a header.
    const eventsRequests = [];
    page.on('request', (req) => req.url().includes('/events') && eventsRequests.push(req.url()));

    // An unfolded stack stays unfolded while updates arrive.
    await page.click('#errors .error summary');
    const before = await page.$eval('#requests-total', (n) => n.textContent);
    await page.waitForFunction((prev) => document.getElementById('requests-total').textContent !== prev, before, { timeout: 10_000 });
    assert.equal(await page.$eval('#errors details', (d) => d.open), true);

    // The window buttons change what the charts cover: 1 min shows 60 samples or fewer.
    await page.click('button[data-window="60"]');
    const shown = await page.$eval('#chart-rps', (n) => n.dataset.values.split(',').length);
    assert.ok(shown <= 60 && shown >= 55, `1 min window plots ${shown} samples`);
    assert.equal(await page.$eval('button[data-window="60"]', (b) => b.getAttribute('aria-pressed')), 'true');

    // The stream drops (every connection cut): the page notices and reconnects by itself.
    const opened = streamsOpened;
    server.closeAllConnections();
    await page.waitForFunction(() => document.getElementById('connection').dataset.state !== 'live', null, { timeout: 10_000 }).catch(() => {});
    const beforeReconnect = await page.$eval('#requests-total', (n) => n.textContent);
    await page.waitForFunction((prev) => document.getElementById('connection').dataset.state === 'live' && document.getElementById('requests-total').textContent !== prev, beforeReconnect, { timeout: 15_000 });
    assert.ok(streamsOpened > opened, 'a new stream was opened');
    assert.ok(eventsRequests.length > 0 && eventsRequests.every((u) => new URL(u).search === '?token=s3cret'), `events URLs: ${eventsRequests}`);

    // Tables may scroll inside their own box (a hostile state string is one long word); the page may not.
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')].filter((n) => !n.closest('.table-box') && n.getBoundingClientRect().right > window.innerWidth + 0.5).map((n) => `${n.tagName}#${n.id}.${n.className}`));
    assert.deepEqual(wide, [], 'no element outside the tables wider than 390 px');
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no horizontal scroll at 390 px');
    assert.deepEqual(problems.filter((p) => !p.includes('ERR_CONNECTION') && !p.includes('net::')), [], 'no script errors and no CSP violations');
  });
});
