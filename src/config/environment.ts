/**
 * The environment workers run with: the real environment, over --env-file files, over a
 * .env in the working directory; then NAME_FILE=/path sets NAME from that file (the Docker
 * and Kubernetes secrets convention). Also finds which values are secrets, for redaction.
 */
import { readFileSync, statSync } from 'node:fs';

/** A secret file is a password or a key, not a data file. */
const MAX_SECRET_FILE = 64 * 1024;
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { keelError } from '../errors.js';
import { urlPasswords } from './url-password.js';

export type Environment = Readonly<Record<string, string>>;

function readEnvFile(path: string, setting: string, required: boolean): Record<string, string> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw keelError('KEEL_ERR_ENV_FILE', { setting, path, reason: (err as Error).message });
  }
  return parseEnv(content) as Record<string, string>;
}

export function buildEnvironment(real: NodeJS.ProcessEnv, envFiles: readonly string[], cwd: string): Record<string, string> {
  const merged: Record<string, string> = { ...readEnvFile(resolve(cwd, '.env'), '.env', false) };
  for (const file of envFiles) Object.assign(merged, readEnvFile(resolve(cwd, file), '--env-file', true));
  for (const [name, value] of Object.entries(real)) if (value !== undefined) merged[name] = value;
  for (const [name, path] of Object.entries(merged)) {
    if (!name.endsWith('_FILE') || name.length <= 5) continue;
    const target = name.slice(0, -5);
    if (merged[target] !== undefined) continue;
    try {
      const file = resolve(cwd, path);
      const stat = statSync(file);
      if (!stat.isFile() || stat.size > MAX_SECRET_FILE) throw new Error(`not a regular file of at most ${MAX_SECRET_FILE} bytes`);
      merged[target] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      // Plenty of unrelated variables end in _FILE; a missing file is only an error for a secret.
      if (SECRET_NAME.test(target)) throw keelError('KEEL_ERR_ENV_FILE', { setting: name, path, reason: (err as Error).message });
    }
  }
  return merged;
}

/** Names that look like they hold a secret. */
export const SECRET_NAME =
  /SECRET|TOKEN|PASSW(OR)?D|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|DATABASE_URL|(^|_)DSN$|(^|_)AUTH$|SESSION_KEY|(^|_)SALT$|(^|_)PASS$|._PWD$|(^|_)KEY$/i;

/** Values to hide from every log line: secret-named variables' values and passwords inside URLs. */
export function secretValues(env: Environment): string[] {
  const found = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_NAME.test(name) && value.length >= 4) found.add(value);
    for (const password of urlPasswords(value)) if (password.length >= 3) found.add(password);
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...found].sort((a, b) => b.length - a.length);
}
