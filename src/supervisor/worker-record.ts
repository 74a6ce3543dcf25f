/**
 * What the primary knows about one worker. States move one way: starting → ready → draining → dead.
 */
import type { Worker } from 'node:cluster';
import type { ResolvedConfig } from '../config/resolve.js';

export type WorkerState = 'starting' | 'ready' | 'draining' | 'dead';

/** Why keel itself ended a worker; an exit without one is a crash. */
export type RetireReason = 'reload' | 'max-requests' | 'memory' | 'scale-down' | 'shutdown' | 'timeout' | 'crash' | 'reload-failed';

export interface WorkerRecord {
  readonly worker: Worker;
  readonly pid: number;
  readonly generation: number;
  /** The config the worker was forked for, sent when it asks. */
  readonly config: ResolvedConfig;
  readonly startedAt: number;
  readonly maxRequests: number;
  state: WorkerState;
  lastHeartbeat: number;
  requests: number;
  rss: number;
  shape: string;
  addresses: readonly string[];
  retireReason: RetireReason | null;
  bootFailure: { message: string; exitCode: number; code: string } | null;
  /** Under `keel dev`: the app did not load and the worker serves the error page (see ReadyMessage). */
  loadError: string | null;
  /** What the worker reported when it retired itself after an uncaught error. */
  crashCause: string | null;
  killTimer: NodeJS.Timeout | null;
}
