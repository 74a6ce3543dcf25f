// `npm test`: installs the real peers the tests need (Debian packages), builds keel if its sources
// changed, then runs every test file with Node's test runner.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** command on PATH → Debian package that provides it. */
const PEERS = {
  curl: 'curl',
};

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function ensurePeers() {
  const missing = Object.entries(PEERS).filter(([command]) => !onPath(command)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const line = `apt-get update && apt-get install -y ${[...new Set(missing)].join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`The tests need these Debian packages: ${missing.join(', ')}.\nInstall them as root, then run npm test again:\n  ${line}`);
    process.exit(1);
  }
  console.log(`installing test peers: ${line}`);
  execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${line}`], { stdio: 'inherit' });
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  console.log('building keel (tsc)');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
}

function testFiles() {
  const only = process.argv.slice(2);
  if (only.length) return only;
  const files = [];
  for (const dir of ['test/unit', 'test/e2e']) {
    const full = join(ROOT, dir);
    if (!existsSync(full)) continue;
    for (const name of readdirSync(full).sort()) if (name.endsWith('.test.js')) files.push(join(dir, name));
  }
  return files;
}

ensurePeers();
ensureBuilt();
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=120000', ...testFiles()], { cwd: ROOT, stdio: 'inherit' });
process.exit(result.status ?? 1);
