/**
 * From a raw request target to a path relative to a static root that cannot leave it, or a refusal.
 * The route handler does this itself from req.url, not from the router's normalised path, so it
 * stays safe whoever calls it.
 *
 * The rules, strictest first:
 * - The path is percent-decoded exactly once. A malformed escape, invalid or overlong UTF-8
 *   (`%c0%ae`) or a NUL byte (`%00`) answers 400.
 * - An encoded slash or backslash (`%2f`, `%5c`) anywhere in the raw path, a backslash after
 *   decoding, and anything that still looks like an escape of `.`, `/`, `\` or NUL after the one
 *   decoding (`%252e` became `%2e`) answer 404: nothing would ever be served at such a path.
 * - Empty segments (`//`) are merged, as Nginx's merge_slashes does.
 * - A segment starting with `.` answers 404: `..`, `.`, `..;`, and dotfiles (`.env`, `.git/`), so
 *   their existence is never revealed. `.well-known` as the first segment is the exception (ACME
 *   challenges, security.txt); dotfiles below it are still refused.
 *
 * Symlinks are the file cache's business (realpath must stay under the root's realpath).
 */

/** A safe relative path: segments joined by `/`, no leading or trailing slash, '' for the root. */
export interface SafePath {
  readonly rel: string;
  /** The URL ended with `/`: a directory was asked for. */
  readonly dir: boolean;
  /** The query string with its `?`, or ''. Kept for redirects. */
  readonly query: string;
}

/** 400: the path cannot be decoded (bad escape, bad UTF-8, NUL). 404: a path nothing is served at. */
export type PathRefusal = 400 | 404;

// Fast-path test: none of these means nothing needs decoding or checking segment by segment.
const NEEDS_CARE = /%|\\|\/\.|\/\//;
// In the raw path: encoded slash or backslash, which must never become a separator.
const ENCODED_SEPARATOR = /%(2f|5c)/i;
// After the one decoding: what a second decoding would turn into a dot, separator or NUL.
const STILL_ENCODED = /%(2e|2f|5c|00)/i;

/**
 * @example
 *   resolveSafePath('/assets/js/app.js?v=1', '/assets') // { rel: 'js/app.js', dir: false, query: '?v=1' }
 *   resolveSafePath('/assets/%2e%2e/secret', '/assets') // 404
 *   resolveSafePath('/assets/a%00.js', '/assets')       // 400
 */
export function resolveSafePath(url: string, prefix: string): SafePath | PathRefusal {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  // Skip the prefix ('/' takes everything); what is left starts with '/' or is empty.
  const start = prefix === '/' ? 0 : prefix.length;
  // Origin-form only: `*` and absolute-form targets name no file.
  if (path.charCodeAt(0) !== 47) return 400;
  if (!NEEDS_CARE.test(path)) {
    if (start > 0 && (!path.startsWith(prefix) || (path.length > start && path.charCodeAt(start) !== 47))) return 404;
    const dir = path.length > start && path.charCodeAt(path.length - 1) === 47;
    const rel = path.slice(start + 1, dir ? path.length - 1 : path.length);
    return { rel, dir, query };
  }
  return carefulPath(path, prefix, start, query);
}

function carefulPath(path: string, prefix: string, start: number, query: string): SafePath | PathRefusal {
  if (ENCODED_SEPARATOR.test(path)) return 404;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 400;
  }
  if (decoded.includes('\0')) return 400;
  if (decoded.includes('\\') || STILL_ENCODED.test(decoded)) return 404;
  // The prefix is plain ASCII (the config refuses escapes in it), so the decoded path must carry it.
  if (start > 0 && (!decoded.startsWith(prefix) || (decoded.length > start && decoded.charCodeAt(start) !== 47))) return 404;
  const segments = decoded.slice(start).split('/');
  const kept: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '') continue;
    if (segment.charCodeAt(0) === 46 /* . */ && !(kept.length === 0 && segment === '.well-known')) return 404;
    kept.push(segment);
  }
  return { rel: kept.join('/'), dir: decoded.length > start && decoded.endsWith('/'), query };
}

/** Whether the last segment of a relative path has an extension (`app.js`), as an asset would. */
export function hasExtension(rel: string): boolean {
  const slash = rel.lastIndexOf('/');
  return rel.indexOf('.', slash + 1) > slash + 1;
}

/** The URL of a relative path under a prefix, each segment escaped again: for Location headers. */
export function urlOf(prefix: string, rel: string, dir: boolean): string {
  const base = prefix === '/' ? '' : prefix;
  const tail = rel === '' ? '' : `/${rel.split('/').map(encodeURIComponent).join('/')}`;
  return `${base}${tail}${dir ? '/' : ''}`;
}
