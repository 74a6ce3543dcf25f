// Starts the real keel CLI as a child process on free loopback ports, and cleans it up.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { freePort, retryIfPortTaken } from './ports.js';
import { waitFor } from './wait.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const KEEL = join(ROOT, 'bin', 'keel.js');

const running = new Set();
const tempDirs = new Set();

/** A temp dir removed when the test process ends. */
export function tempDir(prefix = 'keel-test-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/**
 * SIGKILLs a process and every process below it. The tree is read before anything is killed:
 * once keel dies its children are re-parented and could no longer be found from its pid. Managed
 * upstreams (--run) are keel's children and a Gunicorn master's workers its grandchildren.
 */
export function killTree(root) {
  const pids = [root, ...descendantPids(root)];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  return pids;
}

function cleanupAll() {
  // A keel that already exited is skipped: its pid may belong to another process by now.
  for (const handle of running) if (!handle.exit) killTree(handle.pid);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanupAll);

/**
 * Runs a command to completion within `timeout` ms (SIGKILLed and rejected past it):
 * { code, signal, stdout, stderr }. `env` replaces the environment whole.
 */
export function runCommand(command, args, { env = process.env, cwd = ROOT, timeout = 20_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit within ${timeout} ms\nstderr: ${stderr}`));
    }, timeout);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Runs keel to completion (for commands that exit by themselves): { code, signal, stdout, stderr }. */
export function runKeel(args, { env = {}, cwd = ROOT, timeout = 20_000 } = {}) {
  // `--`, as bin/keel.js's #! line and keel init's units have it: keel's --env-file is not Node's.
  return runCommand(process.execPath, ['--', KEEL, ...args], { env: { ...process.env, ...env }, cwd, timeout });
}

/**
 * Starts `keel serve APP ...args` on a free port with a free admin port and waits until /readyz
 * answers 200 (or keel exits). Returns a handle; call handle.stop() in cleanup (t.after).
 */
export function startKeel(app, args = [], options = {}) {
  return retryIfPortTaken(() => startKeelOnce(app, args, options));
}

async function startKeelOnce(app, args, { env = {}, cwd = ROOT, waitReady = true, workers = 2, readyTimeout = 20_000 } = {}) {
  const port = await freePort();
  const adminPort = await freePort();
  const hasBind = args.some((a) => a === '-b' || a === '--bind' || a.startsWith('--bind='));
  const fullArgs = ['serve', ...(app ? [app] : []), ...(hasBind ? [] : ['--bind', `127.0.0.1:${port}`]), '--admin', `127.0.0.1:${adminPort}`, '--workers', String(workers), ...args];
  const child = spawn(process.execPath, ['--', KEEL, ...fullArgs], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = {
    child,
    pid: child.pid,
    port,
    adminPort,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    stdout: '',
    stderr: '',
    exit: null,
    exited: null,
    /** JSON lines of the error log (stderr), parsed; non-JSON lines (the banner) skipped. */
    errorLog() {
      return handle.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);
    },
    accessLines() {
      return handle.stdout.split('\n').filter(Boolean);
    },
    /** PIDs of this keel's workers, from the process table. */
    workerPids() {
      return childPids(child.pid);
    },
    signal(name) {
      process.kill(child.pid, name);
    },
    async waitExit(timeout = 15_000) {
      await waitFor(() => handle.exit, { timeout, what: `keel (pid ${child.pid}) to exit` });
      return handle.exit;
    },
    async readyz() {
      const res = await request(`${handle.adminUrl}/readyz`);
      await res.body.text();
      return res.statusCode;
    },
    async waitReady(timeout = readyTimeout) {
      // An exit ends the wait at once: polling on would only hide keel's own message for `timeout` ms.
      await waitFor(async () => handle.exit !== null || (await handle.readyz()) === 200, { timeout, what: 'keel /readyz to answer 200' });
      if (handle.exit) throw new Error(`keel exited (${JSON.stringify(handle.exit)}) before it was ready\nstderr:\n${handle.stderr}`);
      // /readyz can answer before the child's stderr has reached this process; the banner is written
      // once the first workers are ready, after every start-up notice, so tests can read those.
      await waitFor(() => handle.stderr.includes(' · production mode · '), { timeout: 15_000, what: "keel's banner on stderr" });
    },
    /** PIDs of every process below this keel: workers, managed upstreams and what those started. */
    descendantPids() {
      return descendantPids(child.pid);
    },
    async stop() {
      running.delete(handle);
      // Once keel has exited its pid may be another process's: nothing is killed by it then.
      if (handle.exit) return;
      killTree(child.pid);
      await waitFor(() => handle.exit, { timeout: 5000, what: 'keel to die' }).catch(() => {});
    },
  };
  child.stdout.on('data', (d) => (handle.stdout += d));
  child.stderr.on('data', (d) => (handle.stderr += d));
  handle.exited = new Promise((resolvePromise) =>
    child.on('exit', (code, signal) => {
      handle.exit = { code, signal };
      resolvePromise(handle.exit);
    }),
  );
  running.add(handle);
  if (waitReady) {
    try {
      await handle.waitReady();
    } catch (err) {
      await handle.stop();
      throw err;
    }
  }
  return handle;
}

import { readFileSync, readdirSync } from 'node:fs';

/**
 * The fields of /proc/PID/stat after the command name (state, ppid, pgrp, …: field 3 of proc(5) is
 * index 0), or null once the process is gone. The name may hold spaces and parentheses, so the
 * fields start after the last ')'.
 */
export function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Every process's parent, from /proc: Map pid → ppid. */
function parentTable() {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields) parents.set(Number(entry), Number(fields[1]));
  }
  return parents;
}

/**
 * A process's scheduler state (R running, S sleeping, …) and the CPU time it has used, user plus
 * system, in clock ticks (1/100 s here), from /proc; null once it is gone.
 */
export function cpuTicks(pid) {
  const fields = statFields(pid);
  return fields ? { state: fields[0], ticks: Number(fields[11]) + Number(fields[12]) } : null;
}

/** Direct children of a process, from /proc. */
export function childPids(parent) {
  const pids = [];
  for (const [pid, ppid] of parentTable()) if (ppid === parent) pids.push(pid);
  return pids;
}

/** Children, grandchildren and so on of a process, from one read of /proc. */
export function descendantPids(root) {
  const children = new Map();
  for (const [pid, ppid] of parentTable()) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const pid of children.get(queue.shift()) ?? []) {
      found.push(pid);
      queue.push(pid);
    }
  }
  return found;
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
