/**
 * Finds and loads keel.config.{ts,mts,js,mjs,json}. TypeScript config files load through tsx,
 * so a typed defineConfig() file needs no build step. Returns the raw object; resolve.ts validates it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve, basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keelError } from '../errors.js';
import { moduleExports } from '../module-exports.js';

export const CONFIG_FILE_NAMES = ['keel.config.ts', 'keel.config.mts', 'keel.config.js', 'keel.config.mjs', 'keel.config.json'];

export interface LoadedConfigFile {
  readonly path: string;
  readonly values: Record<string, unknown>;
}

export function findConfigFile(explicit: string | null, cwd: string): string | null {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw keelError('KEEL_ERR_CONFIG_FILE', { path: explicit, reason: 'no such file' });
    return path;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

export async function loadConfigFile(path: string): Promise<LoadedConfigFile> {
  let values: unknown;
  try {
    if (path.endsWith('.json')) {
      values = JSON.parse(readFileSync(path, 'utf8'));
    } else {
      // A cache-busting query makes a HUP reload see the edited file.
      const url = `${pathToFileURL(path).href}?reload=${Date.now()}`;
      const mod = moduleExports(/\.m?ts$/.test(path) ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url) : await import(url));
      values = mod.default ?? mod.config;
    }
  } catch (err) {
    throw keelError('KEEL_ERR_CONFIG_FILE', { path: basename(path), reason: (err as Error).message.split('\n')[0] }, { cause: err });
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw keelError('KEEL_ERR_CONFIG_FILE', { path: basename(path), reason: 'it must export an object (export default defineConfig({ ... }))' });
  }
  return { path, values: values as Record<string, unknown> };
}
