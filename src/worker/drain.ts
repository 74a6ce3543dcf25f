/**
 * Draining a worker: stop accepting, let in-flight requests finish and clients leave, within the
 * graceful timeout. Resolves with how it ended; the caller closes what is left and exits.
 */
import { type FromWorker, MSG, isMessage } from '../ipc.js';
import type { InflightRequests } from './inflight.js';
import type { Listeners } from './listeners.js';

/** Drain waits this long before closing idle keep-alive connections, so busy clients get a Connection: close answer instead. */
const IDLE_CLOSE_DELAY_MS = 500;

export interface DrainDeps {
  readonly listeners: Listeners;
  readonly inflight: InflightRequests;
  readonly gracefulTimeoutSeconds: number;
  readonly send: (message: FromWorker) => void;
}

/**
 * Resolves once the primary has passed back every connection node:cluster was handing this worker
 * when it stopped accepting: its answer travels behind them (IPC is ordered), and a connection
 * handed to a worker that has exited is lost.
 */
function primaryCaughtUp(send: DrainDeps['send']): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    const onAck = (message: unknown): void => {
      if (!isMessage(message, MSG.stoppedAcceptingAck)) return;
      process.removeListener('message', onAck);
      process.removeListener('disconnect', resolve);
      resolve();
    };
    process.on('message', onAck);
    process.once('disconnect', resolve);
    send({ type: MSG.stoppedAccepting });
  });
}

export async function drainWorker({ listeners, inflight, gracefulTimeoutSeconds, send }: DrainDeps): Promise<'idle' | 'timeout'> {
  for (const ctx of inflight) if (!ctx.res.headersSent) ctx.res.shouldKeepAlive = false;
  await listeners.stopAccepting();
  const caughtUp = primaryCaughtUp(send);
  // Run from the check phase, after this loop iteration has read what clients sent: a worker starved of
  // CPU would otherwise run the timer first and reset connections whose next request is already waiting.
  const closeIdle = (): void => void setImmediate(() => listeners.closeIdleConnections());
  let idleTimer: NodeJS.Timeout | undefined;
  const idleStart = setTimeout(() => {
    closeIdle();
    idleTimer = setInterval(closeIdle, 250);
  }, IDLE_CLOSE_DELAY_MS);
  const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), gracefulTimeoutSeconds * 1000).unref());
  // Done when the clients have gone, not merely when no request is in progress: closing a keep-alive
  // connection that looks idle would reset a request the client has just sent on it.
  const outcome = await Promise.race([Promise.all([inflight.idle(), listeners.connectionsClosed(), caughtUp]).then(() => 'idle' as const), deadline]);
  clearTimeout(idleStart);
  clearInterval(idleTimer);
  return outcome;
}
