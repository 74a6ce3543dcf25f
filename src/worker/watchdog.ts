/**
 * The watchdog: a thread beside the worker's event loop. The main thread ticks a shared counter;
 * when the ticks stop for nearly --timeout seconds, the thread makes the stuck main thread write
 * the access-log lines of every request in progress (they would otherwise vanish when the primary
 * kills the worker). The primary still does the killing, as Gunicorn's arbiter does.
 *
 * How a thread gets a stuck event loop to run code: through the inspector. A session connected to
 * the main thread delivers its messages by V8's interrupt, which a busy loop, a long regular
 * expression or any other JavaScript honours at its next function call or loop back-edge, so
 * `Runtime.evaluate` runs keel's hook in the middle of the stuck code and returns to it. This
 * replaced a shared-memory copy of every request's log fields that the thread read at a stall:
 * that copy was made for every request and cost 5-8 % of throughput (docs/benchmarks.md), while
 * this costs nothing until a worker is stuck. What it cannot reach is a main thread blocked in
 * native code (a synchronous child process, Atomics.wait): those requests' lines are lost with the
 * worker, and the primary's worker-timeout line in the error log still names the pid.
 */
import inspector from 'node:inspector';
import { Worker } from 'node:worker_threads';

/** How often the main thread proves it is alive; the thread's stall clock restarts at each tick. */
const TICK_MS = 250;

/** Where the hook lives for `Runtime.evaluate`, which can only name globals. */
export const STALL_HOOK = 'keel.watchdog.onStall';

export interface WatchdogData {
  readonly alive: SharedArrayBuffer;
  readonly stallMs: number;
  /** The expression the thread evaluates in the main thread at a stall. */
  readonly expression: string;
}

/**
 * How long the thread waits after the last tick: the primary kills at --timeout plus one heartbeat
 * interval after the last heartbeat, so waiting --timeout minus a tick lets the thread write first.
 */
export function stallThresholdMs(timeoutSeconds: number): number {
  const ms = timeoutSeconds * 1000;
  return Math.max(ms - TICK_MS, ms / 2);
}

/** Whether this runtime can run the watchdog: Node built without the inspector cannot. */
export function watchdogSupported(): boolean {
  return process.features.inspector === true && typeof inspector.Session === 'function';
}

/** Starts the thread; `onStall` runs on the main thread, inside whatever code it is stuck in. */
export function startWatchdog(timeoutSeconds: number, onStall: () => void): () => void {
  const alive = new SharedArrayBuffer(4);
  const counter = new Int32Array(alive);
  const key = Symbol.for(STALL_HOOK);
  (globalThis as Record<symbol, unknown>)[key] = onStall;
  const data: WatchdogData = { alive, stallMs: stallThresholdMs(timeoutSeconds), expression: `globalThis[Symbol.for(${JSON.stringify(STALL_HOOK)})]()` };
  const thread = new Worker(new URL('./watchdog-thread.js', import.meta.url), { workerData: data });
  thread.unref();
  const timer = setInterval(() => {
    Atomics.add(counter, 0, 1);
    Atomics.notify(counter, 0);
  }, Math.min(TICK_MS, data.stallMs / 4));
  timer.unref();
  return () => {
    clearInterval(timer);
    delete (globalThis as Record<symbol, unknown>)[key];
    void thread.terminate();
  };
}
