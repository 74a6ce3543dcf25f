/**
 * The live status page on the admin listener: `/` serves the page, `/status.js` and `/status.css`
 * its script and style sheet, and `/events` streams the StatusSnapshot over Server-Sent Events
 * once a second. The page holds no data itself; everything it shows arrives on the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createEventStreams, type EventStreamOptions } from './status-events.js';
import { loadStatusPageAssets, sendAsset } from './status-page-assets.js';
import type { StatusSnapshot } from './status-snapshot.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Everything here is read-only: other methods get 405 before any handler runs. */
function readOnly(handler: Handler): Handler {
  return (req, res) => {
    if (req.method === 'GET' || req.method === 'HEAD') return handler(req, res);
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
    res.end();
  };
}

export interface StatusPage {
  /** GET / */
  readonly page: Handler;
  /** GET /status.js: holds no data, so it needs no token. */
  readonly script: Handler;
  /** GET /status.css: holds no data, so it needs no token. */
  readonly styles: Handler;
  /** GET /events: text/event-stream, one `data:` snapshot per second until the client leaves. */
  readonly events: Handler;
  /** Ends every open stream (the admin listener is closing). Idempotent. */
  readonly close: () => void;
}

/**
 * Reads the page's files (once, now) and returns the handlers the admin listener routes to.
 * @example
 * const statusPage = createStatusPage(() => telemetry.snapshot());
 * if (path === '/') return statusPage.page(req, res);
 */
export function createStatusPage(snapshot: () => StatusSnapshot, options: EventStreamOptions = {}): StatusPage {
  const assets = loadStatusPageAssets();
  const streams = createEventStreams(snapshot, options);
  return {
    page: readOnly((req, res) => sendAsset(assets.page, req, res)),
    script: readOnly((req, res) => sendAsset(assets.script, req, res)),
    styles: readOnly((req, res) => sendAsset(assets.styles, req, res)),
    events: readOnly(streams.open),
    close: () => streams.close(),
  };
}
