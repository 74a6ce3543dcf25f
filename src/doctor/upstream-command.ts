/**
 * What a --run command tells about the upstream's own limits: Gunicorn's worker timeout and request
 * limits, Waitress's body limit. Only the command line is read (not gunicorn.conf.py or
 * GUNICORN_CMD_ARGS); where an option is absent the server's documented default applies.
 */

/** A known upstream server and the limits it enforces; null fields are not limited (or not known). */
export interface UpstreamLimits {
  readonly server: 'gunicorn' | 'waitress';
  /** Seconds a worker may stay silent before the server kills it; null: never. */
  readonly timeout: number | null;
  readonly limitRequestLine: number | null;
  readonly limitRequestFields: number | null;
  readonly limitRequestFieldSize: number | null;
  /** Bytes. */
  readonly maxBody: number | null;
  /** Each worker serves one request at a time and nothing else meanwhile (Gunicorn's default sync worker). */
  readonly oneRequestPerWorker: boolean;
}

/** Splits a command into words, with single and double quotes and backslash escapes as a shell does. */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let started = false;
  let quote: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < command.length) word += command[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < command.length) {
      word += command[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (started) words.push(word);
  return words;
}

/** The value of an option among `words`, in `--name V`, `--name=V` or `-sV` form; the last one wins, as in argparse. */
function option(words: readonly string[], names: readonly string[]): string | null {
  let found: string | null = null;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    for (const name of names) {
      if (word === name && i + 1 < words.length) found = words[i + 1];
      else if (name.startsWith('--') && word.startsWith(`${name}=`)) found = word.slice(name.length + 1);
      else if (!name.startsWith('--') && word.startsWith(name) && word.length > name.length) found = word.slice(name.length);
    }
  }
  return found;
}

function integerOption(words: readonly string[], names: readonly string[], fallback: number): number | null {
  const raw = option(words, names);
  const value = raw === null ? fallback : Number(raw);
  return Number.isFinite(value) ? value : fallback;
}

/** Gunicorn's documented defaults; 0 means no limit for the line, the field size and the timeout. */
const GUNICORN = { timeout: 30, limitRequestLine: 4094, limitRequestFields: 100, limitRequestFieldSize: 8190 };
/** Waitress's max_request_body_size default: 1 GiB. */
const WAITRESS_MAX_BODY = 1024 * 1024 * 1024;

const zeroIsNone = (value: number | null): number | null => (value === 0 ? null : value);

/**
 * The limits of the server a --run command starts, or null when it is not one keel knows.
 *
 * @example upstreamLimits('gunicorn -w 2 -b 127.0.0.1:{port} --timeout 5 app:app') // { server: 'gunicorn', timeout: 5, … }
 */
export function upstreamLimits(command: string): UpstreamLimits | null {
  const words = splitCommand(command);
  const start = words.findIndex((w) => /(^|\/)gunicorn$/.test(w) || /(^|\/)waitress-serve$/.test(w));
  if (start < 0) return null;
  const args = words.slice(start + 1);
  if (words[start].endsWith('waitress-serve')) {
    const raw = option(args, ['--max-request-body-size']);
    // Waitress reads a request whole before a thread runs the app, and buffers the answer.
    return { server: 'waitress', timeout: null, limitRequestLine: null, limitRequestFields: null, limitRequestFieldSize: null, maxBody: raw === null ? WAITRESS_MAX_BODY : Number(raw) || WAITRESS_MAX_BODY, oneRequestPerWorker: false };
  }
  // -k sync is the default; with --threads over 1 Gunicorn runs it as gthread instead.
  const workerClass = option(args, ['--worker-class', '-k']) ?? 'sync';
  const threads = integerOption(args, ['--threads'], 1) ?? 1;
  return {
    server: 'gunicorn',
    timeout: zeroIsNone(integerOption(args, ['--timeout', '-t'], GUNICORN.timeout)),
    limitRequestLine: zeroIsNone(integerOption(args, ['--limit-request-line'], GUNICORN.limitRequestLine)),
    limitRequestFields: integerOption(args, ['--limit-request-fields'], GUNICORN.limitRequestFields),
    limitRequestFieldSize: zeroIsNone(integerOption(args, ['--limit-request-field_size', '--limit-request-field-size'], GUNICORN.limitRequestFieldSize)),
    maxBody: null,
    // gthread with its default single thread is one request at a time too.
    oneRequestPerWorker: /^(sync|gthread|gunicorn\.workers\.(sync\.SyncWorker|gthread\.ThreadWorker))$/.test(workerClass) && threads <= 1,
  };
}
