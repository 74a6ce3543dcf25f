// Outside programs some rows need (a scenario's `needs`): where to find each,
// the Debian package that brings it, and its version for the report.
// Same policy as wrk in load.js: install what is missing when root, otherwise
// print the apt-get line; the rows that need a missing tool then fail alone.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { run } from './proc.js';

// Debian's Python, not the PATH's: here python3 (and a `flask` shim) on PATH
// can be pyenv's, which has neither Debian's gunicorn nor its Flask.
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const GUNICORN = '/usr/bin/gunicorn';

const TOOLS = {
  nginx: { apt: 'nginx', find: () => findBin('nginx'), version: ['-v'] },
  h2load: { apt: 'nghttp2-client', find: () => findBin('h2load'), version: ['--version'] },
  openssl: { apt: 'openssl', find: () => findBin('openssl'), version: ['version'] },
  gunicorn: { apt: 'gunicorn', find: () => (existsSync(GUNICORN) ? GUNICORN : null), version: ['--version'] },
  // A module, not a program: present when Debian's Python can import it.
  flask: {
    apt: 'python3-flask',
    find: () => (pythonImports('flask') ? DEBIAN_PYTHON : null),
    version: ['-c', 'import importlib.metadata as m; print("Flask " + m.version("flask"))'],
  },
};

// nginx lives in /usr/sbin, which a non-root PATH often lacks.
export function findBin(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    for (const dir of ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']) {
      if (existsSync(path.join(dir, name))) return path.join(dir, name);
    }
    return null;
  }
}

/** Whether Debian's Python can import `module` (test/run.js asks this too). */
export function pythonImports(module) {
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export function toolPath(name) {
  const tool = TOOLS[name];
  if (!tool) throw new Error(`bench/tools.js: unknown tool "${name}"`);
  return tool.find();
}

export async function ensureTools(names) {
  const missing = names.filter((n) => !toolPath(n));
  if (!missing.length) return;
  const install = `apt-get update && apt-get install -y ${[...new Set(missing.map((n) => TOOLS[n].apt))].join(' ')}`;
  if (process.getuid?.() === 0) {
    console.error(`${missing.join(', ')} not found; installing: ${install}`);
    const r = await run('sh', ['-c', install], { timeoutMs: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (!r.ok) console.error(`install failed:\n${(r.stdout + r.stderr).trim().split('\n').slice(-5).join('\n')}`);
  } else {
    console.error(`${missing.join(', ')} not found and not root; the rows that need them will fail. Install with:\n  sudo ${install}`);
  }
}

export async function toolVersions(names) {
  const out = {};
  for (const name of names) {
    const bin = toolPath(name);
    if (!bin) continue;
    const r = await run(bin, TOOLS[name].version, { timeoutMs: 10_000 });
    out[name] = (r.stdout + r.stderr).split('\n')[0].replace(/^nginx version: /, '').replace(/\(version ([^)]+)\)/, '$1').trim();
  }
  return out;
}
