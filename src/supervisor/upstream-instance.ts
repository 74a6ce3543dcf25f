/**
 * One running copy of a managed upstream command: started in its own process group so keel can
 * signal the server and everything it forks (a Gunicorn master and its workers) at once, its output
 * logged line by line, and stopped the way systemd stops a unit: SIGTERM to the group, a grace
 * period, then SIGKILL.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import type { ErrorLog } from '../observe/error-log.js';
import { type InstanceAddress, fillCommand } from './upstream-address.js';
import { LineSplitter, levelOfLine } from './upstream-output.js';
import { portOwnership } from './port-owner.js';
import { type WaitOutcome, waitListening } from './wait-listening.js';

/** Output lines kept for the message when an instance fails to start. */
const RECENT_LINES = 5;

export interface InstanceSpec {
  /** For log lines: `gunicorn#1`. */
  readonly name: string;
  /** The route prefix it serves. */
  readonly route: string;
  /** What the start check asks for (HEAD): the route's health path, or `/`. */
  readonly probePath: string;
  /** The command template, with {port} or {socket}. */
  readonly command: string;
  readonly address: InstanceAddress;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly log: ErrorLog;
  /** --user/--group: instances run unprivileged like the workers, never as the root a primary may be. */
  readonly privileges: { readonly uid?: number; readonly gid?: number };
}

export interface InstanceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

let deathSignalPrefix: readonly string[] | null = null;

/**
 * Node cannot ask the kernel to signal a child when its parent dies (prctl PR_SET_PDEATHSIG), but
 * util-linux's setpriv can, and then execs the command in the same process. With it, an instance
 * gets SIGTERM if keel's primary is killed with SIGKILL instead of living on as an orphan.
 * Checked once: where setpriv is missing or too old, instances start without it.
 */
function deathSignalWrapper(): readonly string[] {
  if (deathSignalPrefix) return deathSignalPrefix;
  const probe = spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore' });
  deathSignalPrefix = probe.status === 0 ? ['setpriv', '--pdeathsig', 'TERM', '--'] : [];
  return deathSignalPrefix;
}

export class UpstreamInstance {
  readonly pid: number;
  readonly startedAt = Date.now();
  /** What workers proxy to. */
  readonly target: string;
  /** Set once keel has decided to stop it (reload, shutdown, start timeout): its exit is then expected. */
  stopReason: string | null = null;
  exit: InstanceExit | null = null;
  readonly exited: Promise<InstanceExit>;
  /** Resolves once both output pipes ended, so the last lines before an exit are logged and in lastOutput(). */
  readonly outputClosed: Promise<void>;
  private readonly child: ChildProcess;
  private readonly recent: string[] = [];

  /**
   * Starts the command. `/bin/sh -c "exec CMD"` lets the command use shell syntax while the PID
   * keel watches is the server's own, not a shell's that would swallow signals.
   */
  constructor(readonly spec: InstanceSpec) {
    this.target = spec.address.target;
    const env: Record<string, string | undefined> = { ...spec.env };
    // Heroku's convention: many servers read their port from PORT when no flag says otherwise.
    if (spec.address.port !== null) env.PORT = String(spec.address.port);
    const shell = ['/bin/sh', '-c', `exec ${fillCommand(spec.command, spec.address)}`];
    const [file, ...args] = [...deathSignalWrapper(), ...shell];
    this.child = spawn(file, args, { cwd: spec.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...spec.privileges });
    this.pid = this.child.pid ?? 0;
    const log = spec.log.child({ upstream: spec.name, upstream_pid: this.pid, route: spec.route });
    for (const stream of ['stdout', 'stderr'] as const) {
      const lines = new LineSplitter((line) => {
        if (this.recent.push(line) > RECENT_LINES) this.recent.shift();
        log[levelOfLine(line, stream)]({ stream }, line);
      });
      const pipe = this.child[stream]!;
      pipe.on('data', (chunk: Buffer) => lines.push(chunk));
      pipe.on('end', () => lines.end());
      pipe.on('error', () => {});
    }
    this.outputClosed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exit) return;
        this.exit = { code, signal };
        // Whatever the server left behind in its group (workers of a master that crashed) goes with it,
        // as systemd's KillMode=control-group does when a unit's main process ends.
        this.signalGroup('SIGKILL');
        if (spec.address.socket) {
          try {
            unlinkSync(spec.address.socket);
          } catch {
            // the server removed it
          }
        }
        resolve(this.exit);
      };
      this.child.once('exit', finish);
      // spawn itself failed (no /bin/sh, EAGAIN): no 'exit' follows.
      this.child.once('error', (err) => {
        this.recent.push(err.message);
        if (this.pid === 0 || this.child.exitCode !== null) finish(this.child.exitCode, null);
      });
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Resolves when the instance accepts connections, exits, or `timeoutMs` passes. */
  waitListening(timeoutMs: number): Promise<WaitOutcome> {
    const { socket, port } = this.spec.address;
    const urlPath = this.spec.probePath;
    if (socket) return waitListening({ path: socket, urlPath }, timeoutMs, () => this.exit !== null);
    // The instance leads its own process group (it is spawned detached), so the group id is its pid.
    return waitListening({ port: port!, urlPath }, timeoutMs, () => this.exit !== null, () => portOwnership(port!, this.pid) === 'foreign');
  }

  /**
   * SIGTERM to the whole group (Gunicorn's master and workers finish their requests), SIGKILL
   * after `graceMs`. Resolves when the instance is gone.
   */
  async stop(reason: string, graceMs: number): Promise<InstanceExit> {
    this.stopReason ??= reason;
    if (this.exit) return this.exit;
    this.signalGroup('SIGTERM');
    const timer = setTimeout(() => {
      this.spec.log.warn({ upstream: this.spec.name, upstream_pid: this.pid, graceful_timeout_s: graceMs / 1000 }, 'upstream did not stop in time; killing it');
      this.signalGroup('SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** The last resort when keel itself exits abruptly: synchronous, no waiting. */
  killNow(): void {
    this.signalGroup('SIGKILL');
  }

  /** `exit code 1`, `killed by SIGKILL`, for log lines and messages. */
  describeExit(): string {
    if (!this.exit) return 'running';
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  /** Its last few output lines, joined, for a start-up failure message. */
  lastOutput(): string {
    return this.recent.join(' | ');
  }

  uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.pid === 0) return;
    try {
      // detached: true made the instance a process-group leader, so -pid is its whole group.
      process.kill(-this.pid, signal);
    } catch {
      // the group is gone
    }
  }
}
