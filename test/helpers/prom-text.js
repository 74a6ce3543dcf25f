// A small reader of the Prometheus text format, for tests: enough to find a sample by name and labels.
import { request } from 'undici';

/** Parses exposition text into [{ name, labels, value }] (comments skipped). */
export function parseProm(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Every sample of `name` whose labels include `where`. */
export function samplesOf(samples, name, where = {}) {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === String(v)));
}

/** The sum of the samples of `name` whose labels include `where` (0 when none). */
export function sumOf(samples, name, where = {}) {
  return samplesOf(samples, name, where).reduce((total, s) => total + s.value, 0);
}

/** GET /metrics from a keel handle (or admin URL): parsed samples. */
export async function scrape(adminUrl, headers = {}) {
  const res = await request(`${adminUrl}/metrics`, { headers });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${text}`);
  return parseProm(text);
}
