/**
 * On-the-fly compression. STUB: to be replaced (issue 5, point 2). Returns null when off, so the
 * pipeline pays nothing for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedConfig } from '../config/resolve.js';

/** Prepares a response to be compressed if what it turns out to carry qualifies. */
export type Compress = (req: IncomingMessage, res: ServerResponse) => void;

export function createCompression(config: ResolvedConfig): Compress | null {
  void config;
  return null;
}
