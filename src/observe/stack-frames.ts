/**
 * Which code a stack frame is in. Two places need to know which frames are the app's: the load
 * error keel prints (the first app frame names the file and line to fix) and keel dev's error page
 * (which folds Node's, the dependencies' and keel's own frames). One rule, so they agree.
 */
import { isAbsolute, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** keel's own compiled files: dist/ (this file is dist/observe/…). */
const KEEL_DIST = fileURLToPath(new URL('..', import.meta.url));
const NODE_MODULES = `${sep}node_modules${sep}`;

export type FrameKind = 'app' | 'node' | 'dependency' | 'keel' | 'other';

/** The kind of the file a frame names (a path, or `node:…`). */
export function frameKind(file: string): FrameKind {
  if (file.startsWith('node:')) return 'node';
  if (file.includes(NODE_MODULES)) return 'dependency';
  if (file.startsWith(KEEL_DIST)) return 'keel';
  return isAbsolute(file) ? 'app' : 'other';
}

/** Whether a stack line is a frame (`    at …`) in Node, a dependency or keel: one that says nothing about the app. */
export function isForeignFrameLine(line: string): boolean {
  return /^\s+at /.test(line) && (line.includes('node:') || line.includes(NODE_MODULES) || line.includes(KEEL_DIST));
}
