// Requests over a connection of their own, for tests that care which worker answers.
import { Client } from 'undici';

/** One request on a connection of its own (so the primary hands it to a worker afresh). */
export async function getFresh(url, headers = {}, timeout = 10_000) {
  const target = new URL(url);
  const client = new Client(target.origin);
  try {
    const res = await client.request({ path: target.pathname + target.search, method: 'GET', headers, headersTimeout: timeout, bodyTimeout: timeout });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  } finally {
    await client.destroy().catch(() => {});
  }
}
