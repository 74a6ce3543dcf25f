/**
 * `keel init systemd|docker|kubernetes`: resolves the effective config as `keel serve` would,
 * then writes deployment files filled from it (src/deploy has one generator per target) and
 * prints what it wrote and what to run next.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { DeployPlan } from '../deploy/deploy-plan.js';
import { type ProjectFacts, renderDocker } from '../deploy/dockerfile.js';
import { kubernetesName, renderKubernetes } from '../deploy/kubernetes-manifests.js';
import { renderSystemdUnit } from '../deploy/systemd-unit.js';
import { keelError } from '../errors.js';
import { checkServeConfig } from './serve.js';

export const INIT_TARGETS = ['systemd', 'docker', 'kubernetes'] as const;
export type InitTarget = (typeof INIT_TARGETS)[number];

export interface InitInput {
  readonly target: string;
  readonly appArg: string | null;
  readonly cli: Record<string, string | string[] | boolean>;
  /** --out: the directory to write into (default: the working directory). */
  readonly out: string | null;
  /** --force: overwrite files that exist. */
  readonly force: boolean;
}

/** The runtime image's Node major when package.json's engines does not pin one. */
const DEFAULT_NODE_MAJOR = 24;
/** The oldest Node keel runs on. */
const OLDEST_NODE_MAJOR = 22;
/** Files written with secrets' names (never their values) are still kept from other users. */
const PRIVATE_FILES = new Set(['keel.env.example']);

function nodeMajor(engines: unknown): number {
  if (typeof engines !== 'string') return DEFAULT_NODE_MAJOR;
  // "^22.12", "22.x", "~24.1": that major; ">=22.12" and anything looser: the current LTS.
  const pinned = /^\s*[\^~]?\s*v?(\d+)(?:\.[\dx*]+)*\s*$/.exec(engines);
  const major = pinned ? Number(pinned[1]) : DEFAULT_NODE_MAJOR;
  return major >= OLDEST_NODE_MAJOR ? major : DEFAULT_NODE_MAJOR;
}

/** What the project in `cwd` looks like, from its package.json and files. */
function readProject(cwd: string): ProjectFacts {
  let pkg: Record<string, unknown> | null = null;
  try {
    pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    // No package.json (or not JSON): the Dockerfile says what is missing.
  }
  const scripts = (pkg?.scripts ?? {}) as Record<string, unknown>;
  const dependencies = (pkg?.dependencies ?? {}) as Record<string, unknown>;
  const engines = (pkg?.engines ?? {}) as Record<string, unknown>;
  return {
    name: typeof pkg?.name === 'string' ? pkg.name : basename(cwd),
    hasPackageJson: pkg !== null,
    hasLockfile: existsSync(join(cwd, 'package-lock.json')) || existsSync(join(cwd, 'npm-shrinkwrap.json')),
    hasBuildScript: typeof scripts.build === 'string',
    dependsOnKeel: typeof dependencies.keel === 'string',
    nodeMajor: nodeMajor(engines.node),
    hasDotEnv: existsSync(join(cwd, '.env')),
  };
}

function plan(target: InitTarget, config: ResolvedConfig): DeployPlan {
  if (target === 'systemd') {
    const keel = fileURLToPath(new URL('../../bin/keel.js', import.meta.url));
    return renderSystemdUnit(config, { node: process.execPath, keel });
  }
  const project = readProject(config.cwd);
  const name = kubernetesName(project.name);
  if (target === 'docker') return renderDocker(config, { ...project, name });
  return renderKubernetes(config, { name, hasDotEnv: project.hasDotEnv });
}

/**
 * Writes the deployment files of `input.target`.
 *
 * @example
 *   await init({ target: 'systemd', appArg: 'server.ts', cli: { workers: '4' }, out: 'deploy', force: false });
 */
export async function init(input: InitInput): Promise<void> {
  if (!(INIT_TARGETS as readonly string[]).includes(input.target)) {
    throw keelError('KEEL_ERR_USAGE', { text: `init: unknown target ${JSON.stringify(input.target)}; expected one of ${INIT_TARGETS.join(', ')}` });
  }
  const target = input.target as InitTarget;
  const cwd = process.cwd();
  const config = await resolveConfig({ cli: input.cli, appArg: input.appArg, env: process.env, cwd });
  checkServeConfig(config);
  const { files, notes, nextSteps } = plan(target, config);

  const outDir = resolve(cwd, input.out ?? '.');
  // Every file is checked before any is written: a refusal leaves nothing half-done.
  if (!input.force) {
    for (const file of files) {
      const path = join(outDir, file.name);
      if (existsSync(path)) throw keelError('KEEL_ERR_USAGE', { text: `init: ${path} already exists; pass --force to overwrite it` });
    }
  }
  try {
    mkdirSync(outDir, { recursive: true });
    for (const file of files) writeFileSync(join(outDir, file.name), file.text, { mode: PRIVATE_FILES.has(file.name) ? 0o600 : 0o644 });
  } catch (err) {
    throw keelError('KEEL_ERR_USAGE', { text: `--out: cannot write to ${outDir}: ${(err as Error).message}` });
  }

  const out = [`keel init ${target}: wrote`, ...files.map((f) => `  ${join(outDir, f.name)}`)];
  if (notes.length > 0) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
  let steps = nextSteps;
  if (outDir !== cwd) {
    // The build context is the project: Docker finds the Dockerfile and .dockerignore only at its root.
    steps = target === 'docker' ? [`move Dockerfile and .dockerignore from ${outDir} into ${cwd}, the build context`, ...nextSteps] : [`cd ${outDir}`, ...nextSteps];
  }
  out.push('', 'next steps:', ...steps.map((s, i) => `  ${i + 1}. ${s}`), '');
  process.stdout.write(out.join('\n'));
}
