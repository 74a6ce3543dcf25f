/**
 * Waits until a just-started upstream answers HTTP: keel connects, sends `HEAD /` (or HEAD of the
 * route's health-check path), and takes the first bytes of any response (404 and 500 included) as
 * the sign, again and again until it works, the instance exits, or time runs out.
 *
 * Why not only a TCP connect: Gunicorn's master listens before its workers have imported the app,
 * so a connect succeeds even when the app cannot load; only an answer shows a worker serves. On a
 * HUP that is the difference between keeping the old instance and swapping in a broken one.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;

export interface ProbeTarget {
  readonly port?: number;
  /** A unix socket. */
  readonly path?: string;
  /** The URL path asked for: the route's health-check path when it has one, else `/`. */
  readonly urlPath: string;
}

/** One attempt: true once the server sends the start of an HTTP response, false on refusal, reset, close or `timeoutMs`. */
export function answersHttp(target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = target.path ? connect({ path: target.path }) : connect({ host: '127.0.0.1', port: target.port! });
    let head = '';
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write(`HEAD ${target.urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: keel-start-check\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1', 0, Math.min(chunk.length, 5));
      if (head.length >= 5) done(head.startsWith('HTTP/'));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** 'foreign': what answered on the port is another process's listener, not the instance's. */
export type WaitOutcome = 'listening' | 'exited' | 'timeout' | 'foreign';

/**
 * @example
 *   const outcome = await waitListening({ port: 41234, urlPath: '/' }, 30_000, () => child.exitCode !== null);
 */
export async function waitListening(target: ProbeTarget, timeoutMs: number, hasExited: () => boolean, isForeign: () => boolean = () => false): Promise<WaitOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited()) return 'exited';
    // A slow app boot holds the probe in the listen backlog: it may wait until the deadline.
    if (await answersHttp(target, Math.max(1, deadline - Date.now()))) {
      if (hasExited()) return 'exited';
      if (!isForeign()) return 'listening';
      // An instance on its way out (one that crashes right after it answered) still has its listener
      // in the socket table while its own fds can no longer be read: look again before blaming
      // another process, by which time its exit has usually been seen.
      await sleep(POLL_MS);
      if (hasExited()) return 'exited';
      // Another process took the port first: the instance cannot have it, waiting longer changes nothing.
      return isForeign() ? 'foreign' : 'listening';
    }
    if (hasExited()) return 'exited';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(POLL_MS);
  }
}
