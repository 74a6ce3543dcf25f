/**
 * On-the-fly compression (gzip and brotli), Nginx's gzip filter for every app shape, the static
 * and proxy routes and cache hits alike.
 *
 * Per request it only looks for an Accept-Encoding header: a client that sends none gets nothing
 * installed (health checks, load tools, curl without --compressed pay one scan of the raw header
 * list). Otherwise it replaces the response's writeHead/write/end with shared functions (no
 * per-request closures) and decides once, when the head goes out: explicitly through writeHead,
 * or implicitly on the first write or the end, which Node and Node's HTTP/2 compatibility layer
 * both funnel through this.writeHead. The decision (see `decide`) follows Nginx's gzip filter:
 * compressible type, long enough, not already encoded, not a range, not no-transform, and then
 * Content-Encoding set, Content-Length and Accept-Ranges dropped, a strong ETag weakened, Vary
 * extended. The body then streams through a zlib stream with backpressure both ways.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import type { ResolvedConfig } from '../config/resolve.js';
import { type Encoding, encodingFor, findAcceptEncoding } from './accept-encoding.js';
import { isCompressibleType } from './compressible-type.js';
import { isEventStream } from './event-stream.js';

/** Prepares a response to be compressed if what it turns out to carry qualifies. */
export type Compress = (req: IncomingMessage, res: ServerResponse) => void;

/** Brotli quality 4 is about gzip -6's speed with a smaller result (quality 11 is for precompressing). */
const BROTLI_QUALITY = 4;
/** Gzip level 5: most of level 9's ratio at a fraction of its CPU (Nginx defaults to 1). */
const GZIP_LEVEL = 5;

const BROTLI_OPTIONS: zlib.BrotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } };

/**
 * Gzip options by window size. As Nginx does, a body of known length gets the smallest window
 * that holds it (and a memLevel smaller by as much): deflate's set-up, which dominates for small
 * bodies, then allocates and clears less. Index = windowBits (9 to 15).
 */
const GZIP_OPTIONS: zlib.ZlibOptions[] = [];
for (let windowBits = 9; windowBits <= 15; windowBits++) GZIP_OPTIONS[windowBits] = { level: GZIP_LEVEL, windowBits, memLevel: Math.max(1, 8 - (15 - windowBits)) };

function gzipOptionsFor(length: number): zlib.ZlibOptions {
  let windowBits = 15;
  // zlib's usable window is 262 bytes smaller than 2^windowBits (Nginx's same loop).
  if (length > 0) while (windowBits > 9 && length < (1 << (windowBits - 1)) - 262) windowBits--;
  return GZIP_OPTIONS[windowBits]!;
}

type Compressor = zlib.Gzip | zlib.BrotliCompress;
type AnyFunction = (...args: any[]) => any;

const kState = Symbol('keel.compression');
const kResponse = Symbol('keel.compression.response');

/** A response with the hook installed. */
interface HookedResponse extends ServerResponse {
  [kState]: CompressionState;
  /** As with the `compression` middleware: pushes out what the compressor holds (for long polls and streams). */
  flush(): void;
}

type TaggedCompressor = Compressor & { [kResponse]: HookedResponse };

/** Per-request state: one small object, the only allocation when nothing gets compressed. */
class CompressionState {
  /** The coding this client takes; '' when it takes neither (the response may still get Vary). */
  readonly encoding: Encoding;
  /** HEAD: the head says what GET would send, there is no body to compress. */
  readonly head: boolean;
  /** The methods the hook replaced (the response class's own), to pass through to. */
  readonly writeHead: AnyFunction;
  readonly write: AnyFunction;
  readonly end: AnyFunction;
  decided = false;
  /** An explicit writeHead is held back until the body's first write or end (see shouldHold). */
  held = false;
  /** The body's length when the end() that sends the head carries all of it; -1 when unknown. */
  knownLength = -1;
  stream: Compressor | null = null;
  /** text/event-stream: flushed after every write, so events are not held back. */
  flushEach = false;
  /** end() was called: the compressor is finishing. */
  ended = false;
  /** A write returned false because the compressor is full: 'drain' is owed to the writer. */
  needDrain = false;
  endCallback: AnyFunction | undefined = undefined;

  constructor(encoding: Encoding, head: boolean, res: ServerResponse) {
    this.encoding = encoding;
    this.head = head;
    this.writeHead = res.writeHead;
    this.write = res.write;
    this.end = res.end;
  }
}

function byteLengthOf(chunk: unknown, encoding: unknown): number {
  if (chunk === undefined || chunk === null) return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return (chunk as Uint8Array).byteLength ?? -1;
}

/** One header as a single string (a list joined as it would be on the wire); undefined when absent. */
function headerText(res: ServerResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * Headers given to writeHead, applied as Node applies them when setHeader was used before (its
 * "slow case"): so that the decision sees every header however the app set them. Arrays (flat or
 * pairs) replace earlier values of their names but keep their own duplicates, such as Set-Cookie.
 */
function applyGivenHeaders(res: ServerResponse, given: OutgoingHttpHeaders | OutgoingHttpHeader[]): void {
  if (!Array.isArray(given)) {
    for (const name of Object.keys(given)) if (name) res.setHeader(name, given[name]!);
    return;
  }
  const pairs = given.length > 0 && Array.isArray(given[0]);
  const step = pairs ? 1 : 2;
  for (let i = 0; i < given.length; i += step) res.removeHeader(String(pairs ? (given[i] as unknown as string[])[0] : given[i]));
  for (let i = 0; i < given.length; i += step) {
    const name = String(pairs ? (given[i] as unknown as string[])[0] : given[i]);
    const value = pairs ? (given[i] as unknown as string[])[1] : given[i + 1];
    if (name) res.appendHeader(name, value as string | string[]);
  }
}

/** Adds Accept-Encoding to Vary, unless it (or `*`) is there already. */
function addVary(res: ServerResponse): void {
  const vary = headerText(res, 'vary');
  if (vary === undefined || vary.trim() === '') {
    res.setHeader('vary', 'Accept-Encoding');
    return;
  }
  for (const token of vary.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '*' || name === 'accept-encoding') return;
  }
  res.setHeader('vary', `${vary}, Accept-Encoding`);
}

/** Whether a Cache-Control value forbids transforming the body (RFC 9111 §5.2.2.6). */
function forbidsTransform(cacheControl: string | undefined): boolean {
  return cacheControl !== undefined && cacheControl.toLowerCase().includes('no-transform');
}

function onCompressorData(this: TaggedCompressor, chunk: Buffer): void {
  const res = this[kResponse];
  // The response's own write (the socket's or the HTTP/2 stream's backpressure); resumed on its 'drain'.
  if (res[kState].write.call(res, chunk) === false) this.pause();
}

function onCompressorEnd(this: TaggedCompressor): void {
  const res = this[kResponse];
  const state = res[kState];
  if (state.endCallback) state.end.call(res, state.endCallback);
  else state.end.call(res);
}

function onCompressorDrain(this: TaggedCompressor): void {
  const res = this[kResponse];
  const state = res[kState];
  if (!state.needDrain) return;
  state.needDrain = false;
  // The writer waits for 'drain' on the response: the compressor, not the socket, made it wait.
  res.emit('drain');
}

function onCompressorError(this: TaggedCompressor, err: Error): void {
  this[kResponse].destroy(err);
}

function onResponseDrain(this: HookedResponse): void {
  const stream = this[kState].stream;
  if (stream !== null && stream.isPaused()) stream.resume();
}

/** The client went away (or the response closed after finishing): free the compressor's memory now. */
function onResponseClose(this: HookedResponse): void {
  const stream = this[kState].stream;
  if (stream !== null && !stream.destroyed) stream.destroy();
}

function writeAfterEnd(res: ServerResponse, callback: unknown): void {
  // What Node's own response does for a write after end: the error to the callback, then 'error'.
  const err = Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' });
  process.nextTick(() => {
    if (typeof callback === 'function') callback(err);
    if (!res.destroyed) res.emit('error', err);
  });
}

export function createCompression(config: ResolvedConfig): Compress | null {
  if (!config.compress) return null;
  const minLength = config.compressMinLength;

  /**
   * The rules that do not depend on the body's length: the Content-Type when the response may be
   * compressed, else undefined.
   */
  function eligibleType(res: HookedResponse, status: number): string | undefined {
    if (status < 200 || status === 204 || status === 206 || status === 304) return undefined;
    if (res.hasHeader('content-encoding') || res.hasHeader('content-range')) return undefined;
    const type = headerText(res, 'content-type');
    if (type === undefined || !isCompressibleType(type)) return undefined;
    if (forbidsTransform(headerText(res, 'cache-control'))) return undefined;
    return type;
  }

  /**
   * Nginx's rules, decided once per response, with its headers final. Vary goes on every response
   * that would be compressed for a client that takes it, including this one if it does not: a
   * shared cache must keep the variants apart.
   */
  function decide(res: HookedResponse, state: CompressionState, status: number): void {
    state.decided = true;
    const type = eligibleType(res, status);
    if (type === undefined) return;
    const declared = headerText(res, 'content-length');
    const length = declared !== undefined ? Number(declared) : state.knownLength;
    if (length === 0 || (length > 0 && length < minLength)) return;
    addVary(res);
    if (state.encoding === '') return;
    res.setHeader('content-encoding', state.encoding);
    // The length changes (chunked on HTTP/1.1, frames on HTTP/2); byte ranges of the original no longer apply.
    if (declared !== undefined) res.removeHeader('content-length');
    if (res.hasHeader('accept-ranges')) res.removeHeader('accept-ranges');
    const etag = res.getHeader('etag');
    // The compressed bytes differ from what a strong validator names (Nginx weakens it the same way).
    if (typeof etag === 'string' && etag.startsWith('"')) res.setHeader('etag', `W/${etag}`);
    if (state.head) return;
    startCompressor(res, state, length, type);
  }

  /**
   * Whether to hold an app's writeHead(status, headers) back until the first write or end: when
   * the body's length is all that is left to decide. `writeHead(200, { 'content-type': 'text/plain' })` then
   * `end('ok')` must not compress two bytes. On HTTP/1.1 Node sends the head with the first write
   * anyway; on HTTP/2 the HEADERS frame then leaves with the first DATA. Event streams are never
   * held: their head is what a client waits for.
   */
  function shouldHold(res: HookedResponse, status: number): boolean {
    // 200 to 599: what HTTP/2's statusCode setter takes (HTTP/1.1 takes up to 999, and checks it in writeHead).
    if (status < 200 || status > 599 || res.hasHeader('content-length')) return false;
    const type = eligibleType(res, status);
    return type !== undefined && !isEventStream(type);
  }

  function startCompressor(res: HookedResponse, state: CompressionState, length: number, type: string): void {
    let stream: Compressor;
    if (state.encoding === 'br') {
      // A known size lets brotli size its window and tables to the body instead of to 4 MiB.
      stream = zlib.createBrotliCompress(length > 0 ? { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: length } } : BROTLI_OPTIONS);
    } else {
      stream = zlib.createGzip(gzipOptionsFor(length));
    }
    (stream as unknown as TaggedCompressor)[kResponse] = res;
    stream.on('data', onCompressorData);
    stream.on('end', onCompressorEnd);
    stream.on('drain', onCompressorDrain);
    stream.on('error', onCompressorError);
    res.on('drain', onResponseDrain);
    res.on('close', onResponseClose);
    state.stream = stream;
    state.flushEach = isEventStream(type);
  }

  function flushKind(state: CompressionState): number {
    return state.encoding === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH;
  }

  function hookedWriteHead(this: HookedResponse, statusCode: number, reason?: unknown, headers?: unknown): ServerResponse {
    const state = this[kState];
    if (state.decided) return state.writeHead.call(this, statusCode, reason, headers);
    const given = (typeof reason === 'string' ? headers : reason) as OutgoingHttpHeaders | OutgoingHttpHeader[] | null | undefined;
    if (given !== undefined && given !== null) applyGivenHeaders(this, given);
    // Only a call that brings headers is the app's: the implicit ones (Node's first write, end and
    // flushHeaders, and ours) bring none, and must send the head now.
    if (given !== undefined && given !== null && !state.held && shouldHold(this, statusCode)) {
      // The app's call, held: status and reason kept where Node's own writeHead keeps them.
      state.held = true;
      this.statusCode = statusCode;
      if (typeof reason === 'string') this.statusMessage = reason;
      return this;
    }
    // The app's call, or the implicit one from the first write or end (Node's and ours), or flushHeaders.
    decide(this, state, statusCode);
    return typeof reason === 'string' ? state.writeHead.call(this, statusCode, reason) : state.writeHead.call(this, statusCode);
  }

  function hookedWrite(this: HookedResponse, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const state = this[kState];
    // The head goes out now, as Node's own write would send it: the decision needs it first.
    if (!state.decided && !this.headersSent) this.writeHead(this.statusCode);
    const stream = state.stream;
    if (stream === null) return state.write.call(this, chunk, encoding, callback);
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (state.ended) {
      writeAfterEnd(this, callback);
      return false;
    }
    if (stream.destroyed) return false;
    const ok = stream.write(chunk, encoding as BufferEncoding, callback as AnyFunction | undefined);
    if (state.flushEach) stream.flush(flushKind(state));
    if (!ok) state.needDrain = true;
    return ok;
  }

  function hookedEnd(this: HookedResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse {
    const state = this[kState];
    if (typeof chunk === 'function') {
      callback = chunk;
      chunk = undefined;
      encoding = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (!state.decided && !this.headersSent) {
      // All of the body is here: its length counts against the threshold, as a Content-Length would.
      // A HEAD answer's end() without a body says nothing about the length GET would have.
      const empty = chunk === undefined || chunk === null;
      state.knownLength = state.head && empty ? -1 : byteLengthOf(chunk, encoding);
      decide(this, state, this.statusCode);
      if (state.stream !== null) this.writeHead(this.statusCode);
    }
    const stream = state.stream;
    if (stream === null) return state.end.call(this, chunk, encoding, callback);
    if (state.ended) {
      if (chunk !== undefined && chunk !== null) writeAfterEnd(this, callback);
      else if (typeof callback === 'function') this.once('finish', callback as AnyFunction);
      return this;
    }
    state.ended = true;
    state.endCallback = callback as AnyFunction | undefined;
    if (stream.destroyed) return this;
    if (chunk !== undefined && chunk !== null) stream.end(chunk, encoding as BufferEncoding);
    else stream.end();
    return this;
  }

  function hookedFlush(this: HookedResponse): void {
    const state = this[kState];
    if (state.stream !== null && !state.stream.destroyed) state.stream.flush(flushKind(state));
  }

  return function compress(req: IncomingMessage, res: ServerResponse): void {
    const header = findAcceptEncoding(req.rawHeaders);
    if (header === undefined) return;
    // HTTP/1.0 has no chunked framing: a compressed body of unknown length would cost the
    // connection (Nginx's gzip_http_version 1.1 default). Vary is still set.
    const encoding = req.httpVersionMajor === 1 && req.httpVersionMinor === 0 ? '' : encodingFor(header);
    const hooked = res as HookedResponse;
    hooked[kState] = new CompressionState(encoding, req.method === 'HEAD', res);
    res.writeHead = hookedWriteHead as ServerResponse['writeHead'];
    res.write = hookedWrite as ServerResponse['write'];
    res.end = hookedEnd as ServerResponse['end'];
    hooked.flush = hookedFlush;
  };
}
