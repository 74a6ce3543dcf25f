/**
 * --user and --group: names to ids, once at start-up. Workers run with them; the primary keeps
 * its own so it can bind privileged ports and re-read its config on HUP.
 */
import { execFileSync } from 'node:child_process';
import { keelError } from '../errors.js';

/**
 * A user or group name (or number) to its id, as `id -u NAME` / `getent group NAME` say; an unknown
 * name is a KEEL_ERR_USER naming the flag. Also used by `keel doctor` to see who workers would run as.
 *
 * @example lookupId('user', 'nobody') // 65534
 */
export function lookupId(kind: 'user' | 'group', value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  try {
    return Number(execFileSync('id', [kind === 'user' ? '-u' : '-g', value], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    if (kind === 'group') {
      try {
        const line = execFileSync('getent', ['group', value], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        return Number(line.split(':')[2]);
      } catch {
        // fall through to the message
      }
    }
    throw keelError('KEEL_ERR_USER', { setting: `--${kind}`, reason: `no ${kind} named ${JSON.stringify(value)} on this machine` });
  }
}

export function resolvePrivileges(user: string | null, group: string | null): { uid?: number; gid?: number } {
  if (!user && !group) return {};
  if (process.getuid?.() !== 0) {
    throw keelError('KEEL_ERR_USER', { setting: user ? '--user' : '--group', reason: 'switching user needs keel to start as root' });
  }
  return { uid: user ? lookupId('user', user) : undefined, gid: group ? lookupId('group', group) : undefined };
}
