/**
 * The live status page on the admin listener: `/` serves one self-contained page, `/events` streams
 * the StatusSnapshot over Server-Sent Events once a second.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from './status-snapshot.js';

export interface StatusPage {
  /** GET / */
  readonly page: (req: IncomingMessage, res: ServerResponse) => void;
  /** GET /events: text/event-stream, one `data:` snapshot per second until the client leaves. */
  readonly events: (req: IncomingMessage, res: ServerResponse) => void;
  /** Ends every open stream (the admin listener is closing). */
  readonly close: () => void;
}

export function createStatusPage(snapshot: () => StatusSnapshot): StatusPage {
  return {
    page: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><title>keel</title><p>status page: not built yet</p>');
    },
    events: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.end(`data: ${JSON.stringify(snapshot())}\n\n`);
    },
    close: () => {},
  };
}
