// Child processes run in their own process group (detached) so that stopping
// a server also stops the workers it forked, whatever the server does on SIGTERM.
import { spawn, execFile } from 'node:child_process';
import { onCleanup } from './cleanup.js';

const TAIL_BYTES = 8192;

export function spawnGroup(cmd, args, { cwd, env } = {}) {
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  // Always drain: an unread pipe fills up and blocks a server that logs.
  const keep = (chunk) => {
    tail = (tail + chunk.toString()).slice(-TAIL_BYTES);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      keep(`${err.message}\n`);
      resolve({ code: null, signal: null, error: err });
    });
  });
  const proc = { child, pgid: child.pid, exited, exitStatus: null, tail: () => tail };
  exited.then((s) => (proc.exitStatus = s));
  proc.unregister = onCleanup(
    () => stopGroup(proc),
    () => killGroup(proc.pgid, 'SIGKILL'),
  );
  return proc;
}

export function killGroup(pgid, signal) {
  if (!pgid) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function groupAlive(pgid) {
  return killGroup(pgid, 0);
}

// TERM, give the group graceMs to go, then KILL; resolves once nothing is left.
// Memoised so the owner and a Ctrl-C cleanup can both await the same stop.
export function stopGroup(proc, graceMs = 5000) {
  proc.stopping ??= (async () => {
    if (killGroup(proc.pgid, 'SIGTERM') && !(await waitUntil(() => !groupAlive(proc.pgid), graceMs))) {
      killGroup(proc.pgid, 'SIGKILL');
      await waitUntil(() => !groupAlive(proc.pgid), 5000);
    }
    proc.unregister?.();
  })();
  return proc.stopping;
}

export async function waitUntil(check, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Short, bounded commands (pm2 CLI, apt-get): resolves with output, never throws.
export function run(cmd, args, { env, cwd, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ ok: !err, code: err ? (err.code ?? 1) : 0, stdout, stderr, error: err });
    });
  });
}

export function lastLines(text, n = 5) {
  return text.trim().split('\n').slice(-n).join('\n');
}
