/**
 * `keel init docker`: a multi-stage Dockerfile and its .dockerignore. Dependencies are installed
 * with `npm ci` in their own stage (cached while package-lock.json is unchanged), the app is
 * built in another when it has a build script, and the runtime stage runs keel as the image's
 * non-root `node` user, with keel as PID 1 in exec form so SIGTERM and SIGHUP reach it.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { APP_DIR, type ContainerLayout, STATE_DIR, TLS_DIR, containerLayout } from './container-layout.js';
import { type DeployPlan, shutdownSeconds } from './deploy-plan.js';

/** Seconds `docker stop` should wait past keel's shutdown budget (its default, 10 s, is often too short). */
const STOP_MARGIN_S = 5;

/** What init found in the project's package.json. */
export interface ProjectFacts {
  /** package.json's name, or the directory's: names the image. */
  readonly name: string;
  readonly hasPackageJson: boolean;
  readonly hasLockfile: boolean;
  readonly hasBuildScript: boolean;
  /** Whether keel is among the project's dependencies, so `npm ci --omit=dev` installs it. */
  readonly dependsOnKeel: boolean;
  /** The Node major version of the runtime image, from package.json's engines. */
  readonly nodeMajor: number;
  readonly hasDotEnv: boolean;
}

/** keel inside the image: installed by `npm ci` as a dependency of the project. */
export const KEEL_IN_IMAGE = `${APP_DIR}/node_modules/keel/bin/keel.js`;

/** An exec-form (JSON array) instruction argument: no shell between Docker and the process. */
function execForm(words: readonly string[]): string {
  return JSON.stringify(words).replace(/","/g, '", "');
}

/** The health check as a node one-liner: the slim image has no curl or wget. */
function healthCheck(adminPort: number): string[] {
  const script = `fetch('http://127.0.0.1:${adminPort}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return ['node', '-e', script];
}

/** The Dockerfile's text for `layout`. */
export function dockerfileText(layout: ContainerLayout, project: ProjectFacts): string {
  const base = `node:${project.nodeMajor}-slim`;
  const lock = project.hasLockfile ? 'package.json package-lock.json' : 'package.json';
  const lines = [
    '# syntax=docker/dockerfile:1',
    '# Written by `keel init docker` from the effective config; regenerate it after changing settings.',
    '',
    '# Production dependencies only, cached as long as package.json and package-lock.json do not change.',
    `FROM ${base} AS deps`,
    `WORKDIR ${APP_DIR}`,
    `COPY ${lock} ./`,
    'RUN npm ci --omit=dev --no-audit --no-fund',
    '',
  ];
  if (project.hasBuildScript) {
    lines.push(
      '# The build needs the dev dependencies; only its output reaches the runtime image.',
      `FROM ${base} AS build`,
      `WORKDIR ${APP_DIR}`,
      `COPY ${lock} ./`,
      'RUN npm ci --no-audit --no-fund',
      'COPY . .',
      'RUN npm run build',
      '# Dev dependencies stay behind; the runtime takes node_modules from the deps stage.',
      'RUN rm -rf node_modules',
      '',
    );
  }
  const ports = [...layout.ports.map((p) => p.containerPort)];
  lines.push(
    `FROM ${base} AS runtime`,
    'ENV NODE_ENV=production',
    `WORKDIR ${APP_DIR}`,
    '# Files stay owned by root: the app cannot rewrite its own code.',
    project.hasBuildScript ? `COPY --from=build ${APP_DIR} ./` : 'COPY . .',
    `COPY --from=deps ${APP_DIR}/node_modules ./node_modules`,
  );
  if (layout.needsState) {
    lines.push(
      '# ACME account and certificates: a volume, so they survive a new container.',
      `RUN mkdir -p ${STATE_DIR} && chown node:node ${STATE_DIR}`,
      `VOLUME ${STATE_DIR}`,
    );
  }
  if (layout.tlsFiles.length > 0) lines.push(`# TLS files are mounted at run time, never baked in: -v /path/to/tls:${TLS_DIR}:ro`);
  lines.push(
    '# The official image\'s unprivileged user (uid 1000).',
    'USER node',
    `EXPOSE ${ports.join(' ')}`,
    '# keel drains its workers on TERM (Docker\'s default, stated here so nobody changes it by accident).',
    'STOPSIGNAL SIGTERM',
    `# The admin listener answers /healthz inside the container only (127.0.0.1:${layout.adminPort}).`,
    `HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ${execForm(healthCheck(layout.adminPort))}`,
    '# Exec form, no shell wrapper: keel is PID 1 and gets SIGTERM and SIGHUP itself (a shell would',
    '# swallow them). No `--init` needed: keel reaps its own workers (add it if the app spawns processes of its own).',
    // `--`: keel's --env-file is keel's, not Node's (see bin/keel.js).
    `ENTRYPOINT ${execForm(['node', '--', KEEL_IN_IMAGE])}`,
    `CMD ${execForm(layout.args)}`,
    '',
  );
  return lines.join('\n');
}

/** What never goes into the image: dependencies (installed fresh), VCS data, secrets, local output. */
export function dockerignoreText(layout: ContainerLayout): string {
  const lines = [
    '# Written by `keel init docker`.',
    'node_modules',
    'npm-debug.log*',
    '.git',
    '.gitignore',
    'Dockerfile',
    '.dockerignore',
    '# Secrets: env files and keys are given to the container at run time.',
    '.env',
    '.env.*',
    '*.pem',
    '*.key',
    '*.crt',
    'coverage',
    '*.log',
  ];
  for (const file of layout.envFiles) if (!file.startsWith('.env') && !file.startsWith('/')) lines.push(file);
  return `${lines.join('\n')}\n`;
}

/**
 * Builds Dockerfile and .dockerignore for `config`.
 *
 * @example
 *   renderDocker(config, { name: 'shop', hasPackageJson: true, hasLockfile: true, hasBuildScript: false, dependsOnKeel: true, nodeMajor: 24, hasDotEnv: false })
 */
export function renderDocker(config: ResolvedConfig, project: ProjectFacts): DeployPlan {
  // HEALTHCHECK runs inside the container, so the admin listener can stay on loopback there.
  const layout = containerLayout(config, { adminHost: '127.0.0.1', hasDotEnv: project.hasDotEnv });
  const notes = [...layout.notes];
  if (!project.hasPackageJson) notes.push('no package.json here: the image needs one listing keel as a dependency (npm init -y && npm install keel)');
  else if (!project.dependsOnKeel) notes.push('keel is not in package.json\'s dependencies: run npm install keel, or the image has no keel');
  if (project.hasPackageJson && !project.hasLockfile) notes.push('no package-lock.json: npm ci needs one; run npm install first');
  const image = project.name;
  const run = [`docker run --rm`, ...layout.ports.map((p) => `-p ${p.publishedPort}:${p.containerPort}`)];
  if (layout.envFiles.length > 0) run.push(...layout.envFiles.map((f) => `--env-file ${f}`));
  for (const secret of layout.secrets) run.push(`-e ${secret.envName}`);
  if (layout.tlsFiles.length > 0) run.push(`-v /path/to/tls:${TLS_DIR}:ro`);
  if (layout.needsState) run.push(`-v keel-state:${STATE_DIR}`);
  run.push(image);
  const nextSteps = [
    `docker build -t ${image} .`,
    `${run.join(' ')}${layout.secrets.length > 0 ? `  # -e NAME passes ${layout.secrets.map((s) => s.envName).join(', ')} from your shell's environment` : ''}`,
    `docker kill --signal=HUP <container>  # reload without downtime; docker stop --time ${Math.ceil(shutdownSeconds(config) + STOP_MARGIN_S)} <container> lets keel drain`,
  ];
  return {
    files: [
      { name: 'Dockerfile', text: dockerfileText(layout, project) },
      { name: '.dockerignore', text: dockerignoreText(layout) },
    ],
    notes,
    nextSteps,
  };
}
