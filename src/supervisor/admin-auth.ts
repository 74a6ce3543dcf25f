/**
 * --admin-token: the status page, its event stream and /metrics answer only a request that
 * carries the token, as `Authorization: Bearer TOKEN` (scrapers) or `?token=TOKEN` (the browser
 * page and EventSource, which cannot set headers). Compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Hashing first makes both sides the same length, so the comparison leaks neither content nor length. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function presentedToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth !== undefined && /^bearer /i.test(auth)) return auth.slice(7).trim();
  const url = req.url ?? '';
  const query = url.indexOf('?');
  if (query < 0) return null;
  return new URLSearchParams(url.slice(query + 1)).get('token');
}

/**
 * Returns a guard that answers 401 (with WWW-Authenticate: Bearer) and returns false when the
 * request lacks the token; with no token configured every request passes.
 * @example const allowed = createAdminAuth('s3cret-token-1234'); if (!allowed(req, res)) return;
 */
export function createAdminAuth(token: string | null): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (token === null) return () => true;
  const expected = digest(token);
  return function allowed(req, res) {
    const presented = presentedToken(req);
    if (presented !== null && timingSafeEqual(digest(presented), expected)) return true;
    const body = '{"error":"Unauthorized: send Authorization: Bearer TOKEN or ?token=TOKEN (--admin-token)"}\n';
    res.writeHead(401, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'www-authenticate': 'Bearer realm="keel admin"',
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return false;
  };
}
