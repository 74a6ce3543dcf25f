/**
 * The effective config turned back into a `keel serve …` command line, for deployment files.
 * Only settings that differ from their defaults are written (plus --workers, whose default is the
 * machine's CPU count and so differs between the machine running init and the one deployed to).
 * Secret values never reach the command line: a secret setting becomes the name of its KEEL_* env
 * var, to be filled from an EnvironmentFile, `docker run --env-file` or a Kubernetes Secret.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { type Setting, type SettingKey, defaultOf, envName, settings, showValue } from '../config/settings.js';
import { hasUrlPassword } from '../config/url-password.js';

/** A setting whose value must come from the environment of the deployed keel, never from the files. */
export interface SecretSetting {
  readonly key: SettingKey;
  /** The env var keel reads it from: KEEL_REDIS. */
  readonly envName: string;
  /** `--redis`, for messages. */
  readonly flag: string;
}

export interface ServeArguments {
  /** `serve`, the app, then one or two words per non-default setting. */
  readonly args: readonly string[];
  readonly secrets: readonly SecretSetting[];
}

export interface ServeArgumentOptions {
  /** The APP argument as the deployed keel must see it (a path valid where it runs), or null for routes only. */
  readonly app: string | null;
  /** Values that replace the effective ones where the deployment differs (container binds, paths). */
  readonly overrides?: Partial<Record<SettingKey, unknown>>;
  /** Settings the deployment provides otherwise (systemd's User=, a container's USER); each must accept '' as none. */
  readonly omit?: ReadonlySet<SettingKey>;
}

/** Written out even when equal to the default: its default depends on the machine. */
const ALWAYS: ReadonlySet<SettingKey> = new Set<SettingKey>(['workers']);
/** Never written: the files reproduce the effective values themselves, so no config file is needed. */
const NEVER: ReadonlySet<SettingKey> = new Set<SettingKey>(['config', 'printConfig']);

function looksSecret(shown: string, knownSecrets: readonly string[]): boolean {
  return hasUrlPassword(shown) || knownSecrets.some((secret) => shown.includes(secret));
}

/**
 * The words after `keel` that reproduce `config`.
 *
 * @example
 *   serveArguments(config, { app: '/srv/app/server.ts' }).args
 *   // ['serve', '/srv/app/server.ts', '--bind', '0.0.0.0:8000', '--workers', '4']
 */
export function serveArguments(config: ResolvedConfig, options: ServeArgumentOptions): ServeArguments {
  const args: string[] = ['serve'];
  if (options.app) args.push(options.app);
  const secrets: SecretSetting[] = [];
  const values = config as unknown as Record<string, unknown>;
  for (const entry of settings as readonly Setting<string, unknown>[]) {
    const key = entry.key as SettingKey;
    if (NEVER.has(key)) continue;
    // The deployed keel may load the same config file: a value it sets that the deployment provides
    // otherwise is reset with an empty value (for these settings, "none").
    if (options.omit?.has(key)) {
      if (config.sources[key] === 'config file') args.push(`--${entry.flag}`, '');
      continue;
    }
    const overridden = options.overrides !== undefined && key in options.overrides;
    const value = overridden ? options.overrides![key] : values[key];
    const shown = valueText(entry, value);
    const byDefault = valueText(entry, defaultOf(entry));
    // An override back to the default is still written when the config file would set something else.
    if (!ALWAYS.has(key) && shown === byDefault && !(overridden && config.sources[key] === 'config file')) continue;
    if (!entry.cliOnly && (entry.secret || looksSecret(shown, config.secrets))) {
      secrets.push({ key, envName: envName(entry), flag: `--${entry.flag}` });
      continue;
    }
    args.push(...flagWords(entry, value));
  }
  return { args, secrets };
}

/** One setting as flags: `--h2c`, `--compress false`, or one `--static …` per item of a repeatable one. */
function flagWords(entry: Setting<string, unknown>, value: unknown): string[] {
  const flag = `--${entry.flag}`;
  if (entry.switch) return value === true ? [flag] : [];
  if (entry.repeatable && Array.isArray(value)) return value.flatMap((item) => [flag, valueText(entry, [item])]);
  return [flag, valueText(entry, value)];
}

/** A value as its flag takes it back: `off` rather than --print-config's `none` for a turned-off --admin or --hsts. */
function valueText(entry: Setting<string, unknown>, value: unknown): string {
  return value === null && entry.type.show ? entry.type.show(null) : showValue(entry, value);
}
