// On a 2-core box any other busy process (a test suite, a build) steals a
// large share from the server under test, so each run records how busy the
// machine was just before it started; a busy reading marks the row as suspect.
import { readFile } from 'node:fs/promises';
import { sleep } from './proc.js';

export const BUSY_WARN_PCT = 10;

async function cpuTimes() {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = t[3] + (t[4] ?? 0);
  return { idle, total: t.reduce((a, n) => a + n, 0) };
}

// Waits up to waitSec for the machine to go quiet; returns the last reading.
export async function waitForQuiet(waitSec, onBusy = () => {}) {
  const deadline = Date.now() + waitSec * 1000;
  for (let first = true; ; first = false) {
    const busy = await cpuBusyPct();
    if (busy === null || busy <= BUSY_WARN_PCT || Date.now() >= deadline) return busy;
    if (first) onBusy(busy);
  }
}

// Percent of all cores busy over sampleMs; null where /proc/stat is missing.
export async function cpuBusyPct(sampleMs = 1000) {
  try {
    const a = await cpuTimes();
    await sleep(sampleMs);
    const b = await cpuTimes();
    const total = b.total - a.total;
    return total > 0 ? Math.round((100 * (total - (b.idle - a.idle))) / total) : null;
  } catch {
    return null;
  }
}
