/**
 * `keel doctor --url`: probes a running server from outside, as a stranger would, and reports
 * what it gives away. One file per family of probes beside this one; this module only gathers the
 * evidence they share (a bounded set of GETs) and runs them.
 */
import { randomBytes } from 'node:crypto';
import { keelError } from '../errors.js';
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily, ProbePath, ProbeResponse } from './probe-evidence.js';
import { headerOf } from './probe-evidence.js';
import { ProbeRequestError, probeGet } from './probe-request.js';
import { debuggerProbes } from './probe-debugger.js';
import { devServerProbes } from './probe-dev-servers.js';
import { exposedFileProbes } from './probe-exposed-files.js';
import { headerProbes } from './probe-headers.js';
import { stackTraceProbes } from './probe-stack-traces.js';
import { tlsProbes } from './probe-tls.js';
import { transportProbes } from './probe-transport.js';

export interface ProbeOptions {
  /** Per-request timeout in ms. */
  readonly timeoutMs: number;
  /** Sent with every request, so the server's operators can tell the probe from an attack: `keel-doctor/0.1.0`. */
  readonly userAgent: string;
}

/** Every family, in the order their findings are reported: worst kinds of leak first. */
const FAMILIES: readonly ProbeFamily[] = [
  devServerProbes,
  debuggerProbes,
  stackTraceProbes,
  exposedFileProbes,
  tlsProbes,
  transportProbes,
  headerProbes,
];

/** Redirects followed for the given URL, on its own host only. */
const MAX_REDIRECTS = 3;
/** Requests in flight at once: polite to the server, quick enough over a slow link. */
const CONCURRENCY = 4;

/**
 * Probes `url` read-only (GET only, at most thirteen requests and three TLS handshakes, each bounded by `timeoutMs`) and
 * returns what it found. Throws KEEL_ERR_USAGE for a URL that is not http(s) or gets no answer.
 *
 * @example
 *   const findings = await probeUrl('https://example.com', { timeoutMs: 5000 });
 */
export async function probeUrl(url: string, options: ProbeOptions): Promise<Finding[]> {
  const given = parseTarget(url);
  const requestOptions = { timeoutMs: options.timeoutMs, userAgent: options.userAgent };

  const chain = await followOnSameHost(given, requestOptions);
  const landing = chain[chain.length - 1];
  const origin = new URL(landing.url);

  // One unique path per run, so no cache or earlier run can answer it.
  const unknownPath = `/keel-doctor-${randomBytes(6).toString('hex')}`;
  const wanted = new Map<string, ProbePath>([[unknownPath, { path: unknownPath }]]);
  for (const family of FAMILIES) for (const p of family.paths ?? []) if (!wanted.has(p.path)) wanted.set(p.path, p);

  const answers = new Map<string, ProbeResponse | null>();
  const queue = [...wanted.values()];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { path, headersOnly } = next;
      answers.set(path, await probeGet(origin, path, { ...requestOptions, headersOnly }).catch(() => null));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  const notFound = answers.get(unknownPath) ?? null;
  const everything = [...chain, ...[...answers.values()].filter((a): a is ProbeResponse => a !== null)];
  const evidence: Evidence = {
    given,
    origin,
    chain,
    landing,
    notFound,
    timeoutMs: options.timeoutMs,
    response: (path) => answers.get(path) ?? null,
    all: () => everything,
  };

  const findings: Finding[] = [];
  // Families report each problem once.
  for (const family of FAMILIES) {
    findings.push(...(await family.check(evidence)));
  }
  return findings;
}

function usage(text: string): never {
  throw keelError('KEEL_ERR_USAGE', { text: `--url: ${text}` });
}

function parseTarget(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    usage(`${JSON.stringify(url)} is not a URL; expected http://HOST[:PORT][/PATH] or https://HOST[:PORT][/PATH]`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    usage(`${JSON.stringify(url)} is not an http:// or https:// URL`);
  }
  parsed.hash = '';
  return parsed;
}

/**
 * GETs the given URL and follows its redirects while they stay on the same host name (an
 * http → https upgrade included), so the probes look at what a visitor lands on. A redirect to
 * another host ends the chain there: doctor probes the server it was pointed at, nothing else.
 */
async function followOnSameHost(given: URL, options: { timeoutMs: number; userAgent: string }): Promise<ProbeResponse[]> {
  const chain: ProbeResponse[] = [];
  let current = given;
  for (;;) {
    let answer: ProbeResponse;
    try {
      answer = await probeGet(current, `${current.pathname}${current.search}`, options);
    } catch (err) {
      if (!(err instanceof ProbeRequestError)) throw err;
      // The given URL itself must answer; a redirect target that does not is reported by the chain's end.
      if (chain.length === 0) usage(`cannot probe ${err.url}: ${err.reason}`);
      break;
    }
    chain.push(answer);
    const location = headerOf(answer, 'location');
    if (answer.status < 300 || answer.status > 399 || !location || chain.length > MAX_REDIRECTS) break;
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      break;
    }
    if (next.hostname !== given.hostname || (next.protocol !== 'http:' && next.protocol !== 'https:')) break;
    current = next;
  }
  return chain;
}
