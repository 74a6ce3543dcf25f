/**
 * Managed upstream apps (--run, and routes with `run`). STUB: to be replaced (issue 5, point 4).
 * The primary starts each instance, waits until it listens, and tells workers where they are.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { UpstreamTargets } from '../ipc.js';
import type { ErrorLog } from '../observe/error-log.js';

export class UpstreamApps {
  private constructor(
    private readonly config: ResolvedConfig,
    private readonly log: ErrorLog,
  ) {}

  static create(config: ResolvedConfig, log: ErrorLog): UpstreamApps {
    return new UpstreamApps(config, log);
  }

  /** Starts every instance and resolves when all listen (rejects with a KeelError when one cannot start). */
  async start(): Promise<void> {
    void this.config;
    void this.log;
  }

  /** Where the instances listen now, by route prefix. */
  targets(): UpstreamTargets {
    return {};
  }

  /** Called whenever targets() changes. */
  onChange(listener: (targets: UpstreamTargets) => void): void {
    void listener;
  }

  /** HUP: restarts the instances one at a time, each new one listening before its old one stops. */
  async reload(next: ResolvedConfig): Promise<void> {
    void next;
  }

  /** TERM: stops every instance gracefully; idempotent. */
  async stop(): Promise<void> {}
}
