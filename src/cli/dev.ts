/**
 * `keel dev APP`: the development mode. Loopback only, one worker, reload on file changes, and the
 * rich error page that `keel serve` never shows.
 */
import { keelError } from '../errors.js';

export interface DevInput {
  readonly appArg: string | null;
  readonly cli: Record<string, string | string[] | boolean>;
}

export async function dev(_input: DevInput): Promise<void> {
  throw keelError('KEEL_ERR_USAGE', { text: 'keel dev: not built yet' });
}
