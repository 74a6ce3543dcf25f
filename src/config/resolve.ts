/**
 * Resolution: flags > KEEL_* env > config file > defaults, into one deep-frozen ResolvedConfig.
 * This module and its neighbours are the only code that reads argv, env or files for settings.
 */
import { sep } from 'node:path';
import { keelError } from '../errors.js';
import { type AppSpec, parseAppSpec } from './app-spec.js';
import { findConfigFile, loadConfigFile } from './config-file.js';
import { buildEnvironment, secretValues, type Environment } from './environment.js';
import { buildRouteTable } from './route-table.js';
import type { Route } from './route-types.js';
import { type ResolvedSettings, type Setting, type SettingKey, defaultOf, envName, settings } from './settings.js';
import { ValueError } from './value-types.js';

export type Source = 'default' | 'config file' | 'env' | 'flag';

/** Which command resolved the config: set by the command itself, never by a flag, env or file. */
export type Mode = 'serve' | 'dev';

export interface ResolvedConfig extends ResolvedSettings {
  /** `dev` only under `keel dev`: workers then show the rich error page; `keel serve` is always `serve`. */
  readonly mode: Mode;
  readonly app: AppSpec | null;
  readonly cwd: string;
  readonly configFile: string | null;
  /** The environment workers get: real env over env files, NODE_ENV defaulting to production. */
  readonly env: Environment;
  /** Values redacted from every log line. */
  readonly secrets: readonly string[];
  readonly sources: Readonly<Record<SettingKey, Source>>;
  /** --static, --proxy, --run and routes merged, longest prefix first. */
  readonly routeTable: readonly Route[];
}

export interface ResolveInput {
  /** Raw values from the command line, by setting key: a string, a list for repeatable flags, true for switches. */
  readonly cli: Readonly<Partial<Record<string, string | string[] | boolean>>>;
  readonly appArg: string | null;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** `dev` applies dev defaults (one worker, NODE_ENV=development); default `serve`. */
  readonly mode?: Mode;
}

/** Config-file keys people reach for that keel spells differently. */
const RENAMED: Readonly<Record<string, string>> = {
  port: 'bind (e.g. "127.0.0.1:8000")',
  host: 'bind (e.g. "127.0.0.1:8000")',
  listen: 'bind',
  keepalive: 'keepAlive',
  accesslog: 'accessLogfile',
  errorlog: 'errorLogfile',
  loglevel: 'logLevel',
  threads: 'workers',
  instances: 'workers',
};

const byKey = new Map<string, Setting<string, unknown>>(settings.map((s) => [s.key, s as Setting<string, unknown>]));

function normalise(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

/** Edit distance (Levenshtein), so a misspelt key gets a "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length];
}

/** The config-file key a wrong one most likely meant: same letters in another case or separator, or a typo or two away. */
function nearestKey(key: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const s of settings) {
    if (s.cliOnly) continue;
    const distance = editDistance(normalise(s.key), normalise(key));
    if (distance <= Math.min(2, Math.floor(key.length / 3)) && (!best || distance < best.distance)) best = { key: s.key, distance };
  }
  return best?.key;
}

function checkFileKeys(values: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(values)) {
    if (key === 'app') continue;
    const entry = byKey.get(key);
    if (entry && !entry.cliOnly) continue;
    const renamed = RENAMED[normalise(key)];
    if (renamed) throw keelError('KEEL_ERR_CONFIG_REMOVED', { where, key, replacement: renamed });
    const near = entry?.cliOnly ? undefined : nearestKey(key);
    throw keelError('KEEL_ERR_CONFIG_UNKNOWN', {
      where,
      key,
      hint: near ? `did you mean ${near}?` : entry?.cliOnly ? 'it is only a command-line flag' : 'see docs/settings.md',
    });
  }
}

function parseValue(entry: Setting<string, unknown>, raw: unknown, source: string): unknown {
  try {
    return entry.type.parse(raw);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    // A secret setting's value is not echoed back: the terminal may be recorded, or shared.
    const value = entry.secret ? '(hidden)' : Array.isArray(raw) ? raw.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',') : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
    throw keelError('KEEL_ERR_CONFIG_VALUE', { setting: source, value, allowed: err.message || entry.type.allowed });
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

export async function resolveConfig(input: ResolveInput): Promise<ResolvedConfig> {
  const { cli, cwd } = input;
  const configPath = findConfigFile(typeof cli.config === 'string' ? cli.config : null, cwd);
  const file = configPath ? await loadConfigFile(configPath) : null;
  // Named relative to the working directory when inside it, else in full.
  const fileName = configPath ? (configPath.startsWith(cwd + sep) ? configPath.slice(cwd.length + 1) : configPath) : '';
  if (file) checkFileKeys(file.values, fileName);

  const resolveOne = (entry: Setting<string, unknown>, env: NodeJS.ProcessEnv): [unknown, Source] => {
    const fromCli = cli[entry.key];
    if (fromCli !== undefined) return [parseValue(entry, fromCli, `--${entry.flag}`), 'flag'];
    const fromEnv = entry.cliOnly ? undefined : env[envName(entry)];
    if (fromEnv !== undefined && fromEnv !== '') return [parseValue(entry, fromEnv, envName(entry)), 'env'];
    if (file && !entry.cliOnly && file.values[entry.key] !== undefined) {
      return [parseValue(entry, file.values[entry.key], `${fileName}: ${entry.key}`), 'config file'];
    }
    return [defaultOf(entry), 'default'];
  };

  // Env files may themselves set KEEL_* values, so they are loaded first, from the real environment's view.
  const [envFiles] = resolveOne(byKey.get('envFile')!, input.env) as [string[], Source];
  const env = buildEnvironment(input.env, envFiles, cwd);
  const mode: Mode = input.mode ?? 'serve';
  env.NODE_ENV ??= mode === 'dev' ? 'development' : 'production';

  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const entry of settings as readonly Setting<string, unknown>[]) {
    [values[entry.key], sources[entry.key]] = resolveOne(entry, env);
  }

  const appText = input.appArg ?? (typeof file?.values.app === 'string' ? file.values.app : null);
  const appBase = input.appArg || !configPath ? cwd : configPath.slice(0, configPath.length - fileName.length) || cwd;
  const app = appText ? parseAppSpec(appText, appBase) : null;

  // A dev server reloads one process on each change; more only when asked for anywhere.
  if (mode === 'dev' && sources.workers === 'default') values.workers = 1;

  const settled = values as unknown as ResolvedSettings;
  return deepFreeze({
    ...settled,
    mode,
    routeTable: buildRouteTable(settled, cwd),
    app,
    cwd,
    configFile: configPath,
    env,
    // The admin token may come from a flag, not only from a secret-named variable: it is never logged either way.
    // The redactor orders what it matches itself (longest first).
    secrets: settled.adminToken === null ? secretValues(env) : [...new Set([...secretValues(env), settled.adminToken])],
    sources: sources as Record<SettingKey, Source>,
  });
}
