/**
 * The request ID: a trusted proxy's X-Request-Id when it looks like one, otherwise a new UUID.
 */
import { randomUUID } from 'node:crypto';

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function pickRequestId(incoming: string | string[] | undefined, trustedPeer: boolean): string {
  if (trustedPeer && typeof incoming === 'string' && VALID_ID.test(incoming)) return incoming;
  return randomUUID();
}
