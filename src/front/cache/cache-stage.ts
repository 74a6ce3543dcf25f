/**
 * The response cache stage. STUB: to be replaced (issue 5, point 5). Returns null when --cache is 0.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedConfig } from '../../config/resolve.js';
import type { ErrorLog } from '../../observe/error-log.js';
import type { PrimaryChannel } from '../../worker/primary-channel.js';
import type { Target } from '../router.js';

export type CallTarget = (req: IncomingMessage, res: ServerResponse, target: Target) => void;

export interface CacheStage {
  /** Answers from the cache, or calls `next` and records what it sends when it may be kept. */
  serve(req: IncomingMessage, res: ServerResponse, target: Target, next: CallTarget): void;
  close(): Promise<void>;
}

export function createCacheStage(config: ResolvedConfig, primary: PrimaryChannel, log: ErrorLog): CacheStage | null {
  void config;
  void primary;
  void log;
  return null;
}
