// examples/flask under Debian's Gunicorn (sync workers), on a free loopback port, for the tests that
// put keel in front of it.
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { ROOT } from './keel.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** Resolves once /healthz answers; `stop()` ends Gunicorn and its workers (it forwards TERM). */
export async function startFlaskGunicorn({ workers = 2 } = {}) {
  const port = await freePort();
  const child = spawn('/usr/bin/gunicorn', ['-b', `127.0.0.1:${port}`, '--chdir', 'examples/flask', '--workers', String(workers), 'app:app'], {
    cwd: ROOT,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`gunicorn exited: ${stderr}`);
    return (await request(`${url}/healthz`).then((r) => (r.body.dump(), r.statusCode)).catch(() => 0)) === 200;
  }, { timeout: 15_000, what: 'gunicorn to answer /healthz' });
  return { url, child, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) };
}
