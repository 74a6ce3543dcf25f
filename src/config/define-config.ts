/**
 * The typed config-file helper. Every key is optional; defaults come from the settings table.
 *
 * @example
 *   // keel.config.ts
 *   import { defineConfig } from 'keel';
 *   export default defineConfig({ app: './src/app.ts', workers: 4, bind: ['0.0.0.0:8000'] });
 */
import type { RouteInput } from './route-types.js';
import type { ResolvedSettings } from './settings.js';

type FileValue<T> = T extends readonly (infer I)[] ? readonly (FileValue<I> | string)[] | string : T extends object | null ? string | null : T | string;

type FileKeys = Exclude<keyof ResolvedSettings, 'config' | 'printConfig' | 'routes'>;

/** What a keel.config file may set: any setting (see docs/settings.md), plus the app. All optional. */
export type UserConfig = { -readonly [K in FileKeys]?: FileValue<ResolvedSettings[K]> } & {
  /** The app, as on the command line: path/to/file[:export] or path/to/file:factory(). */
  app?: string;
  /** Routes matched by longest prefix before the app: static files, proxies, managed upstream apps. */
  routes?: RouteInput[];
};

export function defineConfig(config: UserConfig): UserConfig {
  return config;
}
