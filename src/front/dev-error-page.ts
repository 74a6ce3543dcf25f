/**
 * The rich error page of `keel dev`: the error's name and message, its stack with the source lines
 * around each frame in the app (node: internals, dependencies and keel's own frames folded), its
 * causes, and the request (headers with secrets redacted, credentials masked). Chosen once at
 * start-up when the config's mode is `dev`; `keel serve` never builds it. Everything shown is
 * HTML-escaped and passed through the same redaction as the logs.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../config/resolve.js';
import { createRedactor, type Redactor } from '../observe/redact.js';
import { type FrameKind, frameKind } from '../observe/stack-frames.js';
import { escapeHtml, neutralizeResponse, wantsJson } from './error-page.js';
import type { SendFailure } from './error-page.js';

/** Lines shown above and below the line of each app frame. */
const CONTEXT_LINES = 4;
/** A file bigger than this is not read for context (a bundle, a generated file). */
const MAX_SOURCE_BYTES = 2 * 1024 * 1024;
/** Causes followed at most, so a cycle of causes cannot loop. */
const MAX_CAUSES = 4;
/** Headers whose values are credentials: never shown, whatever they contain. */
const MASKED_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token']);

const FRAME = /^\s*at (?:async )?(?:(.+?) \()?((?:file:\/\/)?\/[^()]*?|node:[^()]*?|[^()\s]*?):(\d+):(\d+)\)?\s*$/;
/** Where a loader says a syntax error is: Node's first stack line, or esbuild's "file:line:col: ERROR". */
const LOCATION = /((?:file:\/\/)?\/[^\s:()]+):(\d+)(?::(\d+))?/g;

interface Frame {
  readonly raw: string;
  readonly fn: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly kind: FrameKind;
}

/** How the page says what it is; doctor --url recognises keel dev by it (probe-dev-servers.ts). */
export const DEV_PAGE_FOOTER = 'This page is shown by <code>keel dev</code> only.';

function toPath(location: string): string {
  if (location.startsWith('file://')) {
    try {
      return fileURLToPath(location);
    } catch {
      return location;
    }
  }
  return location;
}

function parseFrame(raw: string): Frame | null {
  const match = FRAME.exec(raw);
  if (!match) return null;
  const file = toPath(match[2]);
  return { raw: raw.trim(), fn: match[1] ?? '', file, line: Number(match[3]), column: Number(match[4]), kind: frameKind(file) };
}

/** The locations a loader names in the lines before the first frame (syntax errors have no app frame). */
function headerLocations(header: string): Frame[] {
  const found: Frame[] = [];
  for (const match of header.matchAll(LOCATION)) {
    const file = toPath(match[1]);
    const kind = frameKind(file);
    if (kind !== 'app' || found.some((f) => f.file === file && f.line === Number(match[2]))) continue;
    found.push({ raw: match[0], fn: '', file, line: Number(match[2]), column: Number(match[3] ?? 0), kind });
  }
  return found;
}

async function readLines(file: string): Promise<string[] | null> {
  try {
    const info = await stat(file);
    if (!info.isFile() || info.size > MAX_SOURCE_BYTES) return null;
    return (await readFile(file, 'utf8')).split(/\r?\n/);
  } catch {
    return null;
  }
}

interface ErrorParts {
  readonly name: string;
  readonly message: string;
  readonly code: string;
  readonly header: string;
  readonly frames: Frame[];
  readonly stack: string;
}

function partsOf(err: unknown): ErrorParts {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err), code: '', header: String(err), frames: [], stack: '' };
  const stack = err.stack ?? `${err.name}: ${err.message}`;
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
  const header = firstFrame < 0 ? stack : lines.slice(0, firstFrame).join('\n');
  const frames = (firstFrame < 0 ? [] : lines.slice(firstFrame)).map(parseFrame).filter((f): f is Frame => f !== null);
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, code: typeof code === 'string' ? code : '', header, frames: [...headerLocations(header), ...frames], stack };
}

/** The error and its causes, outermost first. */
function chainOf(err: unknown): unknown[] {
  const chain = [err];
  for (let cause = (err as { cause?: unknown })?.cause; cause !== undefined && chain.length <= MAX_CAUSES && !chain.includes(cause); cause = (cause as { cause?: unknown })?.cause) {
    chain.push(cause);
  }
  return chain;
}

const FOLDED_LABEL: Record<Exclude<FrameKind, 'app'>, string> = { node: 'Node.js internals', dependency: 'dependencies', keel: 'keel', other: 'other' };

async function renderSource(frame: Frame, files: Map<string, Promise<string[] | null>>, redact: Redactor): Promise<string> {
  let pending = files.get(frame.file);
  if (!pending) files.set(frame.file, (pending = readLines(frame.file)));
  const lines = await pending;
  if (!lines || frame.line < 1 || frame.line > lines.length) return '';
  const first = Math.max(1, frame.line - CONTEXT_LINES);
  const last = Math.min(lines.length, frame.line + CONTEXT_LINES);
  const rows: string[] = [];
  for (let n = first; n <= last; n++) {
    const mark = n === frame.line;
    rows.push(`<tr${mark ? ' class="hit"' : ''}><td class="ln">${n}</td><td><pre>${escapeHtml(redact(lines[n - 1]))}</pre></td></tr>`);
  }
  return `<table class="src">${rows.join('')}</table>`;
}

async function renderFrames(frames: readonly Frame[], files: Map<string, Promise<string[] | null>>, redact: Redactor): Promise<string> {
  const out: string[] = [];
  for (let i = 0; i < frames.length; ) {
    const frame = frames[i];
    if (frame.kind === 'app') {
      const where = `${frame.file}:${frame.line}${frame.column ? `:${frame.column}` : ''}`;
      out.push(`<div class="frame"><div class="at"><b>${escapeHtml(redact(frame.fn || '(anonymous)'))}</b> <span>${escapeHtml(redact(where))}</span></div>${await renderSource(frame, files, redact)}</div>`);
      i++;
      continue;
    }
    // A run of frames outside the app folds into one line that opens on a click.
    let end = i;
    while (end < frames.length && frames[end].kind !== 'app') end++;
    const run = frames.slice(i, end);
    const kinds = [...new Set(run.map((f) => FOLDED_LABEL[f.kind as Exclude<FrameKind, 'app'>]))].join(', ');
    out.push(`<details class="folded"><summary>${run.length} frame${run.length === 1 ? '' : 's'} in ${escapeHtml(kinds)}</summary><pre>${escapeHtml(redact(run.map((f) => f.raw).join('\n')))}</pre></details>`);
    i = end;
  }
  return out.join('\n');
}

function renderRequest(req: IncomingMessage, requestId: string, redact: Redactor): string {
  const ctx = req.keel;
  const rows: [string, string][] = [
    ['Request ID', requestId],
    ['Method', req.method ?? ''],
    ['URL', req.url ?? ''],
    ['HTTP version', req.httpVersion],
    ['Client address', ctx?.clientAddress ?? req.socket?.remoteAddress ?? ''],
    ['Scheme', ctx?.scheme ?? ''],
  ];
  const headerRows: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const value = MASKED_HEADERS.has(name.toLowerCase()) ? `[MASKED: ${raw[i + 1].length} characters]` : redact(raw[i + 1]);
    headerRows.push(`<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`);
  }
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(redact(v))}</td></tr>`).join('')}</table>
<h3>Headers</h3><table class="kv">${headerRows.join('')}</table>`;
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#b3261e;color:#fff;padding:1.2rem 1.5rem}header h1{margin:.2rem 0;font-size:1.35rem;word-break:break-word}
header .tag{font-weight:700;letter-spacing:.08em;font-size:.8rem;opacity:.9}main{padding:1rem 1.5rem;max-width:75rem}
pre{margin:0;white-space:pre-wrap;word-break:break-word;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
.frame{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.6rem 0;overflow:hidden}.at{padding:.4rem .7rem;background:#f1f1f3;font-size:.9rem}
.at span{color:#555;font-family:ui-monospace,monospace;word-break:break-all}.src{border-collapse:collapse;width:100%}.src td{padding:0 .6rem;vertical-align:top}
.src .ln{color:#999;text-align:right;width:3rem;user-select:none;font:13px/1.45 ui-monospace,monospace}.src tr.hit{background:#fde7e5}.src tr.hit .ln{color:#b3261e;font-weight:700}
.folded{margin:.4rem 0;color:#666}.folded summary{cursor:pointer}.folded pre{padding:.4rem .7rem;color:#666}
.kv{border-collapse:collapse;width:100%;background:#fff}.kv th,.kv td{border-bottom:1px solid #eee;padding:.25rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}
.kv th{width:12rem;color:#555;font-weight:600}.kv td{font-family:ui-monospace,monospace;word-break:break-all}.cause{margin-top:1.5rem;border-top:2px dashed #ccc;padding-top:.5rem}
footer{color:#777;font-size:.8rem;padding:1rem 1.5rem}`;

async function renderHtml(err: unknown, req: IncomingMessage, requestId: string, redact: Redactor): Promise<string> {
  const files = new Map<string, Promise<string[] | null>>();
  const sections: string[] = [];
  const chain = chainOf(err);
  for (let i = 0; i < chain.length; i++) {
    const parts = partsOf(chain[i]);
    const title = `${parts.name}${parts.code ? ` [${parts.code}]` : ''}`;
    const frames = await renderFrames(parts.frames, files, redact);
    const body = `<h2>${escapeHtml(redact(title))}</h2><pre>${escapeHtml(redact(parts.header))}</pre>${frames}`;
    sections.push(i === 0 ? body : `<section class="cause"><div class="tag">CAUSED BY</div>${body}</section>`);
  }
  const first = partsOf(err);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>${escapeHtml(redact(`${first.name}: ${first.message}`).slice(0, 200))}</title><style>${STYLE}</style></head>
<body><header><div class="tag">KEEL DEV · 500 INTERNAL SERVER ERROR · ${escapeHtml(req.method ?? '')} ${escapeHtml(redact(req.url ?? ''))}</div><h1>${escapeHtml(redact(`${first.name}: ${first.message}`))}</h1></header>
<main>${sections.join('\n')}
<h2>Request</h2>${renderRequest(req, requestId, redact)}</main>
<footer>${DEV_PAGE_FOOTER} <code>keel serve</code> answers with a generic page and the request ID, whatever the environment says.</footer>
</body></html>
`;
}

function renderJson(err: unknown, req: IncomingMessage, requestId: string, redact: Redactor): string {
  const chain = chainOf(err).map((e) => {
    const parts = partsOf(e);
    return { name: parts.name, message: redact(parts.message), code: parts.code || undefined, stack: redact(parts.stack) };
  });
  return `${JSON.stringify({ error: 'Internal Server Error', status: 500, requestId, method: req.method, url: redact(req.url ?? ''), errors: chain }, null, 2)}\n`;
}

/**
 * Builds the dev page sender for a config; only `keel dev` calls this.
 *
 * @example const send = createDevErrorPage(config); send(req, res, err, req.keel.id);
 */
export function createDevErrorPage(config: Pick<ResolvedConfig, 'secrets'>): SendFailure {
  const redact = createRedactor(config.secrets);
  return function sendDevErrorPage(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string): void {
    for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
    // Reading the sources is asynchronous: keel's own calls are kept for later, and the app's are
    // neutralized at once, as for the generic page.
    const writeHead = res.writeHead;
    const end = res.end as (this: ServerResponse, chunk?: string) => ServerResponse;
    neutralizeResponse(res);
    const json = wantsJson(req.headers.accept);
    const rendered = json ? Promise.resolve(renderJson(err, req, requestId, redact)) : renderHtml(err, req, requestId, redact);
    rendered
      .catch((renderErr: unknown) => `<!doctype html><title>500</title><pre>${escapeHtml(redact(String((renderErr as Error)?.stack ?? renderErr)))}</pre>\n`)
      .then((body) => {
        // Another stage (the request timeout) may have answered meanwhile.
        if (res.headersSent || res.writableEnded || res.destroyed) return;
        writeHead.call(res, 500, {
          'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
          'x-request-id': requestId,
        });
        end.call(res, req.method === 'HEAD' ? undefined : body);
      })
      .catch(() => res.destroy());
  };
}
