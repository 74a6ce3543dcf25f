/**
 * Stack signatures for the error inbox: two errors thrown at the same place, with whatever
 * message, group together; a different call path is a different group.
 */
import { createHash } from 'node:crypto';

/** A stack line that names a frame (V8's `    at …`). */
const FRAME = /^\s+at /;
/** `file.js:12:34` → `file.js:12`: columns move with formatting-only edits and minified bundles. */
const COLUMN = /:(\d+):\d+(?=\)?$)/;
/** `file.js?t=1700000000` (a dev-mode reload's cache buster) → `file.js`. */
const QUERY = /\?[^:)\s]*(?=:\d)/;

/** The frames of a stack as signed: message lines dropped, column numbers and query strings removed. */
export function stackFrames(stack: string): string[] {
  const frames: string[] = [];
  for (const line of stack.split('\n')) {
    if (!FRAME.test(line)) continue;
    frames.push(line.trim().replace(QUERY, '').replace(COLUMN, ':$1'));
  }
  return frames;
}

/**
 * A short stable hash of where an error was thrown: 12 hex digits of SHA-256 over its frames.
 * An error without frames is signed by its title.
 * @example stackSignature('TypeError: a\n    at f (/app.js:3:9)') === stackSignature('TypeError: b\n    at f (/app.js:3:11)')
 */
export function stackSignature(stack: string, title = ''): string {
  const frames = stackFrames(stack);
  return createHash('sha256')
    .update(frames.length > 0 ? frames.join('\n') : title)
    .digest('hex')
    .slice(0, 12);
}

/** `TypeError: x is undefined`: the error's name and message, or what was thrown, on one line. */
export function errorTitle(err: unknown): string {
  let title: string;
  if (err instanceof Error) title = `${err.name}: ${err.message}`;
  else {
    try {
      title = `thrown: ${typeof err === 'string' ? err : JSON.stringify(err)}`;
    } catch {
      title = `thrown: ${String(err)}`;
    }
  }
  const line = title.split('\n', 1)[0]!;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** The stack of what was thrown; a non-error has none. */
export function errorStack(err: unknown): string {
  return err instanceof Error && typeof err.stack === 'string' ? err.stack : errorTitle(err);
}
