/**
 * The worker's side of the primary's counters (primary-counters.ts): each decision is one IPC
 * round trip with a short positional argument list, the smallest message `process.send` makes.
 * The worker's PID goes with connection counts, so the primary can drop what a dead worker held.
 */
import { SERVICES } from '../../supervisor/primary-services.js';
import type { PrimaryChannel } from '../../worker/primary-channel.js';
import type { CounterStore } from './counter-store.js';
import type { LimitRule } from './limit-rules.js';

/** Argument lists, positional to keep the JSON small; primary-counters.ts reads them by index. */
export type TakeArgs = [ruleId: string, client: string, interval: number, tolerance: number];
export type OpenArgs = [client: string, pid: number, limit: number];
export type CloseArgs = [client: string, pid: number];

export class CountersOverIpc implements CounterStore {
  constructor(private readonly primary: PrimaryChannel) {}

  take(rule: LimitRule, client: string): Promise<number> {
    const args: TakeArgs = [rule.id, client, rule.interval, rule.tolerance];
    return this.primary.call<number>(SERVICES.rateLimitTake, args);
  }

  connectionOpen(client: string, limit: number): Promise<number> {
    const args: OpenArgs = [client, process.pid, limit];
    return this.primary.call<number>(SERVICES.connectionOpen, args);
  }

  connectionClose(client: string): Promise<unknown> {
    const args: CloseArgs = [client, process.pid];
    return this.primary.call(SERVICES.connectionClose, args);
  }

  async close(): Promise<void> {
    // Nothing of its own: the channel belongs to the worker.
  }
}
