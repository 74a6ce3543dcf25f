/**
 * Gunicorn's request limits, checked once the parser has the head: request line (414), number of
 * header fields and size of each (431). The parser's own maxHeaderSize bounds the total first.
 */
import type { IncomingMessage } from 'node:http';
import type { ResolvedConfig } from '../config/resolve.js';

const MAX_REQUEST_LINE = 65_535;

/** Node's parser limit for the whole head, derived from the per-line limits (at least Nginx's 32 KiB). */
export function maxHeaderSize(config: ResolvedConfig): number {
  const line = config.limitRequestLine || MAX_REQUEST_LINE;
  return Math.max(32 * 1024, line + config.limitRequestFieldSize + 1024);
}

export function createHeaderLimits(config: ResolvedConfig) {
  const maxLine = config.limitRequestLine || MAX_REQUEST_LINE;
  const maxFields = config.limitRequestFields;
  const maxField = config.limitRequestFieldSize;
  /** Returns the status to refuse the request with, or 0. */
  return function checkHeaderLimits(req: IncomingMessage): number {
    // "METHOD SP URL SP HTTP/x.y"
    if (req.method!.length + req.url!.length + 10 > maxLine) return 414;
    const raw = req.rawHeaders;
    if (raw.length > maxFields * 2) return 431;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length + raw[i + 1].length + 2 > maxField) return 431;
    }
    return 0;
  };
}
