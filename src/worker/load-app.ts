/**
 * Loads the user's app in a worker: TypeScript through tsx (no build step), the export named by
 * the APP spec (default export, then `app`), and a factory called when the spec ends in `()`.
 * Failures become coded errors so the primary can stop instead of restarting forever.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import type { AppSpec } from '../config/app-spec.js';
import { keelError } from '../errors.js';
import { moduleExports } from '../module-exports.js';
import { isForeignFrameLine } from '../observe/stack-frames.js';
import type { SendFailure } from '../front/error-page.js';
import type { AdaptedApp } from './adapters/types.js';

const TYPESCRIPT = /\.(ts|mts|cts)$/;

async function importFile(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    if (TYPESCRIPT.test(file)) {
      // Both of tsx's hooks: a .ts file in a package without "type": "module" is compiled to CommonJS
      // and required; with only the ESM hook, Node 22's require(esm) sees a cycle and refuses it.
      (await import('tsx/cjs/api')).register();
      (await import('tsx/esm/api')).register();
    }
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw keelError('KEEL_ERR_APP_LOAD', { path: file, reason: describeLoadError(err) }, { cause: err });
  }
}

/** The error with the place it happened: the first stack frame in the app, or the parser's location. */
export function describeLoadError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const frame = err.stack?.split('\n').find((line) => /^\s+at /.test(line) && !isForeignFrameLine(line));
  return frame ? `${err.name}: ${err.message}\n${frame}` : `${err.name}: ${err.message}`;
}

export async function loadApp(spec: AppSpec): Promise<unknown> {
  const mod = moduleExports(await importFile(spec.file));
  // A CommonJS module's exports arrive as `default`; its named exports also sit on that object.
  const cjs = mod.default && typeof mod.default === 'object' ? (mod.default as Record<string, unknown>) : {};
  const candidates = spec.exportName ? [spec.exportName] : ['default', 'app'];
  const name = candidates.find((n) => mod[n] !== undefined || cjs[n] !== undefined);
  if (!name) {
    const available = Object.keys(mod).filter((k) => k !== 'module.exports').join(', ');
    throw keelError('KEEL_ERR_APP_EXPORT', { path: spec.text.split(':')[0], name: spec.exportName ?? 'default or app', available });
  }
  const value = mod[name] !== undefined ? mod[name] : cjs[name];
  if (!spec.factory) return value;
  if (typeof value !== 'function') {
    throw keelError('KEEL_ERR_APP_SHAPE', { what: `${name} (called as a factory) is a ${typeof value}, not a function` });
  }
  try {
    return await (value as () => unknown)();
  } catch (err) {
    throw keelError('KEEL_ERR_APP_LOAD', { path: spec.file, reason: `${name}() threw: ${describeLoadError(err)}` }, { cause: err });
  }
}

/** The whole load error for a developer's terminal: keel's line, then the cause's stack (where a syntax error names its file and line). */
export function describeDevLoadError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? cause.stack ?? String(cause) : err.stack ?? '';
  // Frames in Node's loader, dependencies (tsx, esbuild) and keel say nothing about the app.
  const kept = detail.split('\n').filter((line) => !isForeignFrameLine(line));
  return kept.length ? `${err.message}\n${kept.join('\n')}` : err.message;
}

/**
 * Under `keel dev`, the app a worker serves when the real one did not load: every request gets the
 * dev error page with the load error, so the browser shows what to fix.
 */
export function loadErrorApp(err: unknown, sendFailure: SendFailure): AdaptedApp {
  return {
    shape: 'load-error',
    handle(req: IncomingMessage, res: ServerResponse): void {
      sendFailure(req, res, err, req.keel?.id ?? '-');
    },
  };
}
