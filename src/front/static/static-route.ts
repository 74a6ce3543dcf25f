/**
 * A --static route: files under a root directory, with Nginx's semantics (see docs/static.md).
 * GET and HEAD; validators and 304/412; single byte ranges (206/416); index.html for directories
 * and a 301 to add the slash; an optional single-page-app fallback; Cache-Control defaults;
 * precompressed `.br`/`.gz` siblings; dotfiles and anything outside the root refused.
 *
 * The hot path: a small file known to the per-worker open-file cache is answered with one
 * writeHead of precomputed headers and one end() of the bytes in memory, no syscall.
 */
import { realpathSync } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResolvedConfig } from '../../config/resolve.js';
import type { StaticRoute } from '../../config/route-types.js';
import type { AdaptedApp } from '../../worker/adapters/types.js';
import { sendErrorPage } from '../error-page.js';
import { codingWeights, pickCoding } from '../accept-encoding.js';
import { parseRange } from './byte-range.js';
import { evaluatePreconditions, hasConditionals, ifRangeHolds } from './conditional.js';
import { FileCache, type FileEntry, type Representation } from './file-cache.js';
import { isGone, streamFile } from './file-stream.js';
import { type SafePath, hasExtension, resolveSafePath, urlOf } from './safe-path.js';
import { redirectToDirectory, sendStaticError } from './static-answers.js';
import { cacheControlOf, contentTypeOf, partialHeaders } from './static-headers.js';

/** How long a cache entry is trusted before the disk is checked again (Nginx open_file_cache_valid). */
const VALID_MS = 1000;
/** Entries per route and worker, missing paths included. */
const MAX_ENTRIES = 10_000;
/** How many times a request looks again at a file that changed under it before giving up. */
const MAX_ATTEMPTS = 3;

const ALLOW: OutgoingHttpHeaders = { allow: 'GET, HEAD' };

/**
 * @example
 *   const handler = createStaticRoute({ kind: 'static', path: '/assets', root: '/srv/public', spa: false, … }, config);
 *   handler.handle(req, res); // GET /assets/app.js → /srv/public/app.js
 */
export function createStaticRoute(route: StaticRoute, config: ResolvedConfig): AdaptedApp {
  const { path: prefix, spa } = route;
  // Start-up: the primary checked the root is a directory; its realpath anchors every check.
  const rootReal = realpathSync(route.root);
  const cache = new FileCache({
    root: route.root,
    rootReal,
    maxFile: config.staticCacheMaxFile,
    maxBytes: config.staticCacheSize,
    maxEntries: MAX_ENTRIES,
    validMs: VALID_MS,
    describe: (key) => ({ type: contentTypeOf(key), cacheControl: cacheControlOf(key, spa) }),
  });

  function lookup(req: IncomingMessage, res: ServerResponse, path: SafePath, attempt: number): Promise<void> | void {
    const key = path.dir ? (path.rel === '' ? 'index.html' : `${path.rel}/index.html`) : path.rel;
    const entry = cache.get(key);
    if (entry instanceof Promise) return entry.then((found) => serveEntry(req, res, path, found, attempt));
    return serveEntry(req, res, path, entry, attempt);
  }

  function serveEntry(req: IncomingMessage, res: ServerResponse, path: SafePath, entry: FileEntry, attempt: number): Promise<void> | void {
    if (entry.kind === 'file') return serveFile(req, res, path, entry, attempt);
    if (entry.kind === 'dir') {
      if (!path.dir) return redirectToDirectory(req, res, urlOf(prefix, path.rel, true) + path.query);
      // `dir/index.html` is itself a directory: no listing.
      return sendErrorPage(req, res, 404, req.keel?.id ?? '-');
    }
    if (entry.kind === 'denied') return sendErrorPage(req, res, 403, req.keel?.id ?? '-');
    // Missing. A single-page app answers its index.html for paths that look like its own routes
    // (no extension); a missing asset stays a 404, so a broken <script src> is not fed HTML.
    if (spa && !hasExtension(path.rel)) {
      const index = cache.get('index.html');
      if (index instanceof Promise) return index.then((found) => serveFallback(req, res, path, found, attempt));
      return serveFallback(req, res, path, index, attempt);
    }
    return sendErrorPage(req, res, 404, req.keel?.id ?? '-');
  }

  function serveFallback(req: IncomingMessage, res: ServerResponse, path: SafePath, index: FileEntry, attempt: number): void {
    if (index.kind === 'file') serveFile(req, res, path, index, attempt);
    else sendErrorPage(req, res, 404, req.keel?.id ?? '-');
  }

  function serveFile(req: IncomingMessage, res: ServerResponse, path: SafePath, entry: FileEntry, attempt: number): void {
    const h = req.headers;
    let rep = entry.identity!;
    if (entry.br !== null || entry.gzip !== null) {
      const coding = pickCoding(codingWeights(h['accept-encoding']), entry.br !== null, entry.gzip !== null);
      if (coding === 'br') rep = entry.br!;
      else if (coding === 'gzip') rep = entry.gzip!;
    }
    if (hasConditionals(h)) {
      const outcome = evaluatePreconditions(h, rep);
      if (outcome === 304) {
        res.writeHead(304, rep.notModified);
        res.end();
        return;
      }
      if (outcome === 412) return sendStaticError(req, res, 412);
    }
    if (req.method === 'HEAD') {
      // Range is defined for GET only (RFC 9110 §14.2): HEAD describes the whole representation.
      res.writeHead(200, rep.full);
      res.end();
      return;
    }
    const range = h.range;
    if (range !== undefined && ifRangeHolds(h['if-range'] as string | undefined, rep)) {
      // On a precompressed variant the range counts the variant's bytes, as Nginx's gzip_static
      // does: Content-Encoding is part of the representation, and so are its ETag and length.
      const wanted = parseRange(range, rep.size);
      if (wanted === 'unsatisfiable') return sendStaticError(req, res, 416, { 'content-range': `bytes */${rep.size}` });
      if (wanted !== 'ignore') return sendBytes(req, res, path, entry, rep, 206, partialHeaders(rep.facts, wanted.start, wanted.end), wanted.start, wanted.end, attempt);
    }
    sendBytes(req, res, path, entry, rep, 200, rep.full, 0, rep.size - 1, attempt);
  }

  function sendBytes(
    req: IncomingMessage,
    res: ServerResponse,
    path: SafePath,
    entry: FileEntry,
    rep: Representation,
    status: number,
    headers: OutgoingHttpHeaders,
    start: number,
    end: number,
    attempt: number,
  ): void {
    const body = rep.body;
    if (body !== null) {
      res.writeHead(status, headers);
      res.end(start === 0 && end === body.length - 1 ? body : body.subarray(start, end + 1));
      return;
    }
    streamFile(res, rep, status, headers, start, end, (reason) => {
      if (res.headersSent || isGone(res)) return;
      // The file changed since it was described: describe it again and retry, a bounded number of times.
      cache.invalidate(entry.key);
      if (reason === 'changed' && attempt + 1 < MAX_ATTEMPTS) {
        const retried = lookup(req, res, path, attempt + 1);
        if (retried) retried.catch(() => sendErrorPage(req, res, 500, req.keel?.id ?? '-'));
        return;
      }
      sendErrorPage(req, res, 500, req.keel?.id ?? '-');
    });
  }

  return {
    shape: 'static',
    handle(req, res) {
      const method = req.method;
      if (method !== 'GET' && method !== 'HEAD') return sendStaticError(req, res, 405, ALLOW);
      const path = resolveSafePath(req.url!, prefix);
      if (typeof path === 'number') return sendErrorPage(req, res, path, req.keel?.id ?? '-');
      return lookup(req, res, path, 0);
    },
  };
}
