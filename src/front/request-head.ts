/**
 * One pass over the request's raw header list: enforces Gunicorn's limits (request line 414, field
 * count and size 431) and picks out the few headers keel itself reads. Going through rawHeaders
 * instead of req.headers spares Node building the headers object for apps that never look.
 */
import type { IncomingMessage } from 'node:http';
import type { ResolvedConfig } from '../config/resolve.js';

const MAX_REQUEST_LINE = 65_535;

/** What keel reads from a request's head. Multiple values of one field are joined with ", ". */
export interface RequestHead {
  /** 0, or the status to refuse the request with. */
  refusal: number;
  forwardedFor: string | undefined;
  forwardedProto: string | undefined;
  forwarded: string | undefined;
  requestId: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  userAgent: string;
  referrer: string;
  /** Host, or HTTP/2's :authority. */
  host: string | undefined;
}

/** Node's parser limit for the whole head, derived from the per-line limits (at least Nginx's 32 KiB). */
export function maxHeaderSize(config: ResolvedConfig): number {
  const line = config.limitRequestLine || MAX_REQUEST_LINE;
  return Math.max(32 * 1024, line + config.limitRequestFieldSize + 1024);
}

function join(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

export function createHeadReader(config: ResolvedConfig) {
  const maxLine = config.limitRequestLine || MAX_REQUEST_LINE;
  const maxFields = config.limitRequestFields;
  const maxField = config.limitRequestFieldSize;

  return function readRequestHead(req: IncomingMessage): RequestHead {
    const head: RequestHead = {
      refusal: 0,
      forwardedFor: undefined,
      forwardedProto: undefined,
      forwarded: undefined,
      requestId: undefined,
      contentLength: undefined,
      transferEncoding: undefined,
      userAgent: '',
      referrer: '',
      host: undefined,
    };
    // "METHOD SP URL SP HTTP/x.y"
    if (req.method!.length + req.url!.length + 10 > maxLine) {
      head.refusal = 414;
      return head;
    }
    const raw = req.rawHeaders;
    if (raw.length > maxFields * 2) {
      head.refusal = 431;
      return head;
    }
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const value = raw[i + 1];
      // Counted as Gunicorn counts it: the whole field line, "name: value" and its CRLF.
      if (name.length + value.length + 4 > maxField) {
        head.refusal = 431;
        return head;
      }
      // Compare by length first, so most fields cost one integer switch and no lower-casing.
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === 'host') head.host = value;
          break;
        case 7:
          if (name.toLowerCase() === 'referer') head.referrer = value;
          break;
        case 9:
          if (name.toLowerCase() === 'forwarded') head.forwarded = join(head.forwarded, value);
          break;
        case 10:
          if (name === ':authority') head.host = value;
          else if (name.toLowerCase() === 'user-agent') head.userAgent = value;
          break;
        case 12:
          if (name.toLowerCase() === 'x-request-id') head.requestId = value;
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') head.contentLength = value;
          break;
        case 15:
          if (name.toLowerCase() === 'x-forwarded-for') head.forwardedFor = join(head.forwardedFor, value);
          break;
        case 17: {
          const lower = name.toLowerCase();
          if (lower === 'x-forwarded-proto') head.forwardedProto = join(head.forwardedProto, value);
          else if (lower === 'transfer-encoding') head.transferEncoding = join(head.transferEncoding, value);
          break;
        }
      }
    }
    return head;
  };
}
