/**
 * Waits until a just-started upstream accepts connections: keel connects and hangs up, again and
 * again, as a load balancer's TCP health check does, until it works, the instance exits, or time runs out.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;

function tryConnect(target: { port?: number; path?: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = target.path ? connect({ path: target.path }) : connect({ host: '127.0.0.1', port: target.port! });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

export type WaitOutcome = 'listening' | 'exited' | 'timeout';

/**
 * @example
 *   const outcome = await waitListening({ port: 41234 }, 30_000, () => child.exitCode !== null);
 */
export async function waitListening(target: { port?: number; path?: string }, timeoutMs: number, hasExited: () => boolean): Promise<WaitOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited()) return 'exited';
    if (await tryConnect(target)) return hasExited() ? 'exited' : 'listening';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(POLL_MS);
  }
}
