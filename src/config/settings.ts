/**
 * The settings table: the single source of truth for every option keel has.
 * The CLI parser, KEEL_* env parsing, config-file validation, the defineConfig types,
 * --print-config, error messages and docs/settings.md are all derived from it.
 * Names follow Gunicorn's where Gunicorn has the setting.
 */
import { availableParallelism } from 'node:os';
import { LETS_ENCRYPT } from '../tls/acme-directories.js';
import {
  type BindAddress,
  type ValueType,
  bindAddress,
  boolean,
  bytes,
  integer,
  ipRange,
  listOf,
  oneOf,
  optionalBindAddress,
  optionalText,
  seconds,
  text,
  domainName,
  hstsPolicy,
  sniCertificates,
} from './value-types.js';
import { type Balance, balance, proxyRoutes, rateLimits, routeList, runCommand, staticRoutes } from './route-types.js';

export interface Setting<K extends string, T> {
  /** The config-file key and the ResolvedConfig property. */
  readonly key: K;
  /** Long flag without dashes; the env var is KEEL_ plus this in upper snake case. */
  readonly flag: string;
  readonly short?: string;
  readonly type: ValueType<T>;
  /** A value, or a function of nothing for defaults that depend on the machine. */
  readonly default: T | (() => T);
  /** Shown in docs instead of a machine-dependent default. */
  readonly defaultText?: string;
  readonly help: string;
  readonly section: 'server' | 'tls' | 'routes' | 'upstreams' | 'cache' | 'ratelimit' | 'workers' | 'limits' | 'proxy' | 'logging' | 'process' | 'config';
  /** Repeatable on the command line (values accumulate). */
  readonly repeatable?: boolean;
  /** A flag that takes no value. */
  readonly switch?: boolean;
  /** Values are hidden in --print-config and logs. */
  readonly secret?: boolean;
  /** Only on the command line, not in env or config files. */
  readonly cliOnly?: boolean;
}

function setting<const K extends string, T>(entry: Setting<K, T>): Setting<K, T> {
  return entry;
}

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const settings = [
  // server
  setting({
    key: 'bind',
    flag: 'bind',
    short: 'b',
    type: listOf(bindAddress(8000, true), 'HOST:PORT, [IPv6]:PORT or unix:/path, optionally prefixed https:// or http:// (repeatable)'),
    default: [{ kind: 'tcp', host: '127.0.0.1', port: 8000, text: '127.0.0.1:8000' } as BindAddress],
    repeatable: true,
    help: 'Address to listen on. Loopback unless told otherwise; a public address without TLS starts with a warning. https:// makes it TLS, http:// plain; bare addresses are TLS when a certificate is configured.',
    section: 'server',
  }),
  setting({
    key: 'admin',
    flag: 'admin',
    type: optionalBindAddress(9000),
    default: { kind: 'tcp', host: '127.0.0.1', port: 9000, text: '127.0.0.1:9000' } as BindAddress,
    help: 'Admin listener for /healthz, /readyz, /metrics and the status page at /, or off.',
    section: 'server',
  }),
  setting({
    key: 'adminToken',
    flag: 'admin-token',
    type: optionalText('a token of at least 16 characters', 16),
    default: null,
    secret: true,
    help: 'Bearer token the status page, /events and /metrics require (header Authorization: Bearer TOKEN, or ?token=TOKEN). Required when --admin is not loopback.',
    section: 'server',
  }),
  setting({
    key: 'keepAlive',
    flag: 'keep-alive',
    type: seconds(0, 3600),
    default: 75,
    help: 'Seconds an idle keep-alive connection stays open. Longer than common load balancers\' idle timeouts (60 s), so they never reuse a connection keel just closed.',
    section: 'server',
  }),
  setting({
    key: 'proxyProtocol',
    flag: 'proxy-protocol',
    type: boolean(),
    default: false,
    switch: true,
    help: 'Expect the PROXY protocol (v1 or v2) header from a load balancer on every connection.',
    section: 'proxy',
  }),
  setting({
    key: 'forwardedAllowIps',
    flag: 'forwarded-allow-ips',
    type: listOf(ipRange()),
    default: ['127.0.0.1', '::1'],
    help: 'Peers trusted to set X-Forwarded-For, X-Forwarded-Proto and Forwarded. * trusts everyone (only behind a proxy you control).',
    section: 'proxy',
  }),
  // tls
  setting({
    key: 'certfile',
    flag: 'certfile',
    type: optionalText('a path to a PEM certificate'),
    default: null,
    help: 'PEM certificate for TLS binds. Bare binds become TLS when it is set.',
    section: 'tls',
  }),
  setting({
    key: 'keyfile',
    flag: 'keyfile',
    type: optionalText('a path to a PEM private key'),
    default: null,
    help: 'PEM private key of --certfile; must not be readable by other users.',
    section: 'tls',
  }),
  setting({
    key: 'caCerts',
    flag: 'ca-certs',
    type: optionalText('a path to PEM certificates'),
    default: null,
    help: 'Intermediate certificates (PEM) sent after --certfile, so clients can build the chain.',
    section: 'tls',
  }),
  setting({
    key: 'cert',
    flag: 'cert',
    type: sniCertificates(),
    default: [],
    repeatable: true,
    help: 'Another certificate, chosen by SNI for HOST (repeatable). --certfile answers names no --cert covers.',
    section: 'tls',
  }),
  setting({
    key: 'https',
    flag: 'https',
    type: oneOf(['off', 'auto', 'local'] as const),
    default: 'off' as 'off' | 'auto' | 'local',
    help: 'Certificates keel gets itself: auto from an ACME CA (Let\'s Encrypt) for --domain, local from a local CA for development.',
    section: 'tls',
  }),
  setting({
    key: 'domain',
    flag: 'domain',
    type: listOf(domainName()),
    default: [],
    repeatable: true,
    help: 'Domain names for --https auto and local, and names --certfile must cover.',
    section: 'tls',
  }),
  setting({
    key: 'acmeEmail',
    flag: 'acme-email',
    type: optionalText('an email address'),
    default: null,
    help: 'Contact address for the ACME account (expiry warnings from the CA).',
    section: 'tls',
  }),
  setting({
    key: 'acmeDirectory',
    flag: 'acme-directory',
    type: text('an ACME directory URL, or staging for Let\'s Encrypt staging'),
    default: LETS_ENCRYPT.production as string,
    help: 'ACME directory of the CA for --https auto. staging means Let\'s Encrypt\'s staging CA.',
    section: 'tls',
  }),
  setting({
    key: 'stateDir',
    flag: 'state-dir',
    type: optionalText('a directory path'),
    default: null,
    defaultText: '$XDG_DATA_HOME/keel or ~/.local/share/keel',
    help: 'Where keel keeps its ACME account, certificates and local CA (created readable only by its owner).',
    section: 'tls',
  }),
  setting({
    key: 'redirectHttp',
    flag: 'redirect-http',
    type: optionalBindAddress(80),
    default: null,
    help: 'A plain listener that redirects every request to HTTPS with 308 and answers ACME HTTP-01 challenges, e.g. 0.0.0.0:80.',
    section: 'tls',
  }),
  setting({
    key: 'hsts',
    flag: 'hsts',
    type: hstsPolicy(),
    default: 'max-age=31536000',
    help: 'Strict-Transport-Security on HTTPS responses to names other than localhost, or off.',
    section: 'tls',
  }),
  setting({
    key: 'sslMinVersion',
    flag: 'ssl-min-version',
    type: oneOf(['TLSv1.2', 'TLSv1.3'] as const),
    default: 'TLSv1.2' as 'TLSv1.2' | 'TLSv1.3',
    help: 'Oldest TLS version accepted.',
    section: 'tls',
  }),
  setting({
    key: 'sslCiphers',
    flag: 'ssl-ciphers',
    type: text('an OpenSSL cipher list'),
    default: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
    defaultText: 'Mozilla intermediate: ECDHE with AES-GCM or ChaCha20',
    help: 'TLS 1.2 cipher suites (TLS 1.3 suites are all modern).',
    section: 'tls',
  }),
  setting({
    key: 'h2c',
    flag: 'h2c',
    type: boolean(),
    default: false,
    switch: true,
    help: 'Accept cleartext HTTP/2 (prior knowledge) on plain binds, beside HTTP/1.1.',
    section: 'tls',
  }),
  // routes
  setting({
    key: 'static',
    flag: 'static',
    type: staticRoutes(),
    default: [],
    repeatable: true,
    help: 'Serve files from DIR under a URL prefix (repeatable): /assets=./public. Add spa to answer index.html for unknown paths.',
    section: 'routes',
  }),
  setting({
    key: 'staticCacheSize',
    flag: 'static-cache-size',
    type: bytes(),
    default: 16 * 1024 * 1024,
    help: 'Memory each worker may use to keep small static files, per --static route (Nginx open_file_cache); 0 reads every file from disk.',
    section: 'routes',
  }),
  setting({
    key: 'staticCacheMaxFile',
    flag: 'static-cache-max-file',
    type: bytes(),
    default: 256 * 1024,
    help: 'Static files up to this size are kept in memory (with their precompressed siblings); larger ones are streamed from disk.',
    section: 'routes',
  }),
  setting({
    key: 'proxy',
    flag: 'proxy',
    type: proxyRoutes(),
    default: [],
    repeatable: true,
    help: 'Proxy a URL prefix to upstream servers, balanced (repeatable): /api=http://127.0.0.1:5000,http://127.0.0.1:5001.',
    section: 'routes',
  }),
  setting({
    key: 'routes',
    flag: 'routes',
    type: routeList(),
    default: [],
    help: 'Routes as a list (config file) or JSON: [{ path: "/api", proxy: ["http://127.0.0.1:5000"] }]. Matched with --static and --proxy by longest prefix, before the app.',
    section: 'routes',
  }),
  setting({
    key: 'run',
    flag: 'run',
    type: runCommand(),
    default: null,
    help: 'Start and supervise this server command and proxy / to it: "gunicorn -b 127.0.0.1:{port} app:app". {socket} gives a unix socket instead.',
    section: 'routes',
  }),
  setting({
    key: 'instances',
    flag: 'instances',
    type: integer(1, 64),
    default: 1,
    help: 'How many copies of --run to start and balance across.',
    section: 'routes',
  }),
  setting({
    key: 'runStartTimeout',
    flag: 'run-start-timeout',
    type: seconds(0.1, 3600),
    default: 30,
    help: 'A --run instance must answer HTTP within this long after it starts, or it counts as failed (exit status 2 at start-up, a restart later).',
    section: 'routes',
  }),
  setting({
    key: 'compress',
    flag: 'compress',
    type: boolean(),
    default: true,
    help: 'Compress text-like responses with brotli or gzip when the client accepts it.',
    section: 'routes',
  }),
  setting({
    key: 'compressMinLength',
    flag: 'compress-min-length',
    type: bytes(),
    default: 1024,
    help: 'Responses smaller than this are sent uncompressed (when their length is known).',
    section: 'routes',
  }),
  // upstreams
  setting({
    key: 'balance',
    flag: 'balance',
    type: balance(),
    default: 'round-robin' as Balance,
    help: 'How proxy routes pick an upstream: round-robin, least-conn, hash-ip (same client, same upstream) or hash-header:NAME.',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyConnectTimeout',
    flag: 'proxy-connect-timeout',
    type: seconds(0.001, 3600),
    default: 5,
    help: 'An upstream must accept the connection within this long, or the next one is tried (502 when none can).',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyHeaderTimeout',
    flag: 'proxy-header-timeout',
    type: seconds(0.001, 86_400),
    default: 60,
    help: 'An upstream must send its response headers within this long after the request, or the client gets 504.',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyIdleTimeout',
    flag: 'proxy-idle-timeout',
    type: seconds(0.001, 86_400),
    default: 60,
    help: 'Longest silence between two chunks of an upstream response body before keel gives up on it.',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyRequestBuffering',
    flag: 'proxy-request-buffering',
    type: boolean(),
    default: true,
    help: 'Read a request body whole (over 64 KiB into an unlinked temporary file) before sending it upstream, so a slow client cannot hold an upstream worker; false streams it as it arrives.',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyResponseBuffer',
    flag: 'proxy-response-buffer',
    type: bytes(),
    default: 64 * 1024 * 1024,
    help: 'How much of a response keel holds for a client that reads slower than the upstream sends (over 256 KiB in an unlinked temporary file), so the upstream is released; past it the upstream waits. 0 holds nothing.',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyMaxFails',
    flag: 'proxy-max-fails',
    type: integer(0, 1000),
    default: 3,
    help: 'An upstream failing this many times in a row is skipped for --proxy-fail-timeout (Nginx max_fails). 0 never skips.',
    section: 'upstreams',
  }),
  setting({
    key: 'proxyFailTimeout',
    flag: 'proxy-fail-timeout',
    type: seconds(0.1, 3600),
    default: 10,
    help: 'How long an upstream that reached --proxy-max-fails is skipped.',
    section: 'upstreams',
  }),
  setting({
    key: 'interceptErrors',
    flag: 'intercept-errors',
    type: boolean(),
    default: false,
    switch: true,
    help: 'Replace an upstream\'s 5xx body with keel\'s generic error page (with the request ID), logging the original.',
    section: 'upstreams',
  }),
  // cache
  setting({
    key: 'cache',
    flag: 'cache',
    type: bytes(),
    default: 0,
    help: 'Response cache size for app and proxied responses (e.g. 64m), kept by Cache-Control. 0 turns it off.',
    section: 'cache',
  }),
  setting({
    key: 'cacheRedis',
    flag: 'cache-redis',
    type: optionalText('a redis:// or rediss:// URL'),
    default: null,
    secret: true,
    help: 'Keep the response cache in Redis, shared by every keel using the same URL, instead of in the primary.',
    section: 'cache',
  }),
  // rate limits
  setting({
    key: 'rateLimit',
    flag: 'rate-limit',
    type: rateLimits(),
    default: [],
    repeatable: true,
    help: 'Requests per client address: "10r/s burst=20" for all routes, or "/api 10r/s burst=20" for a prefix (repeatable). Over the limit: 429 with Retry-After.',
    section: 'ratelimit',
  }),
  setting({
    key: 'limitConn',
    flag: 'limit-conn',
    type: integer(0, 1_000_000),
    default: 0,
    help: 'Most open connections per client address, across all workers; more are refused with 429. 0 means no limit.',
    section: 'ratelimit',
  }),
  setting({
    key: 'redis',
    flag: 'redis',
    type: optionalText('a redis:// or rediss:// URL'),
    default: null,
    secret: true,
    help: 'Count rate limits and --limit-conn connections in Redis, so several keel machines share them, instead of in the primary.',
    section: 'ratelimit',
  }),
  // workers
  setting({
    key: 'workers',
    flag: 'workers',
    short: 'w',
    type: integer(1, 1024),
    default: () => availableParallelism(),
    defaultText: 'the number of CPUs available',
    help: 'Number of worker processes.',
    section: 'workers',
  }),
  setting({
    key: 'timeout',
    flag: 'timeout',
    short: 't',
    type: seconds(0, 86_400),
    default: 30,
    help: 'A worker whose event loop does not answer heartbeats for this long is killed and replaced. 0 turns it off.',
    section: 'workers',
  }),
  setting({
    key: 'gracefulTimeout',
    flag: 'graceful-timeout',
    type: seconds(0, 86_400),
    default: 30,
    help: 'How long a draining worker may finish in-flight requests before it is killed.',
    section: 'workers',
  }),
  setting({
    key: 'shutdownDelay',
    flag: 'shutdown-delay',
    type: seconds(0, 3600),
    default: 0,
    help: 'On TERM/INT, keep serving this long after /readyz turns 503, so a load balancer stops sending traffic first.',
    section: 'workers',
  }),
  setting({
    key: 'maxRequests',
    flag: 'max-requests',
    type: integer(0, 1_000_000_000),
    default: 0,
    help: 'Recycle a worker gracefully after this many requests. 0 turns it off.',
    section: 'workers',
  }),
  setting({
    key: 'maxRequestsJitter',
    flag: 'max-requests-jitter',
    type: integer(0, 1_000_000_000),
    default: 0,
    help: 'Add up to this many requests at random to --max-requests, so workers do not all recycle at once.',
    section: 'workers',
  }),
  setting({
    key: 'maxMemory',
    flag: 'max-memory',
    type: bytes(),
    default: 0,
    help: 'Recycle a worker gracefully when its resident memory exceeds this size (e.g. 512m). 0 turns it off.',
    section: 'workers',
  }),
  // limits
  setting({
    key: 'requestTimeout',
    flag: 'request-timeout',
    type: seconds(0, 86_400),
    default: 60,
    help: 'A request not answered within this many seconds gets 504 and is logged; a response already under way is cut only when it sends nothing for this long. 0 turns it off.',
    section: 'limits',
  }),
  setting({
    key: 'headerTimeout',
    flag: 'header-timeout',
    type: seconds(1, 3600),
    default: 10,
    help: 'A client must send its request headers within this many seconds (slow-client protection).',
    section: 'limits',
  }),
  setting({
    key: 'bodyTimeout',
    flag: 'body-timeout',
    type: seconds(1, 86_400),
    default: 60,
    help: 'A client must send its whole request, body included, within this many seconds.',
    section: 'limits',
  }),
  setting({
    key: 'lingeringTime',
    flag: 'lingering-time',
    type: seconds(0, 3600),
    default: 30,
    help: "After keel's last answer on an HTTP/1 connection (a refused upload, a request behind Connection: close), how long it may go on reading and dropping what the client still sends, so the client reads the answer instead of a reset (Nginx's lingering_time). 0 closes at once.",
    section: 'limits',
  }),
  setting({
    key: 'lingeringTimeout',
    flag: 'lingering-timeout',
    type: seconds(0.1, 3600),
    default: 5,
    help: 'Within --lingering-time, how long keel waits for more of what the client sends before it closes (Nginx\'s lingering_timeout).',
    section: 'limits',
  }),
  setting({
    key: 'maxBody',
    flag: 'max-body',
    type: bytes(),
    default: 1024 * 1024,
    help: 'Largest request body accepted; larger ones get 413 without being read. 0 means no limit.',
    section: 'limits',
  }),
  setting({
    key: 'limitRequestLine',
    flag: 'limit-request-line',
    type: integer(0, 65_535),
    default: 4094,
    help: 'Longest request line (method, URL, protocol) in bytes; longer ones get 414. 0 means the maximum (65535).',
    section: 'limits',
  }),
  setting({
    key: 'limitRequestFields',
    flag: 'limit-request-fields',
    type: integer(1, 32_768),
    default: 100,
    help: 'Most header fields in a request; more get 431.',
    section: 'limits',
  }),
  setting({
    key: 'limitRequestFieldSize',
    flag: 'limit-request-field-size',
    type: integer(1, 65_535),
    default: 8190,
    help: 'Largest header field line in bytes (name, colon, value and CRLF, as Gunicorn counts it); larger ones get 431.',
    section: 'limits',
  }),
  // logging
  setting({
    key: 'accessLogfile',
    flag: 'access-logfile',
    type: text('a file path, - for stdout, or off'),
    default: '-',
    help: 'Where the access log goes: a file path, - for stdout, or off.',
    section: 'logging',
  }),
  setting({
    key: 'accessLogformat',
    flag: 'access-logformat',
    type: text('combined, json, or a Gunicorn-style format such as \'%(h)s "%(r)s" %(s)s\''),
    default: 'combined',
    help: 'Access log format: combined (Apache/Nginx, plus duration and request ID), json, or Gunicorn atoms.',
    section: 'logging',
  }),
  setting({
    key: 'errorLogfile',
    flag: 'error-logfile',
    type: text('a file path, or - for stderr'),
    default: '-',
    help: 'Where the error log goes: a file path, or - for stderr.',
    section: 'logging',
  }),
  setting({
    key: 'logLevel',
    flag: 'log-level',
    type: oneOf(LOG_LEVELS),
    default: 'info' as LogLevel,
    help: 'Least severe level written to the error log.',
    section: 'logging',
  }),
  // process
  setting({
    key: 'user',
    flag: 'user',
    short: 'u',
    type: optionalText('a user name or numeric uid'),
    default: null,
    help: 'Run workers as this user (keel must start as root).',
    section: 'process',
  }),
  setting({
    key: 'group',
    flag: 'group',
    short: 'g',
    type: optionalText('a group name or numeric gid'),
    default: null,
    help: 'Run workers as this group (keel must start as root).',
    section: 'process',
  }),
  setting({
    key: 'pid',
    flag: 'pid',
    short: 'p',
    type: optionalText('a file path'),
    default: null,
    help: 'Write the primary process ID to this file.',
    section: 'process',
  }),
  // config
  setting({
    key: 'config',
    flag: 'config',
    short: 'c',
    type: optionalText('a path to keel.config.ts, .mts, .js, .mjs or .json'),
    default: null,
    defaultText: 'keel.config.{ts,mts,js,mjs,json} in the working directory, if present',
    help: 'Config file to read.',
    section: 'config',
    cliOnly: true,
  }),
  setting({
    key: 'envFile',
    flag: 'env-file',
    type: listOf(text('a file path'), 'file paths (repeatable)'),
    default: [] as string[],
    repeatable: true,
    help: 'Load environment variables from this file (repeatable); .env in the working directory is loaded when present. The real environment wins.',
    section: 'config',
  }),
  setting({
    key: 'printConfig',
    flag: 'print-config',
    type: boolean(),
    default: false,
    switch: true,
    help: 'Print the effective settings, secrets redacted, and exit.',
    section: 'config',
    cliOnly: true,
  }),
] as const;

type AnySetting = (typeof settings)[number];
type ValueOf<S> = S extends Setting<string, infer T> ? T : never;

/** Every setting resolved: what the rest of keel reads. Deep-frozen. */
export type ResolvedSettings = { readonly [S in AnySetting as S['key']]: ValueOf<S> };

export type SettingKey = AnySetting['key'];

/** The env var that sets a setting: KEEL_ plus its flag in upper snake case. */
export function envName(entry: { flag: string }): string {
  return `KEEL_${entry.flag.replace(/-/g, '_').toUpperCase()}`;
}

export function defaultOf<T>(entry: Setting<string, T>): T {
  return typeof entry.default === 'function' ? (entry.default as () => T)() : entry.default;
}

export function showValue<T>(entry: Setting<string, T>, value: T): string {
  if (value === null) return 'none';
  return entry.type.show ? entry.type.show(value) : Array.isArray(value) ? value.join(',') : String(value);
}
