/**
 * Where a managed upstream instance listens: a free loopback port for `{port}`, or a fresh unix
 * socket path in keel's private directory for `{socket}`, and the command with it filled in.
 */
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface InstanceAddress {
  /** The port, when the command has {port} (also set beside {socket}, for commands that want both). */
  readonly port: number | null;
  readonly socket: string | null;
  /** What workers proxy to: `http://127.0.0.1:PORT` or `unix:/path`. */
  readonly target: string;
}

/** Whether the command listens on a unix socket ({socket}) rather than a port. */
export function usesSocket(command: string): boolean {
  return command.includes('{socket}');
}

/**
 * A loopback port nobody listens on now: the kernel picks it (port 0), keel closes it and hands it
 * to the command. Another process could take it in between; the instance would then fail to start
 * and be retried on a new port, which is cheaper than passing sockets to programs that cannot take them.
 */
export async function freeLoopbackPort(attempts = 3): Promise<number> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await new Promise<number>((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
          const address = server.address();
          const port = typeof address === 'object' && address ? address.port : 0;
          server.close(() => resolve(port));
        });
      });
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/**
 * A directory only keel's user can enter (mkdtemp makes it 0700), for the instances' sockets, so no
 * other local user can connect to an upstream that trusts whoever reaches its socket.
 */
export class SocketDir {
  private dir: string | null = null;
  private counter = 0;

  /** `owner`: with --user, the instances create their sockets and the workers connect as that user. */
  constructor(private readonly owner: { readonly uid?: number; readonly gid?: number } = {}) {}

  /** A path no instance used before, so a replacement and the instance it replaces can coexist. */
  nextPath(label: string): string {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'keel-run-'));
      if (this.owner.uid !== undefined || this.owner.gid !== undefined) chownSync(this.dir, this.owner.uid ?? -1, this.owner.gid ?? -1);
    }
    this.counter += 1;
    return join(this.dir, `${label.replace(/[^A-Za-z0-9_.-]/g, '_')}-${this.counter}.sock`);
  }

  remove(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

export async function allocateAddress(command: string, sockets: SocketDir, label: string): Promise<InstanceAddress> {
  const port = command.includes('{port}') ? await freeLoopbackPort() : null;
  if (usesSocket(command)) {
    const socket = sockets.nextPath(label);
    return { port, socket, target: `unix:${socket}` };
  }
  return { port, socket: null, target: `http://127.0.0.1:${port}` };
}

/** The command with its placeholders filled in. Paths from mkdtemp and port numbers need no shell quoting. */
export function fillCommand(command: string, address: InstanceAddress): string {
  return command.replaceAll('{port}', String(address.port ?? '')).replaceAll('{socket}', address.socket ?? '');
}

/**
 * A short name for log lines: the program's base name, e.g. `gunicorn` for
 * `FLASK_DEBUG=0 /usr/bin/gunicorn -b …`, or `python3 -m x` → `python3`.
 */
export function programName(command: string): string {
  for (const word of command.trim().split(/\s+/)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(word) || word === 'exec' || word === 'env') continue;
    return basename(word.replace(/^['"]|['"]$/g, '')) || 'run';
  }
  return 'run';
}
