/**
 * The Range request header (RFC 9110 §14), for one representation of a known size.
 *
 * Only single ranges are served as 206. A request for several ranges gets the whole file as 200,
 * which RFC 9110 allows (a server may ignore Range) and which spares keel multipart/byteranges,
 * a format almost only download managers use; they cope with a 200.
 */

/** An inclusive byte range within the representation. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** 'ignore': serve the whole representation (no Range, a malformed one, another unit, several ranges). 'unsatisfiable': 416. */
export type RangeOutcome = ByteRange | 'ignore' | 'unsatisfiable';

const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

/**
 * @example
 *   parseRange('bytes=0-99', 1000)   // { start: 0, end: 99 }
 *   parseRange('bytes=-100', 1000)   // { start: 900, end: 999 }
 *   parseRange('bytes=2000-', 1000)  // 'unsatisfiable'
 *   parseRange('bytes=0-1,5-9', 1000) // 'ignore' (several ranges: whole file)
 */
export function parseRange(header: string, size: number): RangeOutcome {
  // The unit is case-insensitive (RFC 9110 §14.1); anything else is not ours to serve.
  if (header.length < 7 || header.slice(0, 6).toLowerCase() !== 'bytes=') return 'ignore';
  const specs = header.slice(6).split(',');
  let only: string | null = null;
  for (const spec of specs) {
    // Lists may carry empty elements (RFC 9110 §5.6.1).
    if (spec.trim() === '') continue;
    if (only !== null) return 'ignore';
    only = spec;
  }
  if (only === null) return 'ignore';
  const match = SPEC.exec(only);
  if (!match) return 'ignore';
  const [, first, last] = match;
  if (first === '' && last === '') return 'ignore';
  if (first.length > 15 || last.length > 15) return 'ignore';
  if (first === '') {
    // Suffix range: the last N bytes; N = 0 selects nothing.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return 'ignore';
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}
