// Starts the real `keel dev APP` in a directory of its own (a temp copy the test may edit), on free
// loopback ports, and cleans it up.
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { KEEL, childPids, cpuTicks, killTree } from './keel.js';
import { freePort, retryIfPortTaken } from './ports.js';
import { waitFor } from './wait.js';

const running = new Set();
/** A spare whose CPU time stands still this long has loaded keel and waits (it takes ~0.7 s of CPU to get there). */
const SPARE_QUIET_MS = 300;
process.on('exit', () => {
  for (const handle of running) if (!handle.exit) killTree(handle.pid);
});

/**
 * `keel dev APP ...args` with cwd `dir`. Resolves once /readyz answers 200 and the banner is out
 * (a first boot that fails to load is ready too: it serves the error page). Call stop() in cleanup.
 */
export function startDev(dir, app, args = [], options = {}) {
  return retryIfPortTaken(() => startDevOnce(dir, app, args, options));
}

async function startDevOnce(dir, app, args, { env = {}, readyTimeout = 30_000 }) {
  const port = await freePort();
  const adminPort = await freePort();
  // A variable given as undefined is removed, so a test can run without one the runner has.
  const childEnv = { ...process.env, ...env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete childEnv[name];
  const child = spawn(process.execPath, ['--', KEEL, 'dev', app, '-b', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, ...args], {
    cwd: dir,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    stdout: '',
    stderr: '',
    exit: null,
    /** The pid of the worker keel dev serves with: the last one its primary logged as ready. */
    servingPid() {
      const ready = handle.stderr.split('\n').filter((l) => l.startsWith('{') && l.includes('"msg":"worker ready"'));
      return ready.length > 0 ? JSON.parse(ready.at(-1)).worker_pid : null;
    },
    /**
     * Resolves once keel dev runs exactly two processes, the serving worker and its spare, and the
     * spare has finished starting: its CPU time has not moved for SPARE_QUIET_MS and it sleeps,
     * waiting for its config. That is the state a developer's next save usually finds.
     */
    async waitSpareReady(timeout = 20_000) {
      let quiet = null;
      await waitFor(
        () => {
          const serving = handle.servingPid();
          const pids = childPids(child.pid);
          const spare = pids.find((pid) => pid !== serving);
          const cpu = pids.length === 2 && pids.includes(serving) ? cpuTicks(spare) : null;
          if (!cpu || cpu.state !== 'S') return (quiet = null);
          if (quiet?.pid !== spare || quiet.ticks !== cpu.ticks) quiet = { pid: spare, ticks: cpu.ticks, since: Date.now() };
          return Date.now() - quiet.since >= SPARE_QUIET_MS;
        },
        { timeout, interval: 50, what: "keel dev's spare worker to finish starting" },
      );
    },
    async stop() {
      running.delete(handle);
      if (handle.exit) return;
      killTree(child.pid);
      await waitFor(() => handle.exit, { timeout: 5000, what: 'keel dev to die' }).catch(() => {});
    },
  };
  child.stdout.on('data', (d) => (handle.stdout += d));
  child.stderr.on('data', (d) => (handle.stderr += d));
  child.on('exit', (code, signal) => (handle.exit = { code, signal }));
  running.add(handle);
  try {
    await waitFor(
      async () => {
        if (handle.exit) return true;
        const res = await request(`${handle.adminUrl}/readyz`);
        await res.body.text();
        return res.statusCode === 200;
      },
      { timeout: readyTimeout, what: 'keel dev /readyz to answer 200' },
    );
    if (handle.exit) throw new Error(`keel dev exited (${JSON.stringify(handle.exit)}) before it was ready\nstderr:\n${handle.stderr}`);
    await waitFor(() => handle.stderr.includes(' · DEVELOPMENT mode · '), { timeout: 5000, what: "keel dev's banner" });
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
