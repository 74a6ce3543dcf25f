/**
 * sd_notify for systemd's Type=notify units: READY=1 once the first generation of workers serves,
 * RELOADING=1 and READY=1 around a HUP reload, STOPPING=1 when keel starts to drain.
 *
 * The protocol is one datagram on the unix socket named by NOTIFY_SOCKET, but Node has no unix
 * datagram sockets, and the npm `sd-notify` package is a native addon that needs libsystemd's
 * headers and a compiler at install time. So keel runs systemd's own `systemd-notify`, which
 * every systemd host has; `--pid` names keel's primary as the main process, and the unit says
 * NotifyAccess=all because the datagram comes from that helper process, not from keel itself.
 */
import { spawn } from 'node:child_process';
import type { Environment } from '../config/environment.js';
import type { ErrorLog } from '../observe/error-log.js';
import type { Phase } from './arbiter.js';

export interface ServiceNotifier {
  /** Tells systemd about a phase change; repeated phases are sent once. */
  phase(phase: Phase): void;
  /**
   * Resolves once every message queued so far has been handed to systemd, or after `limitMs`:
   * keel awaits it before it exits, or STOPPING=1 could still be on its way when the main PID is
   * gone (and systemd then ignores it).
   */
  settled(limitMs: number): Promise<void>;
}

function messageFor(phase: Phase): string[] | null {
  if (phase === 'running') return ['READY=1', 'STATUS=serving'];
  // systemd 253+ wants the monotonic time of the reload request with RELOADING=1; older ones ignore it.
  if (phase === 'reloading') return ['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, 'STATUS=reloading'];
  if (phase === 'stopping') return ['STOPPING=1', 'STATUS=draining'];
  return null;
}

/**
 * A notifier when keel runs under systemd (NOTIFY_SOCKET set), else null.
 *
 * @example
 *   const notifier = createServiceNotifier(config.env, log);
 *   notifier?.phase('running'); // systemd-notify --pid=<primary> READY=1 STATUS=serving
 */
export function createServiceNotifier(env: Environment, log: ErrorLog): ServiceNotifier | null {
  if (!env.NOTIFY_SOCKET) return null;
  let last: Phase | null = null;
  // One helper at a time, so RELOADING=1 cannot overtake the READY=1 sent before it.
  let queue: Promise<void> = Promise.resolve();
  let warned = false;
  const send = (words: string[]): Promise<void> =>
    new Promise((done) => {
      const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...words], { env, stdio: 'ignore' });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (!warned) log.warn({ err: { message: err.message } }, 'NOTIFY_SOCKET is set but systemd-notify cannot run: systemd will not hear that keel is ready');
        warned = true;
        done();
      });
      child.on('exit', (code) => {
        if (code !== 0) log.warn({ code, message: words.join(' ') }, 'systemd-notify failed');
        done();
      });
    });
  return {
    phase(phase) {
      const words = messageFor(phase);
      if (!words || phase === last) return;
      last = phase;
      queue = queue.then(() => send(words));
    },
    settled(limitMs) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((done) => (timer = setTimeout(done, limitMs)));
      return Promise.race([queue, limit]).finally(() => clearTimeout(timer));
    },
  };
}
