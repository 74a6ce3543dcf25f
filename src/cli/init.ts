/**
 * `keel init systemd|docker|kubernetes`: writes deployment files filled from the effective config.
 */
import { keelError } from '../errors.js';

export interface InitInput {
  readonly target: string;
  readonly appArg: string | null;
  readonly cli: Record<string, string | string[] | boolean>;
}

export async function init(_input: InitInput): Promise<void> {
  throw keelError('KEEL_ERR_USAGE', { text: 'keel init: not built yet' });
}
