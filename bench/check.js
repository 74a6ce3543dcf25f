// Before a row is loaded, one real request must get the expected answer: a
// stub answering 501, a 404 or a proxy's 502 is fast to serve and would make a
// fake fast row. A row whose check fails is an error row, never measured.
import http from 'node:http';
import https from 'node:https';
import { HOST } from './net.js';
import { sleep } from './proc.js';

// Statuses a server may give while it is still coming up (a managed upstream
// starting behind keel): retried until the deadline. Anything else is final.
const NOT_YET = new Set([502, 503, 504]);

// GET path with no Accept-Encoding (like wrk), one fresh connection.
export function fetchOnce(port, path, { tls = null, timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const opts = { host: HOST, port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'keel-bench-check' } };
    const get = tls ? (o, cb) => https.get({ ...o, ca: tls.ca }, cb) : http.get;
    const req = get(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

function show(body) {
  const text = body.subarray(0, 120).toString('latin1').replace(/\s+/g, ' ').trim();
  return `${body.length} bytes${text ? `: "${text}${body.length > 120 ? '…' : ''}"` : ''}`;
}

// expect: { body: Buffer } — status 200, no Content-Encoding, exactly these bytes.
// Resolves to a one-line note; throws Error with what came back instead.
export async function checkResponse(port, path, expect, { tls = null, waitMs = 15_000 } = {}) {
  const deadline = Date.now() + waitMs;
  let r;
  for (;;) {
    r = await fetchOnce(port, path, { tls });
    const retry = r.error || NOT_YET.has(r.status);
    if (!retry || Date.now() >= deadline) break;
    await sleep(250);
  }
  const what = `GET ${path}`;
  if (r.error) throw new Error(`${what}: ${r.error}`);
  if (r.status !== 200) throw new Error(`${what} answered HTTP ${r.status} (${show(r.body)}), not 200`);
  if (r.headers['content-encoding']) throw new Error(`${what} answered Content-Encoding: ${r.headers['content-encoding']} to a request without Accept-Encoding`);
  if (!r.body.equals(expect.body)) {
    throw new Error(`${what} answered 200 with ${show(r.body)}, expected ${show(expect.body)}`);
  }
  return `checked: ${what} -> 200, ${r.body.length} bytes as expected`;
}
