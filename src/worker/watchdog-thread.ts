/**
 * The watchdog thread's body (see watchdog.ts). It sleeps in Atomics.wait on the tick counter and,
 * when the ticks stop, asks the stuck main thread, through an inspector session, to write its
 * in-progress requests' access-log lines.
 */
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';
import type { WatchdogData } from './watchdog.js';

const data = workerData as WatchdogData;
const alive = new Int32Array(data.alive);
let session: Session | null = null;

/**
 * Woken by each tick of the main thread, or by the timeout when the ticks stop. A polling timer
 * here measurably slowed the main thread's requests.
 */
for (;;) {
  const tick = Atomics.load(alive, 0);
  if (Atomics.wait(alive, 0, tick, data.stallMs) !== 'timed-out') continue;
  if (session === null) {
    session = new Session();
    session.connectToMainThread();
  }
  // Delivered by interrupt: the main thread runs it at its next check, without this thread's loop.
  session.post('Runtime.evaluate', { expression: data.expression });
  // One set of lines per stall: wait until the main thread ticks again (or the primary kills it).
  Atomics.wait(alive, 0, tick);
}
