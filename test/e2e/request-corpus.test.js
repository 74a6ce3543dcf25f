// Gunicorn's raw request corpus (../shared/corpus/gunicorn-requests: 63 valid, 74 invalid), replayed
// to keel over raw sockets whole, line by line, byte by byte (small cases) and in seeded random
// splits. Invalid requests must never reach the app as valid ones; valid ones must be answered;
// whole and split replays must agree; nothing may crash or hang. Where keel does not yet do what
// Gunicorn does, the case is a todo with the reason (most come from Node's own parser, see the
// corpus README); cases that only hold under a non-default Gunicorn setting are skipped.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, startKeel } from '../helpers/keel.js';
import { rawExchange, parseResponses } from '../helpers/raw-client.js';

const CORPUS = join(ROOT, '..', 'shared', 'corpus', 'gunicorn-requests');
const HAVE_CORPUS = existsSync(join(CORPUS, 'decode.mjs'));
const SEED = Number(process.env.KEEL_CORPUS_SEED ?? 0x6b65656c);
const CONCURRENCY = 8;
/** How long one replay may take before it counts as hanging (the client half-closes after sending). */
const EXCHANGE_TIMEOUT = 3000;
/** Byte-by-byte replay for cases up to this size (a write per byte). */
const BYTEWISE_MAX = 400;

// Invalid cases Gunicorn refuses that keel still lets through: todo until keel refuses them.
const INVALID_TODO = {};
// Invalid only under a Gunicorn setting that differs from keel's defaults (or that keel does not have).
const INVALID_NEEDS_SETTING = {
  '010': 'needs limit_request_field_size=10',
  '011': 'needs limit_request_fields=2',
  '012': 'needs limit_request_field_size=98',
  '019': 'needs forwarded_allow_ips=* and X-Forwarded-Ssl, which keel does not read',
  '040': 'needs header_map=refuse (underscored names are only ambiguous in WSGI environ)',
  chunked_07: 'needs header_map=refuse',
};
// Valid cases keel does not answer.
const VALID_TODO = {
  '009': "Transfer-Encoding: identity with Content-Length: Node's parser refuses it (RFC 9112 §6.3 allows a 400 there)",
  '013': "whitespace after ';' in a chunk extension: Node's parser refuses it (HPE_STRICT)",
  '027': "raw UTF-8 bytes in the target: Node's parser refuses them",
  '031': 'method -BLARGH: Node knows a fixed list of methods and answers 400 (501 would be right)',
  rfc9112_target_authority_connect_01: 'CONNECT: keel opens no tunnels and answers 501 (Gunicorn hands it to the app)',
  rfc9112_target_authority_ipv6_01: 'CONNECT: keel opens no tunnels and answers 501 (Gunicorn hands it to the app)',
};
const VALID_NEEDS_SETTING = {
  '024': 'needs a larger limit_request_line than the default keel uses',
  '026': 'needs a larger limit_request_field_size than the default keel uses',
  '028': 'needs strip_header_spaces',
  '031compat': 'needs permit_unconventional_http_method',
  '031compat2': 'needs permit_unconventional_http_method',
  compat_obs_fold: 'needs permit_obsolete_folding',
  compat_obs_fold_huge: 'needs permit_obsolete_folding',
  '099': 'the file holds 8,599 of the 17,914 body bytes it declares: only a harness that ends the input there can answer it',
};
/** Cases that start with a PROXY header: replayed to a keel with --proxy-protocol. */
const PROXY_CASES = new Set(['valid/pp_01', 'valid/pp_02', 'valid/pp_04', 'valid/pp_05', 'invalid/pp_01', 'invalid/pp_02', 'invalid/pp_03']);
/** After an invalid PROXY line, a request that must not be served (the corpus files hold only the line). */
const AFTER_PROXY = 'GET /after-invalid-proxy-line HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

/** mulberry32: a small seeded RNG, so a failing split can be replayed with KEEL_CORPUS_SEED. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function proxyHeaderLength(bytes) {
  if (bytes[0] === 0x0d && bytes.length >= 16) return 16 + bytes.readUInt16BE(14);
  if (bytes.subarray(0, 6).toString('latin1') === 'PROXY ') return bytes.indexOf('\r\n') + 2;
  return 0;
}

/** The first request line (after any PROXY header): [method, target, version]. */
function requestLine(bytes) {
  const start = proxyHeaderLength(bytes);
  const end = bytes.indexOf('\r\n', start);
  return bytes.toString('latin1', start, end < 0 ? undefined : end).split(' ');
}

/**
 * Node (like Nginx and Go) refuses HTTP/1.1 without Host before reaching what a case is about, so
 * such cases get `Host: 127.0.0.1` after their first request line, as the corpus README advises.
 */
function withHost(bytes) {
  const start = proxyHeaderLength(bytes);
  const lineEnd = bytes.indexOf('\r\n', start);
  if (lineEnd < 0 || !/ HTTP\/1\.1$/.test(bytes.toString('latin1', start, lineEnd))) return bytes;
  const headEnd = bytes.indexOf('\r\n\r\n', start);
  if (/\r\nhost[ \t]*:/i.test(bytes.toString('latin1', start, headEnd < 0 ? bytes.length : headEnd + 2))) return bytes;
  return Buffer.concat([bytes.subarray(0, lineEnd + 2), Buffer.from('Host: 127.0.0.1\r\n'), bytes.subarray(lineEnd + 2)]);
}

/** The ways one case's bytes go on the wire: [{ mode, pieces }]. */
function splits(bytes, random) {
  const variants = [{ mode: 'whole', pieces: [bytes] }];
  const lines = [];
  for (let at = 0; at < bytes.length; ) {
    const lf = bytes.indexOf(0x0a, at);
    const end = lf < 0 ? bytes.length : lf + 1;
    lines.push(bytes.subarray(at, end));
    at = end;
  }
  if (lines.length > 1) variants.push({ mode: 'lines', pieces: lines });
  if (bytes.length <= BYTEWISE_MAX) variants.push({ mode: 'bytes', pieces: Array.from(bytes, (b) => Buffer.from([b])) });
  for (let n = 0; n < 2; n++) {
    const cuts = new Set();
    const count = 1 + Math.floor(random() * Math.min(8, bytes.length - 1));
    while (cuts.size < count && bytes.length > 1) cuts.add(1 + Math.floor(random() * (bytes.length - 1)));
    const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
    variants.push({ mode: `random${n}`, pieces: points.slice(1).map((end, i) => bytes.subarray(points[i], end)) });
  }
  return variants;
}

/** What one replay produced: statuses of every answer, what the app echoed for the first, hang or not. */
function summarize(exchange) {
  const responses = parseResponses(exchange.data);
  const first = responses[0];
  let echo = null;
  if (first && first.status >= 200 && first.status < 300) {
    try {
      const seen = JSON.parse(first.body.toString());
      echo = { method: seen.method, url: seen.url, bodyLength: seen.bodyLength, bodySha256: seen.bodySha256 };
    } catch {
      echo = { unparsable: first.body.toString('latin1').slice(0, 80) };
    }
  }
  return {
    statuses: responses.map((r) => r.status),
    echo,
    timedOut: exchange.timedOut,
    answered: Boolean(first && first.status >= 200 && first.status < 300),
    reachedApp: responses.some((r) => r.status >= 200 && r.status < 300),
  };
}

async function pool(jobs, size) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

describe('Gunicorn request corpus replayed to keel', { skip: HAVE_CORPUS ? false : `corpus not found at ${CORPUS}` }, () => {
  let keel;
  let proxyKeel;
  let cases = [];
  /** `${kind}/${name}` → [{ mode, ...summary }] */
  const results = new Map();
  let workersBefore;
  let proxyWorkersBefore;
  let replayMs = 0;

  before(async () => {
    const { loadCorpus } = await import(pathToFileURL(join(CORPUS, 'decode.mjs')).href);
    cases = loadCorpus(CORPUS);
    [keel, proxyKeel] = await Promise.all([
      startKeel('test/fixtures/front-echo.js', ['--header-timeout', '2'], { workers: 2 }),
      startKeel('test/fixtures/front-echo.js', ['--proxy-protocol', '--header-timeout', '2'], { workers: 1 }),
    ]);
    workersBefore = keel.workerPids().sort();
    proxyWorkersBefore = proxyKeel.workerPids().sort();
    const random = rng(SEED);
    const jobs = [];
    for (const c of cases) {
      const id = `${c.kind}/${c.name}`;
      let bytes = withHost(c.bytes);
      if (c.kind === 'invalid' && PROXY_CASES.has(id)) bytes = Buffer.concat([bytes, Buffer.from(AFTER_PROXY)]);
      const port = PROXY_CASES.has(id) ? proxyKeel.port : keel.port;
      results.set(id, []);
      const variants = splits(bytes, random);
      for (const variant of variants) {
        jobs.push(async () => {
          // No retry on a reset: keel lingers after its last answer (lingering-close.ts), so the bytes a
          // client sends after it are read and dropped, and can no longer reset the answer away.
          const exchange = await rawExchange(port, variant.pieces, { halfClose: true, stopAfterClose: true, timeout: EXCHANGE_TIMEOUT, delayMs: variant.mode.startsWith('random') ? 1 : 0 });
          results.get(id).push({ mode: variant.mode, ...summarize(exchange) });
        });
      }
    }
    const started = Date.now();
    await pool(jobs, CONCURRENCY);
    replayMs = Date.now() - started;
  });
  after(async () => {
    await Promise.all([keel?.stop(), proxyKeel?.stop()]);
  });

  const caseOf = (kind, name) => results.get(`${kind}/${name}`);
  const table = (id) => results.get(id).map((r) => `${r.mode}: ${r.statuses.join(',') || 'closed, no answer'}${r.timedOut ? ' (hung)' : ''}`).join('; ');

  it('replays every case without a crash, a worker exit or an app error', async () => {
    assert.equal(keel.exit, null, 'keel still running');
    assert.equal(proxyKeel.exit, null, 'keel --proxy-protocol still running');
    assert.deepEqual(keel.workerPids().sort(), workersBefore, `the same workers serve; error log:\n${keel.stderr}`);
    assert.deepEqual(proxyKeel.workerPids().sort(), proxyWorkersBefore, `the same workers serve (--proxy-protocol); error log:\n${proxyKeel.stderr}`);
    for (const k of [keel, proxyKeel]) {
      const bad = k.errorLog().filter((e) => e.level === 'error' || e.level === 'critical' || /worker exited|WORKER TIMEOUT/.test(e.msg));
      assert.deepEqual(bad, [], 'no error, crash or worker exit logged');
      assert.equal((await k.readyz()), 200);
    }
    assert.equal(results.size, cases.length);
  });

  it('closes every connection after the client half-closes (no replay hangs)', () => {
    const hung = [...results].filter(([, rs]) => rs.some((r) => r.timedOut)).map(([id]) => `${id} (${table(id)})`);
    assert.deepEqual(hung, []);
  });

  it('gives the same answers whole, line by line, byte by byte and in random splits', () => {
    const differing = [];
    for (const [id, rs] of results) {
      const reference = JSON.stringify({ statuses: rs[0].statuses, echo: rs[0].echo });
      if (rs.some((r) => JSON.stringify({ statuses: r.statuses, echo: r.echo }) !== reference)) differing.push(`${id}: ${table(id)}`);
    }
    assert.deepEqual(differing, [], `seed ${SEED}`);
  });

  it('hands answered valid requests to the app with the method and target that were sent', () => {
    const wrong = [];
    for (const c of cases.filter((x) => x.kind === 'valid')) {
      for (const r of caseOf('valid', c.name).filter((x) => x.answered)) {
        const [method, target] = requestLine(c.bytes);
        if (r.echo?.method !== method || r.echo?.url !== target) wrong.push(`${c.name} ${r.mode}: sent ${method} ${target}, app saw ${JSON.stringify(r.echo)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  describe('invalid cases: refused, never served', () => {
    const names = HAVE_CORPUS ? listNames('invalid') : [];
    for (const name of names) {
      const options = INVALID_NEEDS_SETTING[name] ? { skip: INVALID_NEEDS_SETTING[name] } : INVALID_TODO[name] ? { todo: INVALID_TODO[name] } : {};
      it(`invalid/${name}`, options, () => {
        const rs = caseOf('invalid', name);
        const served = rs.filter((r) => r.reachedApp);
        assert.deepEqual(served.map((r) => r.mode), [], `reached the app as a valid request: ${table(`invalid/${name}`)}`);
        for (const r of rs) assert.ok(r.statuses.every((s) => s >= 400), `answered only with errors, or closed: ${table(`invalid/${name}`)}`);
      });
    }
  });

  describe('valid cases: answered', () => {
    const names = HAVE_CORPUS ? listNames('valid') : [];
    for (const name of names) {
      const options = VALID_NEEDS_SETTING[name] ? { skip: VALID_NEEDS_SETTING[name] } : VALID_TODO[name] ? { todo: VALID_TODO[name] } : {};
      it(`valid/${name}`, options, () => {
        const rs = caseOf('valid', name);
        const unanswered = rs.filter((r) => !r.answered);
        assert.deepEqual(unanswered.map((r) => r.mode), [], `not answered: ${table(`valid/${name}`)}`);
      });
    }
  });

  it('records keel\'s counts beside bare Node\'s (README: valid 45 of 63 answered, invalid 55 of 74 refused)', (t) => {
    const valid = [...results].filter(([id]) => id.startsWith('valid/'));
    const invalid = [...results].filter(([id]) => id.startsWith('invalid/'));
    const answered = valid.filter(([, rs]) => rs.every((r) => r.answered)).length;
    const refused = invalid.filter(([, rs]) => rs.every((r) => !r.reachedApp)).length;
    const replays = [...results.values()].reduce((n, rs) => n + rs.length, 0);
    t.diagnostic(`keel: valid ${answered} of ${valid.length} answered (bare Node 45 of 63); invalid ${refused} of ${invalid.length} refused (bare Node 55 of 74)`);
    t.diagnostic(`${replays} replays (whole, lines, bytes ≤ ${BYTEWISE_MAX} B, 2 random splits), seed ${SEED}, ${replayMs} ms`);
    // keel adds Gunicorn's limits, the PROXY protocol and answers after Connection: close to what Node does alone.
    assert.ok(answered >= 45, `at least bare Node's valid count: ${answered}`);
    assert.ok(refused >= 55, `at least bare Node's invalid count: ${refused}`);
  });
});

/** Case names of one kind, read synchronously so the subtests can be declared up front. */
function listNames(kind) {
  return readdirSync(join(CORPUS, kind)).filter((n) => n.endsWith('.http')).map((n) => n.slice(0, -'.http'.length)).sort();
}
