/**
 * The only way `keel doctor --url` talks HTTP: one GET at a time on its own connection, with a
 * deadline, a bounded body, a User-Agent that says who is asking, and no redirects followed (the
 * caller decides). Certificates are not verified here: the TLS family judges them; here we only
 * want to see what the server answers.
 */
import { http } from '../node-http.js';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ProbeResponse } from './probe-evidence.js';

/** Enough for any error page or `.env`; a larger answer is cut, not read to the end. */
const BODY_LIMIT = 256 * 1024;

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly userAgent: string;
  readonly headersOnly?: boolean;
}

/** Why a request got no answer, in words for a `keel: …` line. */
export class ProbeRequestError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'ProbeRequestError';
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPROTO: 'TLS handshake failed (is it plain HTTP? try http://)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS handshake failed (is it plain HTTP? try http://)',
};

function reasonOf(err: NodeJS.ErrnoException): string {
  return (err.code && REASONS[err.code]) ?? err.message;
}

/**
 * GETs `origin` + `path` (the path sent byte for byte, so `/%` stays malformed) and resolves with
 * the answer, or rejects with a ProbeRequestError saying why there was none.
 *
 * @example
 *   const home = await probeGet(new URL('https://example.com'), '/', { timeoutMs: 5000, userAgent: 'keel-doctor/1.0.0' });
 */
export function probeGet(origin: URL, path: string, options: RequestOptions): Promise<ProbeResponse> {
  const url = `${origin.origin}${path}`;
  const secure = origin.protocol === 'https:';
  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new ProbeRequestError(url, reason));
    };
    const timer = setTimeout(() => fail(`no answer within ${options.timeoutMs} ms`), options.timeoutMs);
    const finish = (res: IncomingMessage, chunks: Buffer[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ url, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
    };
    const send = secure ? httpsRequest : http.request;
    req = send({
      host: origin.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: origin.port || (secure ? 443 : 80),
      method: 'GET',
      path,
      headers: { host: origin.host, 'user-agent': options.userAgent, accept: '*/*', connection: 'close' },
      agent: false,
      // SNI must be a name, never an address.
      servername: /^[\d.]+$|:/.test(origin.hostname) ? undefined : origin.hostname,
      rejectUnauthorized: false,
      // A server that speaks only TLS 1.0 still gets probed (and its old TLS reported), not refused here.
      ...(secure ? { minVersion: 'TLSv1' as const, ciphers: 'DEFAULT@SECLEVEL=0' } : {}),
      // Old servers still answer a stranger; we want their answer, not a client-side refusal.
      insecureHTTPParser: true,
    });
    req.on('error', (err: NodeJS.ErrnoException) => fail(reasonOf(err)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      if (options.headersOnly) {
        finish(res, chunks);
        return;
      }
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        const room = BODY_LIMIT - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= BODY_LIMIT) finish(res, chunks);
      });
      res.on('end', () => finish(res, chunks));
      // A reset after the head still leaves us what arrived.
      res.on('error', () => finish(res, chunks));
      res.on('aborted', () => finish(res, chunks));
    });
    req.end();
  });
}
