/**
 * The watchdog: a thread beside the worker's event loop. The main thread ticks a shared counter;
 * when the ticks stop for nearly --timeout seconds, the thread writes access-log lines for every
 * request in progress (they would otherwise vanish when the primary kills the stuck worker). The
 * primary still does the killing, as Gunicorn's arbiter does. Lines the main thread had batched
 * in the last 20 ms before it stopped are not reachable from here and are lost with the worker.
 */
import { Worker } from 'node:worker_threads';
import type { WatchdogTableShared } from './watchdog-table.js';

/** How often the main thread proves it is alive; the thread's stall clock restarts at each tick. */
const TICK_MS = 250;

export interface WatchdogData {
  readonly alive: SharedArrayBuffer;
  readonly table: WatchdogTableShared;
  /** [fd] of the access log. */
  readonly logFd: Int32Array;
  readonly stallMs: number;
  readonly accessLogformat: string;
  readonly secrets: readonly string[];
}

/**
 * How long the thread waits after the last tick: the primary kills at --timeout plus one heartbeat
 * interval after the last heartbeat, so waiting --timeout minus a tick lets the thread write first.
 */
export function stallThresholdMs(timeoutSeconds: number): number {
  const ms = timeoutSeconds * 1000;
  return Math.max(ms - TICK_MS, ms / 2);
}

export function startWatchdog(table: WatchdogTableShared, logFd: Int32Array, timeoutSeconds: number, accessLogformat: string, secrets: readonly string[]): () => void {
  const alive = new SharedArrayBuffer(4);
  const counter = new Int32Array(alive);
  const data: WatchdogData = { alive, table, logFd, stallMs: stallThresholdMs(timeoutSeconds), accessLogformat, secrets };
  const thread = new Worker(new URL('./watchdog-thread.js', import.meta.url), { workerData: data });
  thread.unref();
  const timer = setInterval(() => {
    Atomics.add(counter, 0, 1);
    Atomics.notify(counter, 0);
  }, Math.min(TICK_MS, data.stallMs / 4));
  timer.unref();
  return () => {
    clearInterval(timer);
    void thread.terminate();
  };
}
