/**
 * Access log line formats, compiled once at start-up into one function: combined (Apache/Nginx
 * combined plus duration and request ID), json, or a Gunicorn-style atom string.
 * Fields a client controls are escaped so a client cannot forge a line or a field.
 */

/** What one access-log line is made of; filled by the access-log stage. */
export interface AccessRecord {
  /** Epoch milliseconds when the request arrived. */
  readonly startTime: number;
  readonly clientAddress: string;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly status: number;
  /** Response body bytes, or -1 when unknown. */
  readonly bytes: number;
  readonly durationMs: number;
  readonly id: string;
  readonly userAgent: string;
  readonly referrer: string;
  /** Why the request ended other than by a normal response: timeout, aborted, worker-killed. */
  readonly event: string;
  /** For %({name}i)s atoms: the request, whose headers are only read when a format asks. */
  readonly req?: { readonly headers: Readonly<Record<string, string | string[] | undefined>> };
  /** For %({name}o)s atoms: the response. */
  readonly res?: { getHeader(name: string): string | string[] | number | undefined };
}

export type AccessFormatter = (record: AccessRecord) => string;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

let cachedSecond = -1;
let cachedClf = '';

/** [10/Oct/2000:13:55:36 +0000], cached per second as Nginx caches its time strings. */
export function clfTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    const d = new Date(second * 1000);
    cachedClf = `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000]`;
    cachedSecond = second;
  }
  return cachedClf;
}

/** A character loop: measured faster than a regular expression on the short fields of a log line. */
function needsEscape(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return true;
  }
  return false;
}

/**
 * Nginx's escaping for quoted fields: ", \ and bytes outside printable ASCII become \xHH. The
 * result is pure ASCII, which lets the writer copy lines byte for byte.
 */
export function escapeQuoted(value: string): string {
  if (!needsEscape(value)) return value;
  let out = '';
  // Header values arrive latin1-decoded (one char per byte); anything wider came from app code as UTF-8.
  const raw = /[^\x00-\xff]/.test(value) ? Buffer.from(value, 'utf8') : Buffer.from(value, 'latin1');
  for (const byte of raw) {
    out += byte < 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x5c ? `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

const dash = (value: string): string => (value === '' ? '-' : escapeQuoted(value));

/** Milliseconds as seconds with three decimals, without Number#toFixed (measured at 0.5 µs a call). */
export function seconds3(ms: number): string {
  const whole = Math.round(ms);
  const rest = whole % 1000;
  return `${(whole - rest) / 1000}.${rest < 10 ? '00' : rest < 100 ? '0' : ''}${rest}`;
}

/** JSON.stringify, with non-ASCII characters as \uXXXX so JSON lines stay ASCII too. */
function asciiJson(value: unknown): string {
  const text = JSON.stringify(value);
  return needsEscapeJson(text) ? text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

function needsEscapeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7e) return true;
  return false;
}

function combined(r: AccessRecord): string {
  return `${escapeQuoted(r.clientAddress)} - - ${clfTime(r.startTime)} "${escapeQuoted(r.method)} ${escapeQuoted(r.url)} HTTP/${r.httpVersion}" ${r.status} ${r.bytes < 0 ? '-' : r.bytes} "${dash(r.referrer)}" "${dash(r.userAgent)}" ${seconds3(r.durationMs)} ${escapeQuoted(r.id)}${r.event ? ` ${r.event}` : ''}\n`;
}

function json(r: AccessRecord): string {
  return `${asciiJson({
    time: new Date(r.startTime).toISOString(),
    remote_addr: r.clientAddress,
    method: r.method,
    path: r.url,
    protocol: `HTTP/${r.httpVersion}`,
    status: r.status,
    bytes: r.bytes < 0 ? null : r.bytes,
    duration_ms: Math.round(r.durationMs * 1000) / 1000,
    request_id: r.id,
    user_agent: r.userAgent,
    referrer: r.referrer,
    ...(r.event ? { event: r.event } : {}),
  })}\n`;
}

type Atom = (r: AccessRecord) => string;

function headerText(value: string | string[] | number | undefined): string {
  return value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
}

const ATOMS: Record<string, Atom> = {
  h: (r) => r.clientAddress,
  l: () => '-',
  u: () => '-',
  t: (r) => clfTime(r.startTime),
  r: (r) => escapeQuoted(`${r.method} ${r.url} HTTP/${r.httpVersion}`),
  m: (r) => escapeQuoted(r.method),
  U: (r) => escapeQuoted(r.url.split('?')[0]),
  q: (r) => escapeQuoted(r.url.includes('?') ? r.url.slice(r.url.indexOf('?') + 1) : ''),
  H: (r) => `HTTP/${r.httpVersion}`,
  s: (r) => String(r.status),
  B: (r) => String(Math.max(r.bytes, 0)),
  b: (r) => (r.bytes < 0 ? '-' : String(r.bytes)),
  f: (r) => dash(r.referrer),
  a: (r) => dash(r.userAgent),
  T: (r) => String(Math.floor(r.durationMs / 1000)),
  M: (r) => String(Math.round(r.durationMs)),
  D: (r) => String(Math.round(r.durationMs * 1000)),
  L: (r) => (r.durationMs / 1000).toFixed(6),
  p: () => `<${process.pid}>`,
  rid: (r) => escapeQuoted(r.id),
};

/** Compiles a Gunicorn access_log_format string such as '%(h)s "%(r)s" %(s)s %({x-request-id}o)s'. */
export function compileAtoms(format: string): AccessFormatter | null {
  const parts: (string | Atom)[] = [];
  const atom = /%\(([^)]+)\)s/g;
  let last = 0;
  for (let m = atom.exec(format); m; m = atom.exec(format)) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    const name = m[1];
    const header = /^\{([^}]+)\}([io])$/.exec(name);
    if (header) {
      const headerName = header[1].toLowerCase();
      parts.push(header[2] === 'i' ? (r) => dash(headerText(r.req?.headers[headerName])) : (r) => dash(headerText(r.res?.getHeader(headerName))));
    } else if (ATOMS[name]) {
      parts.push(ATOMS[name]);
    } else {
      return null;
    }
    last = atom.lastIndex;
  }
  if (parts.length === 0) return null;
  if (last < format.length) parts.push(format.slice(last));
  return (r) => {
    let line = '';
    for (const part of parts) line += typeof part === 'string' ? part : part(r);
    return `${line}\n`;
  };
}

export function createAccessFormatter(format: string): AccessFormatter | null {
  if (format === 'combined') return combined;
  if (format === 'json') return json;
  return compileAtoms(format);
}
