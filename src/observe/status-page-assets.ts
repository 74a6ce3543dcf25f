/**
 * The status page's three files (HTML, script, style sheet), read once at start-up from
 * `assets/status-page/` and served from memory with their headers computed once. They are plain
 * files rather than strings in TypeScript so they can be read, linted and opened in a browser as
 * they are; tsc does not copy them, so they live beside `dist/`, not in it (package.json "files").
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The page runs no inline code and loads nothing from elsewhere: even a string from the snapshot
 * that slipped into markup could not run. The token travels in the URL, so no referrer leaves.
 */
export const STATUS_PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** One file, ready to send. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly etag: string;
  readonly headers: OutgoingHttpHeaders;
}

const ASSET_DIR = new URL('../../assets/status-page/', import.meta.url);

/**
 * A dashboard is no reason to refuse to serve traffic: if an installation lacks the files (a
 * package built without "assets"), keel starts anyway and the page says what is missing.
 */
function readOrExplain(name: string): Buffer {
  const url = new URL(name, ASSET_DIR);
  try {
    return readFileSync(url);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const path = fileURLToPath(url).replace(/[<>&*]/g, '_');
    if (!name.endsWith('.html')) return Buffer.from(`/* missing from this installation: ${path} */\n`);
    return Buffer.from(`<!doctype html><meta charset="utf-8"><title>keel status</title><p>keel's status page files are missing from this installation: ${path}. <code>/events</code> and <code>/metrics</code> still work.</p>\n`);
  }
}

function loadAsset(name: string, contentType: string, extra: OutgoingHttpHeaders): StaticAsset {
  const body = readOrExplain(name);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  // no-cache, not no-store: the browser revalidates (a 304) and sees a new keel's files at once.
  const headers = { ...COMMON_HEADERS, ...extra, 'content-type': contentType, 'content-length': body.length, etag, 'cache-control': 'no-cache' };
  return { body, etag, headers };
}

/** The page, its script and its style sheet, or a page that names the missing files. */
export function loadStatusPageAssets(): { page: StaticAsset; script: StaticAsset; styles: StaticAsset } {
  return {
    page: loadAsset('index.html', 'text/html; charset=utf-8', { 'content-security-policy': STATUS_PAGE_CSP }),
    script: loadAsset('status.js', 'text/javascript; charset=utf-8', {}),
    styles: loadAsset('status.css', 'text/css; charset=utf-8', {}),
  };
}

/** One asset for a GET or HEAD, or a 304 when the browser already holds it. */
export function sendAsset(asset: StaticAsset, req: IncomingMessage, res: ServerResponse): void {
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { ...COMMON_HEADERS, etag: asset.etag, 'cache-control': 'no-cache' });
    res.end();
    return;
  }
  res.writeHead(200, asset.headers);
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
