/**
 * The watchdog thread's body (see watchdog.ts). Runs without the app and without the event loop
 * it watches; reads only shared memory and writes with synchronous calls on shared fds.
 */
import { workerData } from 'node:worker_threads';
import { createAccessFormatter } from '../observe/access-log-format.js';
import { writeAllSync } from '../observe/buffered-log-writer.js';
import { createRedactor } from '../observe/redact.js';
import type { WatchdogData } from './watchdog.js';
import { readSlot, SLOT_BUSY, SLOT_LOGGED } from './watchdog-table.js';

const data = workerData as WatchdogData;
const alive = new Int32Array(data.alive);
const states = new Int32Array(data.table.states);
const logFd = data.logFd;
const format = createAccessFormatter(data.accessLogformat);
const redact = createRedactor(data.secrets);

function logStuckRequests(): void {
  const fd = Atomics.load(logFd, 0);
  if (!format) return;
  const now = Date.now();
  let lines = '';
  for (let slot = 0; slot < states.length; slot++) {
    if (Atomics.compareExchange(states, slot, SLOT_BUSY, SLOT_LOGGED) !== SLOT_BUSY) continue;
    const request = readSlot(data.table, slot);
    lines += redact(format({ ...request, status: 504, bytes: 0, durationMs: now - request.startTime, event: 'worker-timeout' }));
  }
  if (lines) writeAllSync(fd, Buffer.from(lines, 'latin1'));
}

/**
 * Sleeps in Atomics.wait on the tick counter: woken by each tick of the main thread, or by the
 * timeout when the ticks stop. A polling timer here measurably slowed the main thread's requests.
 */
for (;;) {
  const tick = Atomics.load(alive, 0);
  if (Atomics.wait(alive, 0, tick, data.stallMs) !== 'timed-out') continue;
  logStuckRequests();
  // One set of lines per stall: wait until the main thread ticks again (or the primary kills it).
  Atomics.wait(alive, 0, tick);
}
