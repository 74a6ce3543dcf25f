/**
 * The coded error catalog: every error keel raises on purpose has a stable code here,
 * so callers match on `code`, never on message text.
 *
 * @example
 *   throw keelError('KEEL_ERR_CONFIG_VALUE', { setting: '--workers', value: 'banana', allowed: 'a whole number from 1 to 256' });
 */

/** Process exit statuses with a fixed meaning, as Gunicorn reserves 3 and 4. */
export const EXIT = {
  ok: 0,
  failure: 1,
  /** Bad flag, value, config file, port in use, missing app file or export: nothing was started. */
  usage: 2,
  /** Workers kept dying right after they started: keel stops instead of restarting forever. */
  workerBootLoop: 3,
  /** The app threw while loading (syntax error, throw at import): keel stops instead of restarting forever. */
  appLoad: 4,
} as const;

interface CatalogEntry {
  readonly message: (details: Record<string, string>) => string;
  readonly exitCode?: number;
  readonly status?: number;
}

const catalog = {
  KEEL_ERR_CONFIG_VALUE: {
    message: (d) => `${d.setting}: ${JSON.stringify(d.value)} is not valid; expected ${d.allowed}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_CONFIG_UNKNOWN: {
    message: (d) => `${d.where}: unknown setting ${JSON.stringify(d.key)}${d.hint ? `; ${d.hint}` : ''}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_CONFIG_REMOVED: {
    message: (d) => `${d.where}: ${d.key} was removed, use ${d.replacement}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_CONFIG_FILE: {
    message: (d) => `--config: cannot load ${d.path}: ${d.reason}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_ENV_FILE: {
    message: (d) => `${d.setting}: cannot read ${d.path}: ${d.reason}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_USAGE: {
    message: (d) => d.text,
    exitCode: EXIT.usage,
  },
  /** A certificate, key or TLS setting that cannot work; `text` names the flag and the file. */
  KEEL_ERR_TLS: {
    message: (d) => d.text,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_APP_SPEC: {
    message: (d) => `APP: ${JSON.stringify(d.spec)} is not valid; expected path/to/file[:export] or path/to/file:factory()`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_APP_NOT_FOUND: {
    message: (d) => `APP: file ${d.path} does not exist`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_APP_EXPORT: {
    message: (d) => `APP: ${d.path} has no export ${d.name}${d.available ? ` (it exports: ${d.available})` : ''}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_APP_SHAPE: {
    message: (d) =>
      `APP: ${d.what} is not an app keel can serve; expected a (req, res) listener, an Express/Connect/Koa/Fastify app, or an object with fetch(request)`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_APP_LOAD: {
    message: (d) => `APP: ${d.path} failed to load: ${d.reason}`,
    exitCode: EXIT.appLoad,
  },
  KEEL_ERR_BIND_IN_USE: {
    message: (d) => `${d.setting}: ${d.address} is already in use by another process`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_BIND_FAILED: {
    message: (d) => `${d.setting}: cannot listen on ${d.address}: ${d.reason}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_USER: {
    message: (d) => `${d.setting}: ${d.reason}`,
    exitCode: EXIT.usage,
  },
  /** `keel dev` shows stack traces and source: it must never be reachable from another machine. */
  KEEL_ERR_DEV_NOT_LOOPBACK: {
    message: (d) => `${d.setting}: keel dev listens on loopback only (${d.address} is not); use keel serve for a public address`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_BOOT_LOOP: {
    message: (d) => `workers keep exiting right after they start (${d.count} within a minute); last cause: ${d.cause}`,
    exitCode: EXIT.workerBootLoop,
  },
  /** A managed upstream (--run, routes with run) exited or never listened when keel started it. */
  KEEL_ERR_RUN_FAILED: {
    message: (d) => `${d.source}: ${d.reason}`,
    exitCode: EXIT.usage,
  },
  KEEL_ERR_BODY_TOO_LARGE: { message: () => 'request body is larger than --max-body', status: 413 },
  KEEL_ERR_URI_TOO_LONG: { message: () => 'request line is longer than --limit-request-line', status: 414 },
  KEEL_ERR_HEADERS_TOO_LARGE: { message: () => 'request headers exceed the configured limits', status: 431 },
  KEEL_ERR_BAD_REQUEST: { message: () => 'malformed request', status: 400 },
  KEEL_ERR_REQUEST_TIMEOUT: { message: () => 'the app did not answer within --request-timeout', status: 504 },
  KEEL_ERR_APP_FAILED: { message: () => 'the app failed while handling the request', status: 500 },
} as const satisfies Record<string, CatalogEntry>;

export type KeelErrorCode = keyof typeof catalog;

/** An error keel raises on purpose: a stable `code`, an exit status for start-up failures, an HTTP status for client-facing ones. */
export class KeelError extends Error {
  readonly code: KeelErrorCode;
  readonly exitCode: number;
  readonly status: number;

  constructor(code: KeelErrorCode, details: Record<string, string> = {}, options?: { cause?: unknown }) {
    const entry: CatalogEntry = catalog[code];
    super(entry.message(details), options);
    this.name = 'KeelError';
    this.code = code;
    this.exitCode = entry.exitCode ?? EXIT.failure;
    this.status = entry.status ?? 500;
  }
}

export function keelError(code: KeelErrorCode, details: Record<string, string> = {}, options?: { cause?: unknown }): KeelError {
  return new KeelError(code, details, options);
}

export function isKeelError(err: unknown): err is KeelError {
  return err instanceof KeelError;
}
