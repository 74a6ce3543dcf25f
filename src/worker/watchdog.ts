/**
 * The watchdog: a thread beside the worker's event loop. The main thread ticks a shared counter;
 * when the ticks stop for nearly --timeout seconds, the thread writes access-log lines for every
 * request in progress (they would otherwise vanish when the primary kills the stuck worker) and
 * flushes the access-log buffer. The primary still does the killing, as Gunicorn's arbiter does.
 */
import { Worker } from 'node:worker_threads';
import type { SharedLogBuffers } from '../observe/buffered-log-writer.js';
import type { WatchdogTableShared } from './watchdog-table.js';

const TICK_MS = 100;

export interface WatchdogData {
  readonly alive: SharedArrayBuffer;
  readonly table: WatchdogTableShared;
  readonly log: SharedLogBuffers;
  readonly stallMs: number;
  readonly accessLogformat: string;
  readonly secrets: readonly string[];
}

/** How long a stall the thread waits for: a little less than the primary's timeout, so it writes first. */
export function stallThresholdMs(timeoutSeconds: number): number {
  const ms = timeoutSeconds * 1000;
  return Math.max(ms - 300, ms / 2);
}

export function startWatchdog(table: WatchdogTableShared, log: SharedLogBuffers, timeoutSeconds: number, accessLogformat: string, secrets: readonly string[]): () => void {
  const alive = new SharedArrayBuffer(4);
  const counter = new Int32Array(alive);
  const data: WatchdogData = { alive, table, log, stallMs: stallThresholdMs(timeoutSeconds), accessLogformat, secrets };
  const thread = new Worker(new URL('./watchdog-thread.js', import.meta.url), { workerData: data });
  thread.unref();
  const timer = setInterval(() => Atomics.add(counter, 0, 1), TICK_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    void thread.terminate();
  };
}
