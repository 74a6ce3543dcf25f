/**
 * The tee: records what a route or the app sends while it goes on to the client, so a miss costs the
 * client no delay. It replaces writeHead/write/end on the one response (after the compression stage
 * did the same, so it sees the uncompressed body) with shared functions that find their state on the
 * response itself: no closures per request.
 *
 * The owner decides at the head whether to keep recording (cacheable status and headers) and whether
 * the client gets the body at all: a HEAD sent on as a GET, or a 304 for the client's conditional
 * while the full 200 is recorded, as Nginx does for a cache miss.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

const kCapture = Symbol('keel.cacheCapture');

export type HeaderMap = Record<string, string | string[] | number>;

export interface CaptureOwner {
  /** The head is known (capture.status, capture.headers): call capture.stop() to record nothing more. */
  onHead(capture: Capture): void;
  /** The app ended the response with everything recorded. */
  onComplete(capture: Capture): void;
  /** The body outgrew the per-entry bound: recording stopped. */
  onAbandon(capture: Capture): void;
}

type Fn = (...args: any[]) => any;

export interface Replacement {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  /** null for a HEAD request. */
  readonly body: Buffer | null;
}

/** Drops what the app had set with setHeader: the replacement's head is complete by itself. */
function clearHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
}
type Captured = ServerResponse & { [kCapture]?: Capture };

export class Capture {
  status = 0;
  headers: HeaderMap = {};
  chunks: Buffer[] = [];
  size = 0;
  recording = true;
  headSeen = false;
  /** The client gets the head only (HEAD turned into GET, or a 304). */
  swallow: boolean;
  /** Send 304 instead of the status the app chose. */
  notModified = false;
  /** Send this instead of what the app sends (a stale copy standing in for an error, stale-if-error). */
  replacement: Replacement | null = null;
  /** Epoch ms when the head was written. */
  responseTime = 0;
  /** The X-Cache value, set again at the head if something (an error page) cleared the headers; '' for none. */
  xCache = '';
  readonly origWriteHead: Fn;
  readonly origWrite: Fn;
  readonly origEnd: Fn;

  constructor(
    readonly res: ServerResponse,
    readonly owner: CaptureOwner,
    readonly limit: number,
    swallow: boolean,
  ) {
    this.swallow = swallow;
    this.origWriteHead = res.writeHead;
    this.origWrite = res.write;
    this.origEnd = res.end;
  }

  stop(): void {
    this.recording = false;
    this.chunks = [];
    this.size = 0;
  }

  add(chunk: unknown, encoding: unknown): void {
    let buf: Buffer;
    if (typeof chunk === 'string') buf = Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (Buffer.isBuffer(chunk)) buf = chunk;
    else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else return;
    if (buf.length === 0) return;
    this.size += buf.length;
    if (this.size > this.limit) {
      this.stop();
      this.owner.onAbandon(this);
      return;
    }
    this.chunks.push(buf);
  }

  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
  }
}

/** Starts recording `res`. */
export function captureResponse(res: ServerResponse, owner: CaptureOwner, limit: number, swallow: boolean): Capture {
  const capture = new Capture(res, owner, limit, swallow);
  (res as Captured)[kCapture] = capture;
  res.writeHead = captureWriteHead as ServerResponse['writeHead'];
  res.write = captureWrite as ServerResponse['write'];
  res.end = captureEnd as ServerResponse['end'];
  return capture;
}

/** The capture on a response, if any (for its close listener). */
export function captureOf(res: ServerResponse): Capture | undefined {
  return (res as Captured)[kCapture];
}

function addHeader(out: HeaderMap, name: unknown, value: unknown): void {
  if (value === undefined || value === null) return;
  const key = String(name).toLowerCase();
  const v = Array.isArray(value) ? value.map(String) : typeof value === 'number' ? value : String(value);
  const old = out[key];
  if (old === undefined) out[key] = v;
  else out[key] = [...(Array.isArray(old) ? old : [String(old)]), ...(Array.isArray(v) ? v : [String(v)])];
}

/** The headers the client will get: those set with setHeader plus those given to writeHead, in any of its forms. */
function headOf(res: ServerResponse, given: OutgoingHttpHeaders | readonly unknown[] | undefined): HeaderMap {
  const out: HeaderMap = { ...(res.getHeaders() as HeaderMap) };
  if (given === undefined || given === null) return out;
  if (Array.isArray(given)) {
    if (given.length > 0 && Array.isArray(given[0])) for (const pair of given as unknown[][]) addHeader(out, pair[0], pair[1]);
    else for (let i = 0; i + 1 < given.length; i += 2) addHeader(out, given[i], given[i + 1]);
  } else {
    for (const name in given) {
      const value = (given as OutgoingHttpHeaders)[name];
      if (value !== undefined) out[name.toLowerCase()] = value as string | string[] | number;
    }
  }
  return out;
}

function seeHead(capture: Capture, status: number, headers: HeaderMap): void {
  if (capture.xCache !== '' && !capture.res.hasHeader('x-cache')) capture.res.setHeader('x-cache', capture.xCache);
  capture.headSeen = true;
  capture.status = status;
  capture.headers = headers;
  capture.responseTime = Date.now();
  capture.owner.onHead(capture);
}

/** write() or end() before writeHead(): the head is what setHeader and statusCode say. */
function implicitHead(res: ServerResponse, capture: Capture): void {
  seeHead(capture, res.statusCode, headOf(res, undefined));
  const replacement = capture.replacement;
  if (replacement !== null) {
    clearHeaders(res);
    res.statusCode = replacement.status;
    for (const name in replacement.headers) res.setHeader(name, replacement.headers[name]!);
    return;
  }
  if (!capture.notModified) return;
  res.statusCode = 304;
  if (res.hasHeader('content-length')) res.removeHeader('content-length');
}

function captureWriteHead(this: Captured, statusCode: number, reasonOrHeaders?: unknown, headers?: unknown): unknown {
  const capture = this[kCapture]!;
  if (capture.headSeen) return capture.origWriteHead.apply(this, arguments as unknown as unknown[]);
  const hasReason = typeof reasonOrHeaders === 'string';
  seeHead(capture, statusCode, headOf(this, (hasReason ? headers : reasonOrHeaders) as OutgoingHttpHeaders | undefined));
  if (capture.replacement !== null) {
    clearHeaders(this);
    return capture.origWriteHead.call(this, capture.replacement.status, capture.replacement.headers);
  }
  if (!capture.notModified) return capture.origWriteHead.apply(this, arguments as unknown as unknown[]);
  // A 304 carries no body, so no length of one; the app's reason phrase belongs to its status.
  if (this.hasHeader('content-length')) this.removeHeader('content-length');
  return capture.origWriteHead.call(this, 304, withoutLength(capture.headers));
}

function withoutLength(headers: HeaderMap): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (name !== 'content-length' && name !== 'transfer-encoding') out[name] = headers[name];
  return out;
}

function captureWrite(this: Captured, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const capture = this[kCapture]!;
  if (!capture.headSeen) implicitHead(this, capture);
  if (capture.recording) capture.add(chunk, encoding);
  if (!capture.swallow) return capture.origWrite.apply(this, arguments as unknown as unknown[]) as boolean;
  const done = typeof encoding === 'function' ? encoding : cb;
  if (typeof done === 'function') process.nextTick(done as () => void);
  return true;
}

function captureEnd(this: Captured, chunk?: unknown, encoding?: unknown, cb?: unknown): unknown {
  const capture = this[kCapture]!;
  if (typeof chunk === 'function') {
    cb = chunk;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  if (!capture.headSeen) implicitHead(this, capture);
  if (capture.recording) {
    if (chunk !== undefined && chunk !== null) capture.add(chunk, encoding);
    if (capture.recording) {
      capture.recording = false;
      capture.owner.onComplete(capture);
    }
  }
  const replacing = capture.replacement?.body;
  if (replacing) {
    // HTTP/2's end() writes its chunk through this.write, which swallows here: the real one takes it.
    this.write = capture.origWrite as ServerResponse['write'];
    return cb === undefined ? capture.origEnd.call(this, replacing) : capture.origEnd.call(this, replacing, cb);
  }
  if (capture.swallow || chunk === undefined || chunk === null) return cb === undefined ? capture.origEnd.call(this) : capture.origEnd.call(this, cb);
  return capture.origEnd.call(this, chunk, encoding, cb);
}
