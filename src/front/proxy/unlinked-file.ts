/**
 * Temporary files for bodies keel holds on a client's behalf (request-buffer.ts, response-spool.ts):
 * created under the system's temporary directory with O_EXCL and mode 0600, and unlinked at once,
 * as Nginx does with its client_body_temp and proxy_temp files. Such a file has no name on disk and
 * disappears with its descriptor, even if the worker is killed.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** @example const file = await openUnlinkedFile('body'); await file.write(chunk); … await file.close(); */
export async function openUnlinkedFile(kind: 'body' | 'response'): Promise<FileHandle> {
  const path = join(tmpdir(), `keel-${kind}-${process.pid}-${randomBytes(6).toString('hex')}`);
  // O_EXCL ('wx'): a name someone else created (a planted symlink) is never written through.
  const handle = await open(path, 'wx+', 0o600);
  await unlink(path).catch(() => {});
  return handle;
}
