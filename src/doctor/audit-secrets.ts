/**
 * Findings about secrets: env files, key files and config files holding secrets that other users
 * can read, and secrets given as command-line flags, which every user sees in `ps`.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { SECRET_NAME } from '../config/environment.js';
import { hasUrlPassword } from '../config/url-password.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { type Setting, envName, settings, showValue } from '../config/settings.js';
import type { Finding } from './finding.js';

interface SecretFile {
  readonly path: string;
  /** The setting that names it, as a flag, or `.env`. */
  readonly setting: string;
  readonly kind: 'env' | 'key' | 'config';
}

function secretFiles(config: ResolvedConfig): SecretFile[] {
  const files: SecretFile[] = [{ path: resolve(config.cwd, '.env'), setting: '.env', kind: 'env' }];
  for (const file of config.envFile) files.push({ path: resolve(config.cwd, file), setting: '--env-file', kind: 'env' });
  if (config.keyfile) files.push({ path: resolve(config.cwd, config.keyfile), setting: '--keyfile', kind: 'key' });
  for (const cert of config.cert) files.push({ path: resolve(config.cwd, cert.keyfile), setting: `--cert ${cert.host}`, kind: 'key' });
  const secretInFile = (settings as readonly Setting<string, unknown>[]).some((s) => s.secret && config.sources[s.key as keyof typeof config.sources] === 'config file');
  if (config.configFile && secretInFile) files.push({ path: config.configFile, setting: '--config', kind: 'config' });
  return files;
}

/** Whether an env file holds something secret-looking: a secret-named variable or a URL with a password. */
function envFileHasSecrets(path: string): boolean {
  try {
    const values = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
    return Object.entries(values).some(([name, value]) => SECRET_NAME.test(name) || hasUrlPassword(value));
  } catch {
    return true;
  }
}

function worldReadable(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const file of secretFiles(config)) {
    if (seen.has(file.path)) continue;
    seen.add(file.path);
    let mode: number;
    try {
      const stats = statSync(file.path);
      if (!stats.isFile()) continue;
      mode = stats.mode & 0o777;
    } catch {
      // A missing .env is normal; a missing key or env file is serve's error to report.
      continue;
    }
    if ((mode & 0o004) === 0) continue;
    const secret = file.kind !== 'env' || envFileHasSecrets(file.path);
    const what = file.kind === 'key' ? 'private key' : file.kind === 'config' ? 'config file with secrets' : 'env file';
    findings.push({
      id: 'world-readable-secret-file',
      severity: secret ? 'severe' : 'warning',
      title: `The ${what} ${file.path} is readable by every user (mode ${mode.toString(8).padStart(4, '0')})`,
      why:
        file.kind === 'key'
          ? 'Anyone with a shell on the machine, or any compromised service on it, can copy the key and impersonate the site.'
          : secret
            ? 'It holds secrets (passwords, tokens, keys) that any other user or compromised service on the machine can read.'
            : 'Nothing in it looks secret today, but env files are where secrets get added next.',
      fix: `chmod 600 ${file.path} (and chown it to the user keel starts as)`,
      where: file.setting,
    });
  }
  return findings;
}

function secretsOnCommandLine(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  for (const entry of settings as readonly Setting<string, unknown>[]) {
    if (config.sources[entry.key as keyof typeof config.sources] !== 'flag') continue;
    const value = (config as unknown as Record<string, unknown>)[entry.key];
    if (value === null || value === undefined) continue;
    const secret = entry.secret === true;
    if (!secret && !hasUrlPassword(showValue(entry, value))) continue;
    const env = envName(entry);
    findings.push({
      id: 'secret-on-command-line',
      severity: 'severe',
      title: secret ? `The secret setting --${entry.flag} is given on the command line` : `--${entry.flag} has credentials inside a URL on the command line`,
      why: 'Command lines are public on a machine: every user sees them in ps and /proc/PID/cmdline, and they end up in shell history, process monitors and crash reports.',
      fix: entry.cliOnly
        ? `Move the credentials out of --${entry.flag}: into a config file readable only by keel's user, or an environment variable the command reads`
        : `Set it in the environment instead: ${env}=… from a file only keel's user reads (${env}_FILE=/run/secrets/${entry.flag} or an --env-file with mode 600)`,
      where: `--${entry.flag}`,
    });
  }
  return findings;
}

export function auditSecrets(config: ResolvedConfig): Finding[] {
  return [...worldReadable(config), ...secretsOnCommandLine(config)];
}
