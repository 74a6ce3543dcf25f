/**
 * Checks, before any worker starts, that every address keel will listen on is free, so a port
 * in use is one clear message and exit status 2, not a crash loop of workers. Stale unix sockets
 * (nobody answering) are removed, as Gunicorn does.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { BindAddress } from '../config/value-types.js';
import { bindFailure } from '../bind-failure.js';
import { keelError } from '../errors.js';

function tryListen(bind: BindAddress & { kind: 'tcp' }): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host: bind.host, port: bind.port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function checkBindable(bind: BindAddress, setting: string): Promise<void> {
  if (bind.kind === 'unix') {
    if (!existsSync(bind.path)) return;
    if (await socketAnswers(bind.path)) throw keelError('KEEL_ERR_BIND_IN_USE', { setting, address: bind.text });
    unlinkSync(bind.path);
    return;
  }
  if (bind.port === 0) return;
  const err = await tryListen(bind);
  if (err) throw bindFailure(err, bind, setting);
}

/** unix sockets, 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopback(bind: BindAddress): boolean {
  if (bind.kind === 'unix') return true;
  return bind.host === 'localhost' || bind.host === '::1' || /^(?:::ffff:)?127\./i.test(bind.host);
}
