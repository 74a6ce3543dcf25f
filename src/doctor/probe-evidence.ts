/**
 * What `keel doctor --url` saw, gathered once and handed to every family of probes: the answers to
 * a bounded set of GET requests, keyed by path. Families read it; only probe.ts fills it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Finding } from './finding.js';

/** One answer the server gave, with its body cut at a bound. */
export interface ProbeResponse {
  /** The full URL requested, as reported in a finding's `where`. */
  readonly url: string;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8, at most the client's bound; empty for headers-only requests. */
  readonly body: string;
}

/** A GET a family wants sent to the probed origin, beside the ones every run makes. */
export interface ProbePath {
  /** Sent as-is after the origin: may be malformed on purpose (`/%`). */
  readonly path: string;
  /** Resolve on the response head and drop the connection: for endless streams (SSE). */
  readonly headersOnly?: boolean;
}

export interface Evidence {
  /** The URL the user passed. */
  readonly given: URL;
  /** Origin everything else was asked of: the given one, or where it redirected on the same host. */
  readonly origin: URL;
  /** The answers to the given URL, redirect by redirect (same host only), last one first-class. */
  readonly chain: readonly ProbeResponse[];
  /** The last answer of `chain`: the page a visitor ends up on. */
  readonly landing: ProbeResponse;
  /** A path that cannot exist: what this server answers for anything unknown. */
  readonly notFound: ProbeResponse | null;
  /** Per-request timeout, for families that open their own connections (TLS). */
  readonly timeoutMs: number;
  /** Answers to the families' extra paths; null when that request failed or timed out. */
  response(path: string): ProbeResponse | null;
  /** Every answer received, the chain first: for checks that look at all pages. */
  all(): readonly ProbeResponse[];
}

/** One family of probes: the paths it needs fetched, and what it makes of the evidence. */
export interface ProbeFamily {
  readonly paths?: readonly ProbePath[];
  check(evidence: Evidence): Finding[] | Promise<Finding[]>;
}

/** A single header's value (first of a repeated one), or undefined. */
export function headerOf(response: ProbeResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'", '#x27': "'", '#34': '"', '#x2F': '/', '#47': '/' };

/**
 * A body as a person would read it: tags dropped (line breaks kept where `<br>` was), common
 * entities decoded, so a stack trace inside HTML matches the same patterns as a plain-text one.
 */
export function readableText(body: string): string {
  return body
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x?[0-9a-fA-F]+|[a-z]+);/g, (whole, name: string) => {
      const known = ENTITIES[name];
      if (known !== undefined) return known;
      if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16) || 32);
      if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10) || 32);
      return whole;
    });
}
