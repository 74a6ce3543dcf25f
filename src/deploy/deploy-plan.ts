/**
 * What every deployment target produces, and the facts about a config they all need: how long
 * keel may take to stop, which TCP ports it listens on, the APP argument.
 */
import type { AppSpec } from '../config/app-spec.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { BindAddress } from '../config/value-types.js';
import { KILL_GRACE_MS } from '../supervisor/arbiter.js';

export interface DeployFile {
  /** File name inside the output directory. */
  readonly name: string;
  readonly text: string;
}

/** The files of one target, things the operator must know about them, and the commands to run next. */
export interface DeployPlan {
  readonly files: readonly DeployFile[];
  readonly notes: readonly string[];
  readonly nextSteps: readonly string[];
}

/**
 * Seconds keel needs from SIGTERM to exit: --shutdown-delay, then --graceful-timeout for in-flight
 * requests, then the arbiter's own grace before it SIGKILLs a worker. A service manager must wait
 * at least this long before it kills keel, or requests are cut.
 */
export function shutdownSeconds(config: ResolvedConfig): number {
  return config.shutdownDelay + config.gracefulTimeout + KILL_GRACE_MS / 1000;
}

/** Every address keel listens on: binds, the HTTPS redirect, the admin listener. */
export function listenAddresses(config: ResolvedConfig): BindAddress[] {
  return [...config.bind, ...(config.redirectHttp ? [config.redirectHttp] : []), ...(config.admin ? [config.admin] : [])];
}

/** The APP argument for `file` (where the deployed keel finds the app), with the export as written. */
export function appArgument(app: AppSpec, file: string): string {
  return app.exportName ? `${file}:${app.exportName}${app.factory ? '()' : ''}` : file;
}
