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
    const method = req.method!;
    const url = req.url!;
    // "METHOD SP URL SP HTTP/x.y"
    if (method.length + url.length + 10 > maxLine) {
      head.refusal = 414;
      return head;
    }
    // What Node's parser lets through and Gunicorn refuses: an HTTP/1 request line claiming another
    // major version, and a target that is neither a path nor a URL (* only with OPTIONS).
    if (req.httpVersionMajor !== 1 && !isHttp2(req)) {
      head.refusal = 505;
      return head;
    }
    if (url.charCodeAt(0) !== SLASH && !validOtherTarget(method, url)) {
      head.refusal = 400;
      return head;
    }
    const raw = req.rawHeaders;
    if (raw.length > maxFields * 2) {
      head.refusal = 431;
      return head;
    }
    let hosts = 0;
    let contentType: string | undefined;
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
          if (name.toLowerCase() === 'host') {
            head.host = value;
            hosts++;
          }
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
        case 12: {
          const lower = name.toLowerCase();
          if (lower === 'x-request-id') head.requestId = value;
          else if (lower === 'content-type') {
            // Two different media types: which one the app reads is a guess (Gunicorn refuses it).
            if (contentType !== undefined && contentType !== value) head.refusal = 400;
            contentType = value;
          }
          break;
        }
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
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with more than one, is a 400 (checked here,
    // not by Node, whose check builds req.headers for every request and answers a bare 400 that no
    // log sees). §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
    if (req.httpVersionMajor === 1) {
      if (hosts > 1 || (hosts === 0 && req.httpVersionMinor === 1) || (head.transferEncoding !== undefined && req.httpVersionMinor === 0)) head.refusal = 400;
    }
    return head;
  };
}

const SLASH = 0x2f;

/** A target that is not a path: `*` (OPTIONS only) or an absolute URL. CONNECT's authority form never gets here (client-errors.ts refuses it). */
function validOtherTarget(method: string, url: string): boolean {
  return url === '*' ? method === 'OPTIONS' : URL.canParse(url);
}

/** HTTP/2 requests come through Node's compatibility layer, whose request has a stream. */
function isHttp2(req: IncomingMessage): boolean {
  return 'stream' in req;
}
