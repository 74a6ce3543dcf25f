/**
 * Accept-Encoding: which content coding, if any, a client takes for a response (RFC 9110 §12.5.3).
 * keel only produces brotli and gzip, so the question is just "br, gzip or neither".
 */

/** The codings keel compresses with; '' is "send it as it is". */
export type Encoding = 'br' | 'gzip' | '';

/**
 * The Accept-Encoding value from a raw header list (Node's req.rawHeaders), several fields joined
 * with ", "; undefined when the client sent none. A scan of the raw list spares Node building
 * req.headers for apps that never read it.
 *
 * @example findAcceptEncoding(['Host', 'a', 'Accept-Encoding', 'gzip']) // 'gzip'
 */
export function findAcceptEncoding(raw: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // "accept-encoding" and "x-forwarded-for" are the only common 15-letter names: most fields cost one comparison.
    if (name.length === 15 && (name === 'accept-encoding' || name.toLowerCase() === 'accept-encoding')) {
      found = found === undefined ? raw[i + 1]! : `${found}, ${raw[i + 1]!}`;
    }
  }
  return found;
}

/** A qvalue per RFC 9110 §12.4.2: 0 to 1 with up to three decimals; anything else is NaN. */
function parseQ(text: string): number {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) return Number.NaN;
  return Number(text);
}

/** How much a client wants each coding keel can send, 0 to 1. */
export interface CodingWeights {
  readonly br: number;
  readonly gzip: number;
}

/**
 * Reads an Accept-Encoding value into weights for brotli and gzip:
 * - q-values are honoured, and q=0 forbids a coding;
 * - `*` stands for any coding not named (so `*;q=0` with nothing else forbids both);
 * - `x-gzip` counts as gzip (RFC 9110 §8.4.1.3);
 * - an entry with a malformed q is ignored, as if absent;
 * - `identity;q=0` is not enforced: when neither br nor gzip is acceptable the response goes out
 *   uncompressed rather than as a 406 (what Nginx and the `compression` middleware do too).
 *
 * @example parseAcceptEncoding('br;q=0, *;q=0.5') // { br: 0, gzip: 0.5 }
 */
export function parseAcceptEncoding(header: string): CodingWeights {
  let br = -1;
  let gzip = -1;
  let star = -1;
  for (const part of header.split(',')) {
    const semicolon = part.indexOf(';');
    const name = (semicolon < 0 ? part : part.slice(0, semicolon)).trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    if (semicolon >= 0) {
      for (const param of part.slice(semicolon + 1).split(';')) {
        const equals = param.indexOf('=');
        if (equals < 0) continue;
        if (param.slice(0, equals).trim().toLowerCase() === 'q') q = parseQ(param.slice(equals + 1).trim());
      }
      if (Number.isNaN(q)) continue;
    }
    // The highest q wins when a coding is named twice: the client accepts it at least that much.
    if (name === 'br') br = Math.max(br, q);
    else if (name === 'gzip' || name === 'x-gzip') gzip = Math.max(gzip, q);
    else if (name === '*') star = Math.max(star, q);
  }
  return { br: Math.max(br < 0 ? star : br, 0), gzip: Math.max(gzip < 0 ? star : gzip, 0) };
}

/**
 * The coding to send given which ones are available (a static file's `.br` and `.gz` siblings, or
 * both for on-the-fly compression); at equal q brotli wins: smaller for the same CPU at keel's levels.
 */
export function pickCoding(weights: CodingWeights, hasBr: boolean, hasGzip: boolean): 'br' | 'gzip' | null {
  const br = hasBr ? weights.br : 0;
  const gzip = hasGzip ? weights.gzip : 0;
  if (br > 0 && br >= gzip) return 'br';
  if (gzip > 0) return 'gzip';
  return null;
}

/**
 * Picks the coding for on-the-fly compression from a client's Accept-Encoding value.
 *
 * @example negotiateEncoding('gzip;q=1, br;q=0.5') // 'gzip'
 * @example negotiateEncoding('br;q=0, *') // 'gzip'
 */
export function negotiateEncoding(header: string): Encoding {
  return pickCoding(parseAcceptEncoding(header), true, true) ?? '';
}

/** Browsers send a handful of distinct values, so remembered answers make negotiation a map lookup. */
const MAX_REMEMBERED = 256;
const NONE: CodingWeights = { br: 0, gzip: 0 };
const remembered = new Map<string, CodingWeights>();

/** parseAcceptEncoding, remembered per header value (bounded: a client cannot grow it without limit). */
export function codingWeights(header: string | undefined): CodingWeights {
  if (header === undefined || header === '') return NONE;
  let weights = remembered.get(header);
  if (weights === undefined) {
    weights = parseAcceptEncoding(header);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    if (header.length <= 256) remembered.set(header, weights);
  }
  return weights;
}

/** negotiateEncoding, from the remembered weights. */
export function encodingFor(header: string): Encoding {
  return pickCoding(codingWeights(header), true, true) ?? '';
}
