// Requests for the response-cache tests, against the fixture test/fixtures/cache-app.js.
import { request } from 'undici';

/** A request through keel: status, headers and the body as text and JSON (when it is JSON). */
export async function fetchVia(base, path, { method = 'GET', headers = {} } = {}) {
  const res = await request(`${base}${path}`, { method, headers });
  const text = await res.body.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** How many times the fixture app was called for `path`, across workers (and keels sharing its file). */
export async function appCalls(base, path) {
  const res = await request(`${base}/count?path=${encodeURIComponent(path)}`, { headers: { 'cache-control': 'no-store' } });
  return Number(await res.body.text());
}
