/**
 * Write-then-rename, for keys and certificates in the state dir: a crash never leaves half a key or
 * certificate behind for the next start to trust, and the file has exactly `mode` whatever the umask.
 */
import { randomBytes } from 'node:crypto';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data, { mode, flag: 'wx' });
    // The umask may have narrowed the mode at creation.
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw err;
  }
}
