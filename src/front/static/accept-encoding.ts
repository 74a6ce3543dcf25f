/**
 * Which precompressed sibling (`.br`, `.gz`) a client accepts, from Accept-Encoding with its
 * q-values (RFC 9110 §12.5.3): `q=0` refuses a coding, `*` stands for codings not named, and
 * `x-gzip` is gzip. Brotli is preferred when both are equally acceptable (it is smaller).
 */

/** How much a client wants each coding, 0 to 1. */
export interface CodingWeights {
  readonly br: number;
  readonly gzip: number;
}

const NONE: CodingWeights = { br: 0, gzip: 0 };

/**
 * @example
 *   parseAcceptEncoding('gzip, deflate, br')   // { br: 1, gzip: 1 }
 *   parseAcceptEncoding('br;q=0, *')           // { br: 0, gzip: 1 }
 */
export function parseAcceptEncoding(header: string): CodingWeights {
  let br = -1;
  let gzip = -1;
  let star = -1;
  for (const part of header.split(',')) {
    const semi = part.indexOf(';');
    const name = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    if (semi >= 0) {
      const m = /(?:^|;)\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*(?:;|$)/i.exec(part.slice(semi));
      q = m ? Math.min(1, Number(m[1])) : 1;
    }
    if (name === 'br') br = q;
    else if (name === 'gzip' || name === 'x-gzip') gzip = Math.max(gzip, q);
    else if (name === '*') star = q;
  }
  return { br: br >= 0 ? br : Math.max(star, 0), gzip: gzip >= 0 ? gzip : Math.max(star, 0) };
}

// Clients send a handful of distinct values; remembering them keeps the parse off the hot path.
const memo = new Map<string, CodingWeights>();
const MEMO_MAX = 256;

/** parseAcceptEncoding, remembered for the last few distinct header values. */
export function codingWeights(header: string | undefined): CodingWeights {
  if (header === undefined || header === '') return NONE;
  let weights = memo.get(header);
  if (weights === undefined) {
    weights = parseAcceptEncoding(header);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(header, weights);
  }
  return weights;
}

/** The coding to serve given which siblings exist: 'br', 'gzip', or null for the file itself. */
export function pickCoding(weights: CodingWeights, hasBr: boolean, hasGzip: boolean): 'br' | 'gzip' | null {
  const br = hasBr ? weights.br : 0;
  const gzip = hasGzip ? weights.gzip : 0;
  if (br > 0 && br >= gzip) return 'br';
  if (gzip > 0) return 'gzip';
  return null;
}
