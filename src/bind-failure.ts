/**
 * Why an address could not be listened on, in keel's words: the primary's check before any worker
 * starts and a worker's own listen (when the port was taken in between) say the same thing.
 */
import type { BindAddress } from './config/value-types.js';
import { type KeelError, keelError } from './errors.js';

/** The error for a failed listen on `bind`, named by `setting` (--bind, --redirect-http, --admin). */
export function bindFailure(err: NodeJS.ErrnoException, bind: BindAddress, setting: string): KeelError {
  if (err.code === 'EADDRINUSE') return keelError('KEEL_ERR_BIND_IN_USE', { setting, address: bind.text });
  const reason = err.code === 'EACCES' ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : err.code === 'EADDRNOTAVAIL' ? 'this machine has no such address' : err.message;
  return keelError('KEEL_ERR_BIND_FAILED', { setting, address: bind.text, reason });
}
