/**
 * How the effective config maps into a container (Docker and Kubernetes alike): the project is
 * the image's /app, keel listens on every interface of the container's own network, ports below
 * 1024 move up (the container runs as a non-root user), logs go to stdout and stderr for the
 * runtime to collect, and files that must not be baked into an image (TLS keys, env files)
 * are mounted at run time.
 */
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import type { StaticRoute } from '../config/route-types.js';
import type { SettingKey } from '../config/settings.js';
import type { BindAddress, SniCertificate } from '../config/value-types.js';
import { isTlsBind } from '../config/tls-binds.js';
import { appArgument } from './deploy-plan.js';
import { type SecretSetting, serveArguments } from './serve-arguments.js';

/** The project's directory inside the image. */
export const APP_DIR = '/app';
/** Where TLS files are mounted (a volume, or a Kubernetes TLS Secret). */
export const TLS_DIR = '/etc/keel/tls';
/** Where ACME state lives: a volume, so certificates survive a new container. */
export const STATE_DIR = '/var/lib/keel';
const DEFAULT_ADMIN_PORT = 9000;
/** Ports below 1024 need privileges a non-root container lacks; they move up by this much (80 → 8080). */
const PORT_SHIFT = 8000;

export interface ContainerPort {
  /** A Kubernetes port name: http, https, redirect, http-2… */
  readonly name: string;
  /** The port keel listens on inside the container. */
  readonly containerPort: number;
  /** The port the config asked for: what a Service or `docker run -p` publishes. */
  readonly publishedPort: number;
}

export interface ContainerLayout {
  /** `serve …` as the containerised keel runs it. */
  readonly args: readonly string[];
  readonly secrets: readonly SecretSetting[];
  /** The ports to publish: binds and the HTTPS redirect listener. */
  readonly ports: readonly ContainerPort[];
  readonly adminPort: number;
  /** TLS files the config names, as host path → path inside the container. */
  readonly tlsFiles: readonly { readonly host: string; readonly inContainer: string }[];
  /** ACME state needs a volume at STATE_DIR. */
  readonly needsState: boolean;
  /** Environment files the config loads: passed at run time, never copied into the image. */
  readonly envFiles: readonly string[];
  readonly notes: readonly string[];
}

export interface ContainerOptions {
  /** 127.0.0.1 for Docker (HEALTHCHECK runs inside the container), 0.0.0.0 for Kubernetes (kubelet probes from outside). */
  readonly adminHost: string;
  /** Whether the project has a .env file, which keel would load and the image must not contain. */
  readonly hasDotEnv: boolean;
}

function portName(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

/**
 * Maps `config` into a container.
 *
 * @example
 *   containerLayout(config, { adminHost: '127.0.0.1', hasDotEnv: false }).args
 *   // ['serve', 'server.ts', '--bind', '0.0.0.0:8000', '--workers', '2']
 */
export function containerLayout(config: ResolvedConfig, options: ContainerOptions): ContainerLayout {
  const notes: string[] = [];
  const inProject = (path: string): string | null => {
    const rel = relative(config.cwd, isAbsolute(path) ? path : resolve(config.cwd, path));
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? null : rel.split(sep).join('/');
  };

  const ports: ContainerPort[] = [];
  const taken = new Set<string>(['admin']);
  const published = (bind: BindAddress, role: 'bind' | 'redirect'): BindAddress => {
    const tls = role === 'bind' && isTlsBind(bind, config);
    let port = bind.kind === 'tcp' ? bind.port : tls ? 8443 : 8000;
    if (bind.kind === 'unix') notes.push(`${bind.text}: a unix socket is unreachable from outside a container; keel listens on port ${port} instead`);
    const publishedPort = port === 0 ? 8000 : port;
    if (port > 0 && port < 1024) {
      notes.push(`port ${port} needs root; inside the container keel listens on ${port + PORT_SHIFT}, published as ${port}`);
      port += PORT_SHIFT;
    } else if (port === 0) {
      port = 8000;
    }
    ports.push({ name: portName(role === 'redirect' ? 'redirect' : tls ? 'https' : 'http', taken), containerPort: port, publishedPort });
    const scheme = bind.scheme ? `${bind.scheme}://` : '';
    return { kind: 'tcp', host: '0.0.0.0', port, text: `${scheme}0.0.0.0:${port}`, ...(bind.scheme ? { scheme: bind.scheme } : {}) };
  };
  const overrides: Partial<Record<SettingKey, unknown>> = {};
  overrides.bind = config.bind.map((b) => published(b, 'bind'));
  if (config.redirectHttp) {
    overrides.redirectHttp = published(config.redirectHttp, 'redirect');
    const https = ports.find((p) => p.name.startsWith('https'));
    if (https && https.containerPort !== https.publishedPort) {
      notes.push(`--redirect-http sends clients to the port keel listens on, ${https.containerPort}: publish it as ${https.containerPort} too, or redirect at your load balancer`);
    }
  }

  const adminPort = config.admin?.kind === 'tcp' && config.admin.port > 0 ? config.admin.port : DEFAULT_ADMIN_PORT;
  if (!config.admin) notes.push('--admin was off; containers need it for health checks, so it is on at port 9000');
  overrides.admin = { kind: 'tcp', host: options.adminHost, port: adminPort, text: `${options.adminHost}:${adminPort}` } satisfies BindAddress;

  // The container runtime collects stdout and stderr (docker logs, kubectl logs); files would fill a read-only or ephemeral disk.
  for (const key of ['accessLogfile', 'errorLogfile'] as const) {
    if (config[key] !== '-' && config[key] !== 'off') {
      notes.push(`${key === 'accessLogfile' ? '--access-logfile' : '--error-logfile'} ${config[key]}: in a container logs go to ${key === 'accessLogfile' ? 'stdout' : 'stderr'}`);
      overrides[key] = '-';
    }
  }

  const tlsFiles: { host: string; inContainer: string }[] = [];
  const tlsPath = (file: string): string => {
    const inContainer = `${TLS_DIR}/${basename(file)}`;
    if (!tlsFiles.some((f) => f.inContainer === inContainer)) tlsFiles.push({ host: resolve(config.cwd, file), inContainer });
    return inContainer;
  };
  for (const key of ['certfile', 'keyfile', 'caCerts'] as const) {
    const file = config[key];
    if (file) overrides[key] = tlsPath(file);
  }
  if (config.cert.length > 0) overrides.cert = config.cert.map((c): SniCertificate => ({ host: c.host, certfile: tlsPath(c.certfile), keyfile: tlsPath(c.keyfile) }));
  const needsState = config.https !== 'off';
  if (needsState) overrides.stateDir = STATE_DIR;

  overrides.static = config.static.map((route): StaticRoute => {
    const rel = inProject(route.root);
    if (rel === null) notes.push(`--static ${route.path}: ${route.root} is outside the project, so not in the image; mount it there`);
    const root = rel ?? route.root;
    return { ...route, root, text: `${route.path}=${root}${route.spa ? ' spa' : ''}${route.cache ? '' : ' cache=off'}` };
  });

  let app: string | null = null;
  if (config.app) {
    const rel = inProject(config.app.file);
    if (rel === null) notes.push(`APP ${config.app.file} is outside the project directory, so not in the image`);
    app = appArgument(config.app, rel ?? config.app.file);
  }

  const envFiles = [...(options.hasDotEnv ? ['.env'] : []), ...config.envFile];
  if (config.user || config.group) notes.push('--user and --group are left out: the container already runs as the non-root user node');

  const { args, secrets } = serveArguments(config, {
    app,
    overrides,
    // Env files hold secrets: they are handed to the container at run time (--env-file, a Secret), not read from the image.
    omit: new Set<SettingKey>(['user', 'group', 'pid', 'envFile']),
  });
  return { args, secrets, ports, adminPort, tlsFiles, needsState, envFiles, notes };
}
