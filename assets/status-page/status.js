// keel status page: listens to /events (Server-Sent Events, one StatusSnapshot a second) and draws
// it. Every string from the snapshot can come from the app (error titles, stacks) or from the
// config, so the DOM is built with createElement and text nodes only, never innerHTML: markup in a
// string stays text. The charts are hand-drawn SVG paths: three small line charts need about fifty
// lines, no dependency to serve and no inline style or script the Content-Security-Policy forbids.
'use strict';
(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const VIEW_W = 600;
  const VIEW_H = 120;
  /** A stream silent this long is shown as stale: the server sends a snapshot every second. */
  const STALE_MS = 4000;

  const $ = (id) => document.getElementById(id);
  let windowSeconds = 300;
  let latest = null;
  let lastMessageAt = 0;
  /** Section contents last drawn, so a section whose data did not change keeps its DOM (and selection). */
  const drawn = { upstreams: '', certificates: '', errors: '' };
  /** Error groups whose stack the reader unfolded, by signature, kept across redraws. */
  const unfolded = new Set();

  /** An element with attributes and children; strings become text nodes, never markup. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    node.append(...children.filter((c) => c !== null && c !== undefined).map((c) => (c instanceof Node ? c : String(c))));
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  // ---- formatting ----------------------------------------------------------------------------

  function formatCount(n) {
    return Number(n).toLocaleString('en-US');
  }

  function formatRate(n) {
    return n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1).replace(/\.0$/, '') : n.toFixed(2).replace(/\.?0+$/, '') || '0';
  }

  function formatMs(ms) {
    if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
    return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1).replace(/\.0$/, '')} ms`;
  }

  function formatPercent(share) {
    const p = share * 100;
    return `${p === 0 ? '0' : p < 1 ? p.toFixed(2) : p.toFixed(1)} %`;
  }

  function formatBytes(n) {
    if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
    if (n >= 1 << 20) return `${Math.round(n / (1 << 20))} MiB`;
    return `${Math.round(n / 1024)} KiB`;
  }

  function formatDuration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${s % 60}s`;
    const hours = Math.floor(m / 60);
    if (hours < 48) return `${hours}h ${m % 60}m`;
    return `${Math.floor(hours / 24)}d ${hours % 24}h`;
  }

  /** Absolute local time: it does not change every second, so the inbox is only redrawn on news. */
  function formatTime(t) {
    const d = new Date(t);
    const sameDay = new Date().toDateString() === d.toDateString();
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  }

  // ---- charts --------------------------------------------------------------------------------

  /** 1, 2 or 5 times a power of ten, at least `value`: a round top for the y axis. */
  function niceCeil(value) {
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  const charts = {};

  function setUpChart(id, series) {
    const root = $(id);
    for (const y of [0.25, 0.5, 0.75]) root.append(svg('line', { class: 'grid-line', x1: 0, x2: VIEW_W, y1: VIEW_H * y, y2: VIEW_H * y }));
    const area = series.area ? root.appendChild(svg('path', { class: 'area', d: '' })) : null;
    const paths = series.keys.map((key) => root.appendChild(svg('path', { class: `series ${key.cls}`, d: '', 'data-series': key.name })));
    charts[id] = { root, area, paths, series };
  }

  /**
   * Draws the samples of the window on a chart. The plotted values also go into data attributes
   * (data-values of the first series, data-max, data-last), which the tests and a curious reader
   * can read without parsing the path.
   */
  function drawChart(id, samples, now, maxLabel) {
    const { root, area, paths, series } = charts[id];
    const from = now - windowSeconds * 1000;
    const visible = samples.filter((s) => s.t > from);
    let top = series.floor;
    for (const s of visible) for (const key of series.keys) top = Math.max(top, key.value(s));
    top = niceCeil(top);
    const x = (t) => (((t - from) / (windowSeconds * 1000)) * VIEW_W).toFixed(1);
    const y = (v) => (VIEW_H - (Math.min(v, top) / top) * VIEW_H).toFixed(1);
    series.keys.forEach((key, i) => {
      paths[i].setAttribute('d', visible.map((s, j) => `${j === 0 ? 'M' : 'L'}${x(s.t)},${y(key.value(s))}`).join(''));
    });
    if (area) {
      const line = visible.map((s, j) => `${j === 0 ? 'M' : 'L'}${x(s.t)},${y(series.keys[0].value(s))}`).join('');
      area.setAttribute('d', visible.length ? `${line}L${x(visible[visible.length - 1].t)},${VIEW_H}L${x(visible[0].t)},${VIEW_H}Z` : '');
    }
    const first = series.keys[0];
    root.dataset.values = visible.map((s) => +first.value(s).toFixed(3)).join(',');
    root.dataset.max = String(top);
    root.dataset.last = visible.length ? String(+first.value(visible[visible.length - 1]).toFixed(3)) : '';
    $(`${id}-max`).textContent = `max ${maxLabel(top)}`;
  }

  // ---- sections ------------------------------------------------------------------------------

  function renderTiles(s) {
    const lastSample = s.traffic.length ? s.traffic[s.traffic.length - 1] : null;
    $('version').textContent = `v${s.version}`;
    $('phase').textContent = s.phase;
    $('rps-now').textContent = lastSample ? formatRate(lastSample.rps) : '–';
    $('p99-now').textContent = lastSample && lastSample.rps > 0 ? formatMs(lastSample.p99) : '–';
    $('error-rate-now').textContent = lastSample ? formatPercent(lastSample.errorRate) : '–';
    $('error-rate-now').classList.toggle('expiring', Boolean(lastSample && lastSample.errorRate > 0));
    $('inflight-now').textContent = formatCount(s.totals.inflight);
    $('requests-total').textContent = formatCount(s.totals.requests);
    $('uptime').textContent = formatDuration(s.now - s.startedAt);
    for (const from of document.querySelectorAll('.axis .from')) from.textContent = `−${windowSeconds / 60} min`;
  }

  function renderWorkers(s) {
    const rows = [...s.workers].sort((a, b) => a.id - b.id).map((w) =>
      h('tr', { 'data-pid': w.pid, 'data-id': w.id, title: `worker ${w.id}` },
        h('td', null, h('code', null, w.pid)),
        h('td', { class: `state-${w.state}` }, w.state),
        h('td', null, formatDuration(s.now - w.startedAt)),
        h('td', { class: 'num' }, formatCount(w.requests)),
        h('td', { class: 'num' }, formatBytes(w.rss)),
        h('td', { class: 'num' }, w.restarts),
      ),
    );
    $('workers').tBodies[0].replaceChildren(...rows);
    $('workers-empty').hidden = rows.length > 0;
    const reasons = Object.entries(s.restarts).filter(([, n]) => n > 0);
    $('restarts').textContent = reasons.length ? reasons.map(([reason, n]) => `${reason} ${n}`).join(' · ') : 'none';
  }

  /** Redraws a section only when what it shows changed. */
  function changed(name, key) {
    if (drawn[name] === key) return false;
    drawn[name] = key;
    return true;
  }

  function renderUpstreams(s) {
    if (!changed('upstreams', JSON.stringify(s.upstreams))) return;
    const rows = s.upstreams.map((u) =>
      h('tr', { 'data-healthy': u.healthy },
        h('td', { class: 'wrap' }, h('code', null, u.route)),
        h('td', { class: 'wrap' }, u.url),
        h('td', { class: u.healthy ? 'healthy' : 'unhealthy' }, u.healthy ? 'healthy' : 'down'),
      ),
    );
    $('upstreams').tBodies[0].replaceChildren(...rows);
    $('upstreams').hidden = rows.length === 0;
    $('upstreams-empty').hidden = rows.length > 0;
  }

  function renderCertificates(s) {
    const days = (c) => Math.floor((c.notAfter - s.now) / 86_400_000);
    if (!changed('certificates', JSON.stringify(s.certificates.map((c) => [c, days(c)])))) return;
    const rows = s.certificates.map((c) => {
      const left = days(c);
      // Under two weeks left, automatic renewal has failed for a while: that wants a human now.
      const cls = left < 14 ? 'num expiring' : 'num';
      return h('tr', { 'data-days-left': left },
        h('td', { class: 'wrap' }, c.names.join(', ')),
        h('td', null, c.source),
        h('td', null, new Date(c.notAfter).toLocaleDateString()),
        h('td', { class: cls }, left < 0 ? `expired ${-left}d ago` : left),
      );
    });
    $('certificates').tBodies[0].replaceChildren(...rows);
    $('certificates').hidden = rows.length === 0;
    $('certificates-empty').hidden = rows.length > 0;
  }

  function renderErrors(s) {
    if (!changed('errors', JSON.stringify(s.errors))) return;
    const groups = [...s.errors].sort((a, b) => b.lastSeen - a.lastSeen);
    const items = groups.map((e) => {
      const stack = h('details', { class: 'stack-fold' }, h('summary', null, 'stack'), h('pre', { class: 'stack' }, e.stack));
      stack.open = unfolded.has(e.signature);
      stack.addEventListener('toggle', () => (stack.open ? unfolded.add(e.signature) : unfolded.delete(e.signature)));
      return h('article', { class: 'error', 'data-signature': e.signature, 'data-count': e.count },
        h('div', { class: 'error-head' }, h('span', { class: 'count', title: 'occurrences' }, `×${formatCount(e.count)}`), h('h3', { class: 'title' }, e.title)),
        h('p', { class: 'seen' }, `first ${formatTime(e.firstSeen)} · last ${formatTime(e.lastSeen)}`),
        // Newest first: the one to look up in the log is usually the latest.
        h('ul', { class: 'request-ids', 'aria-label': 'request IDs' }, ...[...e.requestIds].reverse().map((id) => h('li', null, h('code', { class: 'request-id' }, id)))),
        stack,
      );
    });
    $('errors').replaceChildren(...items);
    $('errors-empty').hidden = items.length > 0;
    const total = groups.reduce((n, e) => n + e.count, 0);
    $('errors-count').textContent = groups.length ? `${formatCount(total)} in ${groups.length} group${groups.length === 1 ? '' : 's'}` : '';
  }

  function render(s) {
    latest = s;
    renderTiles(s);
    drawChart('chart-rps', s.traffic, s.now, formatRate);
    drawChart('chart-latency', s.traffic, s.now, formatMs);
    drawChart('chart-errors', s.traffic, s.now, (v) => `${v} %`);
    renderWorkers(s);
    renderUpstreams(s);
    renderCertificates(s);
    renderErrors(s);
    $('updated').textContent = new Date(s.now).toLocaleTimeString();
  }

  // ---- connection ----------------------------------------------------------------------------

  function setConnection(state, text) {
    const node = $('connection');
    node.dataset.state = state;
    node.textContent = text;
  }

  /** The page's own ?token= goes on to the stream: EventSource cannot send an Authorization header. */
  function eventsUrl() {
    const token = new URLSearchParams(location.search).get('token');
    return token === null ? 'events' : `events?token=${encodeURIComponent(token)}`;
  }

  let retryDelay = 1000;

  function connect() {
    const source = new EventSource(eventsUrl());
    source.onopen = () => {
      retryDelay = 1000;
      setConnection('live', 'live');
    };
    source.onmessage = (event) => {
      let snapshot;
      try {
        snapshot = JSON.parse(event.data);
      } catch {
        return;
      }
      lastMessageAt = Date.now();
      setConnection('live', 'live');
      render(snapshot);
    };
    source.onerror = () => {
      // CONNECTING: the browser retries by itself (after the stream's retry: delay). CLOSED: it gave
      // up (a 401, a 503, not an event stream); ask why, then try again later with a backoff.
      if (source.readyState !== EventSource.CLOSED) {
        setConnection('connecting', 'reconnecting…');
        return;
      }
      source.close();
      fetch(eventsUrl(), { method: 'HEAD', cache: 'no-store' })
        .then((res) => setConnection('offline', res.status === 401 ? 'unauthorized: open this page with ?token=…' : `offline (HTTP ${res.status}), retrying`))
        .catch(() => setConnection('offline', 'offline, retrying'));
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30_000);
    };
  }

  function watchStaleness() {
    setInterval(() => {
      if (lastMessageAt && Date.now() - lastMessageAt > STALE_MS && $('connection').dataset.state === 'live') {
        setConnection('stale', `no update for ${Math.round((Date.now() - lastMessageAt) / 1000)}s`);
      }
    }, 1000);
  }

  function setUpWindowButtons() {
    for (const button of document.querySelectorAll('.window button')) {
      button.addEventListener('click', () => {
        windowSeconds = Number(button.dataset.window);
        for (const other of document.querySelectorAll('.window button')) other.setAttribute('aria-pressed', String(other === button));
        if (latest) render(latest);
      });
    }
  }

  setUpChart('chart-rps', { floor: 1, area: true, keys: [{ name: 'rps', cls: 'rps', value: (s) => s.rps }] });
  setUpChart('chart-latency', {
    floor: 1,
    keys: [
      // p99 first: data-values of the latency chart is its worst case.
      { name: 'p99', cls: 'p99', value: (s) => s.p99 },
      { name: 'p90', cls: 'p90', value: (s) => s.p90 },
      { name: 'p50', cls: 'p50', value: (s) => s.p50 },
    ],
  });
  setUpChart('chart-errors', { floor: 1, keys: [{ name: 'errors', cls: 'errors', value: (s) => s.errorRate * 100 }] });
  setUpWindowButtons();
  watchStaleness();
  connect();
})();
