// A real origin for the cache revalidation tests: a node:http server in the test process (behind a
// keel --proxy route) that serves resources the test defines and changes, records every request
// with its conditional headers, and answers 304 when If-None-Match (or, without it,
// If-Modified-Since) matches, as an origin that supports validation does (RFC 9110 §13).
import { startUpstream } from './upstreams.js';

/**
 * Starts the origin. `origin.set(path, { body, cc, etag, lm, delay })` defines or changes the
 * resource at a path (etag with its quotes; lm an HTTP-date; delay in ms before answering);
 * `origin.requests(path)` lists what reached it for that path: { inm, ims, status } each.
 */
export async function startRevalidatingOrigin() {
  const resources = new Map();
  const seen = [];
  const upstream = await startUpstream('origin', (req, res) => {
    const path = req.url.split('?')[0];
    const r = resources.get(path);
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    if (r === undefined) {
      seen.push({ path, inm, ims, status: 404 });
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such resource');
      return;
    }
    const headers = { 'content-type': 'text/plain', 'x-origin-body': r.body.length };
    if (r.cc !== undefined) headers['cache-control'] = r.cc;
    if (r.etag !== undefined) headers.etag = r.etag;
    if (r.lm !== undefined) headers['last-modified'] = r.lm;
    let notModified = false;
    if (inm !== undefined) notModified = r.etag !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === r.etag.replace(/^W\//, ''));
    else if (ims !== undefined && r.lm !== undefined) notModified = Date.parse(r.lm) <= Date.parse(ims);
    const status = notModified ? 304 : 200;
    seen.push({ path, inm, ims, status });
    const send = () => {
      if (notModified) {
        delete headers['x-origin-body'];
        res.writeHead(304, headers);
        res.end();
      } else {
        res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(r.body) });
        res.end(r.body);
      }
    };
    if (r.delay > 0) setTimeout(send, r.delay);
    else send();
  });
  return {
    url: upstream.url,
    set(path, resource) {
      resources.set(path, { delay: 0, ...resources.get(path), ...resource });
    },
    requests(path) {
      return seen.filter((s) => s.path === path);
    },
    close: () => upstream.close(),
  };
}
