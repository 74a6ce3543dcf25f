/**
 * The rate-limit stage. STUB: to be replaced (issue 5, point 6). Returns null when no limit is set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedConfig } from '../../config/resolve.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { PrimaryChannel } from '../../worker/primary-channel.js';
import type { Target } from '../router.js';

export type Proceed = (req: IncomingMessage, res: ServerResponse, target: Target) => void;

export interface RateLimitStage {
  /** Calls `proceed` when the client is within its limit, else answers 429 with Retry-After. */
  check(req: IncomingMessage, res: ServerResponse, target: Target, proceed: Proceed): void;
  close(): Promise<void>;
}

export function createRateLimitStage(config: ResolvedConfig, primary: PrimaryChannel, log: ErrorLog): RateLimitStage | null {
  void config;
  void primary;
  void log;
  return null;
}
