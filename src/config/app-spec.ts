/**
 * The APP argument: `path/to/file[:export]` or `path/to/file:factory()`, as Gunicorn's
 * `module:app` and `module:create_app()`.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { keelError } from '../errors.js';

export interface AppSpec {
  /** As the user wrote it. */
  readonly text: string;
  readonly file: string;
  /** The export to use; null means `default`, then `app`. */
  readonly exportName: string | null;
  /** Call the export (possibly async) to get the app. */
  readonly factory: boolean;
}

const APP_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;

export function parseAppSpec(text: string, cwd: string): AppSpec {
  const match = /^(.+?)(?::([A-Za-z_$][\w$]*)(\(\))?)?$/.exec(text.trim());
  if (!match || !APP_FILE.test(match[1])) throw keelError('KEEL_ERR_APP_SPEC', { spec: text });
  const file = resolve(cwd, match[1]);
  if (!existsSync(file) || !statSync(file).isFile()) throw keelError('KEEL_ERR_APP_NOT_FOUND', { path: match[1] });
  return { text, file, exportName: match[2] ?? null, factory: match[3] === '()' };
}
