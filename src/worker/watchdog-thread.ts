/**
 * The watchdog thread's body (see watchdog.ts). Runs without the app and without the event loop
 * it watches; reads only shared memory and writes with synchronous calls on shared fds.
 */
import { workerData } from 'node:worker_threads';
import { createAccessFormatter } from '../observe/access-log-format.js';
import { STATE_ACTIVE, STATE_FD, STATE_PENDING, STATE_WATCHDOG_FLUSHED, writeAllSync } from '../observe/buffered-log-writer.js';
import { createRedactor } from '../observe/redact.js';
import type { WatchdogData } from './watchdog.js';
import { SLOT_BUSY, SLOT_LOGGED } from './watchdog-table.js';

const data = workerData as WatchdogData;
const alive = new Int32Array(data.alive);
const states = new Int32Array(data.table.states);
const starts = new Float64Array(data.table.starts);
const lengths = new Int32Array(data.table.lengths);
const bytes = Buffer.from(data.table.bytes);
const logState = data.log.state;
const logBuffers = data.log.buffers.map((b) => Buffer.from(b));
const format = createAccessFormatter(data.accessLogformat);
const redact = createRedactor(data.secrets);

let lastTick = Atomics.load(alive, 0);
let lastChange = Date.now();
let fired = false;

function flushPending(fd: number): void {
  const active = Atomics.load(logState, STATE_ACTIVE);
  const pending = Atomics.load(logState, STATE_PENDING);
  const done = Atomics.load(logState, STATE_WATCHDOG_FLUSHED);
  if (pending > done) {
    writeAllSync(fd, logBuffers[active].subarray(done, pending));
    Atomics.store(logState, STATE_WATCHDOG_FLUSHED, pending);
  }
}

function logStuckRequests(): void {
  const fd = Atomics.load(logState, STATE_FD);
  flushPending(fd);
  if (!format) return;
  const now = Date.now();
  let lines = '';
  for (let slot = 0; slot < states.length; slot++) {
    if (Atomics.compareExchange(states, slot, SLOT_BUSY, SLOT_LOGGED) !== SLOT_BUSY) continue;
    const offset = slot * data.table.slotBytes;
    const [id, clientAddress, method, url, httpVersion, userAgent, referrer] = bytes.toString('latin1', offset, offset + lengths[slot]).split('\t');
    lines += redact(
      format({
        startTime: starts[slot],
        clientAddress,
        method,
        url,
        httpVersion,
        status: 504,
        bytes: 0,
        durationMs: now - starts[slot],
        requestId: id,
        userAgent: userAgent ?? '',
        referrer: referrer ?? '',
        event: 'worker-timeout',
      }),
    );
  }
  if (lines) writeAllSync(fd, Buffer.from(lines));
}

setInterval(() => {
  const tick = Atomics.load(alive, 0);
  const now = Date.now();
  if (tick !== lastTick) {
    lastTick = tick;
    lastChange = now;
    fired = false;
    return;
  }
  if (!fired && now - lastChange >= data.stallMs) {
    fired = true;
    logStuckRequests();
  }
}, 50);
