/**
 * The arbiter, as in Gunicorn: the primary's state machine over its workers. Signal handlers only
 * queue the signal; one loop handles the queue through a table, reaps and logs every exit with its
 * cause, enforces heartbeats, and brings the workers of the current generation to their target.
 * It never loads the app, so an app bug cannot take it down.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../config/resolve.js';
import type { TlsMaterial } from '../tls/material.js';
import { EXIT, keelError, type KeelError } from '../errors.js';
import { type FromWorker, MSG, type TelemetryMessage, type ToWorker, type UpstreamTargets } from '../ipc.js';
import type { PrimaryServices } from './primary-services.js';
import type { ErrorLog } from '../observe/error-log.js';
import type { RetireReason, WorkerRecord } from './worker-record.js';

/** A worker that dies sooner than this after starting counts toward the crash loop. */
const EARLY_EXIT_MS = 5000;
/** This many early exits within CRASH_LOOP_WINDOW_MS and keel stops, as PM2 stops an app after its restarts run out. */
const MAX_EARLY_EXITS = 5;
/** Early exits older than this are forgotten, so rare crashes spread over days never add up to a crash loop. */
const CRASH_LOOP_WINDOW_MS = 60_000;
const MAX_BACKOFF_MS = 10_000;
/** A worker that has not loaded its app by then is killed. */
const BOOT_TIMEOUT_MS = 120_000;
/** Extra time past --graceful-timeout before a draining worker is killed. */
export const KILL_GRACE_MS = 2000;

/** The wait before the restart that follows the n-th early exit in a row: 100 ms doubling, up to MAX_BACKOFF_MS. */
function backoffAfter(earlyExits: number): number {
  return earlyExits === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (earlyExits - 1));
}

export type Phase = 'starting' | 'running' | 'reloading' | 'stopping';

/**
 * How a reload asked for with reloadApp() ended: the new generation serves (`reloaded`), or it did
 * not (`failed`, with the error; under `keel dev` a working older worker keeps serving), or keel
 * was starting, reloading or stopping and did not try (`busy`).
 */
export interface ReloadOutcome {
  readonly status: 'reloaded' | 'failed' | 'busy';
  readonly error?: string;
}

export interface ArbiterOptions {
  readonly log: ErrorLog;
  readonly privileges: { uid?: number; gid?: number };
  /** Re-reads flags, env and config files for HUP; throws a KeelError when they are bad. */
  readonly reloadConfig: () => Promise<ResolvedConfig>;
  readonly onReopenLogs: () => void;
  /** The certificates and ACME challenges a worker starts with (the primary's current ones). */
  readonly tlsMaterial: () => TlsMaterial;
  /** Managed upstream addresses a worker starts with. */
  readonly upstreams: () => UpstreamTargets;
  /** Shared services workers call (rate-limit counters, cache entries): they live here, in one process. */
  readonly services: PrimaryServices;
  /** Told of every worker start and exit and of the workers' reports (the metrics and the status page). */
  readonly telemetry?: WorkerObserver;
  /** Called once, when every worker of the first generation is ready. */
  readonly onFirstReady: (workers: WorkerRecord[]) => void;
  /** Called when the phase changes to running, reloading or stopping (tells systemd; see service-notify.ts). */
  readonly onPhase?: (phase: Phase) => void;
  /** Called once when keel must stop: the exit status, and a message for the terminal when it failed. */
  readonly onExit: (code: number, failure: string | null) => void;
}

/** What the telemetry needs from the arbiter; see observe/telemetry.ts. */
export interface WorkerObserver {
  workerStarted(record: WorkerRecord): void;
  /** `stopping`: keel is shutting down, so the exit is no restart. */
  workerExited(record: WorkerRecord, stopping: boolean): void;
  fold(record: WorkerRecord, report: TelemetryMessage): void;
}

type SignalName = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGTTIN' | 'SIGTTOU';
export const HANDLED_SIGNALS: readonly SignalName[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGTTOU'];

export class Arbiter {
  private config: ResolvedConfig;
  private readonly workers = new Map<number, WorkerRecord>();
  private target: number;
  private generation = 0;
  private phase: Phase = 'starting';
  private readonly signalQueue: SignalName[] = [];
  private loopScheduled = false;
  /** When recent early exits happened, newest last. */
  private earlyExitTimes: number[] = [];
  private respawnAt = 0;
  private respawnTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private everReady = false;
  private exiting = false;
  private previous: { config: ResolvedConfig; target: number } | null = null;
  /**
   * Under `keel dev`: a worker forked ahead of the next reload, which has loaded keel's modules and
   * waits for its config. A reload then costs loading the app, not starting Node and keel (about a second here).
   */
  private spare: { worker: Worker; wantsConfig: boolean; envKey: string } | null = null;
  /** Callers of reloadApp() waiting for the reload in progress to end. */
  private reloadWaiters: ((outcome: ReloadOutcome) => void)[] = [];

  private readonly signalHandlers: Record<SignalName, () => void> = {
    SIGTERM: () => this.stopGracefully('SIGTERM'),
    SIGINT: () => (this.phase === 'stopping' ? this.stopNow('second SIGINT') : this.stopGracefully('SIGINT')),
    SIGQUIT: () => this.stopNow('SIGQUIT'),
    SIGHUP: () => void this.reload(),
    SIGUSR1: () => this.reopenLogs(),
    SIGTTIN: () => this.scale(+1),
    SIGTTOU: () => this.scale(-1),
  };

  constructor(config: ResolvedConfig, private readonly options: ArbiterOptions) {
    this.config = config;
    this.target = config.workers;
  }

  get log(): ErrorLog {
    return this.options.log;
  }

  start(): void {
    cluster.setupPrimary({
      exec: fileURLToPath(new URL('../worker/entry.js', import.meta.url)),
      args: [],
      silent: false,
      ...this.options.privileges,
    });
    cluster.on('message', (worker, message: FromWorker) => this.onMessage(worker, message));
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    for (const name of HANDLED_SIGNALS) {
      process.on(name, () => {
        this.signalQueue.push(name);
        this.wake();
      });
    }
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(), 250);
    this.wake();
  }

  /** True while every wanted worker is up and nothing is draining keel. */
  isReady(): boolean {
    if (this.phase === 'starting' || this.phase === 'stopping') return false;
    return this.readyServing().length >= this.target;
  }

  describe(): Record<string, unknown> {
    return { phase: this.phase, workers: { ready: this.readyServing().length, target: this.target, total: this.workers.size } };
  }

  /**
   * Starts a new generation with fresh code and config, as HUP does, and resolves when it serves
   * or has failed. For `keel dev`, which reloads on file changes without sending itself signals.
   *
   * @example const { status, error } = await arbiter.reloadApp();
   */
  reloadApp(): Promise<ReloadOutcome> {
    if (this.phase !== 'running' || this.exiting) return Promise.resolve({ status: 'busy' });
    const settled = new Promise<ReloadOutcome>((resolve) => this.reloadWaiters.push(resolve));
    // New code deserves a prompt start, whatever the old code's crashes had built up.
    this.respawnAt = 0;
    this.earlyExitTimes = [];
    void this.reload();
    return settled;
  }

  private settleReload(outcome: ReloadOutcome): void {
    const waiters = this.reloadWaiters;
    this.reloadWaiters = [];
    for (const resolve of waiters) resolve(outcome);
  }

  private readyServing(): WorkerRecord[] {
    return [...this.workers.values()].filter((w) => w.state === 'ready' && w.retireReason === null);
  }

  private wake(): void {
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      this.runLoop();
    });
  }

  private runLoop(): void {
    for (let signal = this.signalQueue.shift(); signal; signal = this.signalQueue.shift()) {
      this.log.info({ signal }, `received ${signal}`);
      this.signalHandlers[signal]();
    }
    this.maintain();
  }

  /** Brings the current generation to its target, and retires what the new workers replace. */
  private maintain(): void {
    if (this.phase === 'stopping' || this.exiting) return;
    const current = [...this.workers.values()].filter((w) => w.generation === this.generation && w.retireReason === null && w.state !== 'dead' && w.state !== 'draining');
    const missing = this.target - current.length;
    if (missing > 0) {
      const wait = this.respawnAt - Date.now();
      if (wait > 0) {
        this.respawnTimer ??= setTimeout(() => {
          this.respawnTimer = null;
          this.wake();
        }, wait);
      } else {
        for (let i = 0; i < missing; i++) this.spawn();
      }
    } else if (missing < 0) {
      const oldestFirst = current.filter((w) => w.state === 'ready').sort((a, b) => a.startedAt - b.startedAt);
      for (const record of oldestFirst.slice(0, -missing)) this.drain(record, 'scale-down');
    }
    const currentReady = current.filter((w) => w.state === 'ready').length >= this.target;
    if (!currentReady) return;
    // Forked only once the current workers serve, so its start never slows theirs.
    this.ensureSpare();
    // Old generations and retiring workers leave only once their replacements listen.
    for (const record of this.workers.values()) {
      if (record.state !== 'ready') continue;
      if (record.generation !== this.generation) this.drain(record, 'reload');
      else if (record.retireReason !== null) this.drain(record, record.retireReason);
    }
    if (this.phase === 'reloading') {
      this.setPhase('running');
      this.previous = null;
      this.log.info({ generation: this.generation, workers: this.target }, 'reload complete: new workers serving, old ones draining');
      // Under keel dev a worker whose app did not load serves its error page when nothing better is there.
      const loadError = current.find((w) => w.loadError !== null)?.loadError;
      this.settleReload(loadError ? { status: 'failed', error: loadError } : { status: 'reloaded' });
    }
    if (this.phase === 'starting') {
      this.setPhase('running');
      this.everReady = true;
      this.options.onFirstReady(current);
    }
  }

  private fork(): Worker {
    const worker = cluster.fork(this.config.env);
    // node:cluster reports a failed send to a worker that just died (EPIPE) as an 'error' event; unhandled,
    // it would take the primary down. The death itself is handled in onExit.
    worker.on('error', (err: Error) => this.log.debug({ worker_pid: worker.process.pid, err }, 'worker IPC error'));
    return worker;
  }

  /** Under `keel dev`, keeps one spare worker forked for the next reload. */
  private ensureSpare(): void {
    if (this.config.mode !== 'dev' || this.spare || this.phase === 'stopping' || this.exiting) return;
    this.spare = { worker: this.fork(), wantsConfig: false, envKey: JSON.stringify(this.config.env) };
  }

  /** The spare, if it still fits: alive, and forked with the environment the current config wants. */
  private takeSpare(): { worker: Worker; wantsConfig: boolean } | null {
    const spare = this.spare;
    this.spare = null;
    if (!spare) return null;
    if (spare.worker.isConnected() && spare.envKey === JSON.stringify(this.config.env)) return spare;
    this.dropSpare(spare.worker);
    return null;
  }

  private dropSpare(worker = this.spare?.worker): void {
    if (this.spare?.worker === worker) this.spare = null;
    try {
      worker?.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  private spawn(): void {
    const jitter = this.config.maxRequestsJitter > 0 ? Math.floor(Math.random() * (this.config.maxRequestsJitter + 1)) : 0;
    const spare = this.takeSpare();
    const worker = spare?.worker ?? this.fork();
    const record: WorkerRecord = {
      worker,
      pid: worker.process.pid ?? 0,
      generation: this.generation,
      config: this.config,
      startedAt: Date.now(),
      maxRequests: this.config.maxRequests > 0 ? this.config.maxRequests + jitter : 0,
      state: 'starting',
      lastHeartbeat: Date.now(),
      requests: 0,
      rss: 0,
      shape: '',
      addresses: [],
      retireReason: null,
      bootFailure: null,
      loadError: null,
      crashCause: null,
      killTimer: setTimeout(() => this.kill(record, 'SIGKILL', 'boot timeout'), BOOT_TIMEOUT_MS),
    };
    this.workers.set(worker.id, record);
    this.options.telemetry?.workerStarted(record);
    this.log.debug({ worker_pid: record.pid, generation: record.generation, spare: spare !== null }, 'worker starting');
    // A spare asked for its config long ago; it gets the current one now.
    if (spare?.wantsConfig) this.sendConfig(record);
  }

  /**
   * New certificates or challenges: to every live worker, retiring ones included, since during a
   * reload the old generation may still be the one answering a challenge.
   */
  pushTls(material: TlsMaterial): void {
    for (const record of this.workers.values()) if (record.state !== 'dead') this.sendTo(record, { type: MSG.tls, tls: material });
  }

  /** Managed upstreams moved (a --run instance started or stopped): every live worker proxies to the new set. */
  pushUpstreams(upstreams: UpstreamTargets): void {
    for (const record of this.workers.values()) if (record.state !== 'dead') this.sendTo(record, { type: MSG.upstreams, upstreams });
  }

  private sendTo(record: WorkerRecord, message: ToWorker): void {
    if (record.worker.isConnected()) record.worker.send(message, undefined, () => {});
  }

  private sendConfig(record: WorkerRecord): void {
    this.sendTo(record, { type: MSG.config, config: record.config, tls: this.options.tlsMaterial(), upstreams: this.options.upstreams() });
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    if (this.spare?.worker === worker) {
      if (message?.type === MSG.wantConfig) this.spare.wantsConfig = true;
      return;
    }
    const record = this.workers.get(worker.id);
    if (!record || typeof message !== 'object' || message === null) return;
    switch (message.type) {
      case MSG.wantConfig:
        this.sendConfig(record);
        break;
      case MSG.call:
        this.options.services.answer(message, (reply) => this.sendTo(record, reply));
        break;
      case MSG.heartbeat:
        record.lastHeartbeat = Date.now();
        record.requests = message.requests;
        record.rss = message.rss;
        this.checkRecycling(record);
        break;
      case MSG.telemetry:
        this.options.telemetry?.fold(record, message);
        break;
      case MSG.ready:
        // Told to drain while it was still loading (TERM during boot): that message found no listener.
        if (record.state === 'draining') {
          this.sendTo(record, { type: MSG.drain });
          break;
        }
        if (message.loadError !== undefined && this.onLoadErrorReady(record, message.loadError)) break;
        if (record.killTimer) clearTimeout(record.killTimer);
        record.killTimer = null;
        record.state = 'ready';
        record.shape = message.shape;
        record.addresses = message.addresses;
        record.lastHeartbeat = Date.now();
        this.log.info({ worker_pid: record.pid, generation: record.generation }, 'worker ready');
        this.wake();
        break;
      case MSG.bootFailed:
        record.bootFailure = { message: message.message, exitCode: message.exitCode, code: message.code };
        this.log.error({ worker_pid: record.pid, code: message.code, err: { message: message.message, stack: message.stack } }, 'worker failed to boot');
        break;
      case MSG.retiring:
        if (record.retireReason === null) {
          record.retireReason = 'crash';
          this.holdRespawnForCrash(record);
        }
        record.crashCause = message.cause ?? null;
        record.state = 'draining';
        this.armKill(record);
        this.wake();
        break;
      case MSG.stoppedAccepting:
        // node:cluster drops a connection handed to a worker that exits before reading it: this answer
        // travels behind any such hand-off, so the worker leaves only after it has passed them back.
        this.sendTo(record, { type: MSG.stoppedAcceptingAck });
        break;
    }
  }

  /**
   * A `keel dev` worker whose app failed to load is ready to show the error. During a reload with a
   * working older worker the new generation is dropped and the old one keeps serving (true is
   * returned); otherwise it is taken as ready, so the error page replaces an older error page or
   * shows the first boot's failure while keel waits for a fix.
   */
  private onLoadErrorReady(record: WorkerRecord, loadError: string): boolean {
    record.loadError = loadError;
    this.log.error({ worker_pid: record.pid, err: { message: loadError } }, 'the app failed to load');
    const working = [...this.workers.values()].some((w) => w.generation !== record.generation && w.state === 'ready' && w.retireReason === null && w.loadError === null);
    if (this.phase !== 'reloading' || record.generation !== this.generation || !this.previous || !working) return false;
    this.log.error({ generation: this.generation }, 'reload failed: the new code does not load; the old workers keep serving');
    this.abandonGeneration();
    this.settleReload({ status: 'failed', error: loadError });
    return true;
  }

  private checkRecycling(record: WorkerRecord): void {
    if (record.state !== 'ready' || record.retireReason !== null || this.phase === 'stopping') return;
    if (record.maxRequests > 0 && record.requests >= record.maxRequests) {
      record.retireReason = 'max-requests';
      this.log.info({ worker_pid: record.pid, requests: record.requests }, 'worker reached --max-requests; replacing it');
    } else if (this.config.maxMemory > 0 && record.rss > this.config.maxMemory) {
      record.retireReason = 'memory';
      this.log.warn({ worker_pid: record.pid, rss: record.rss, max: this.config.maxMemory }, 'worker exceeded --max-memory; replacing it');
    } else {
      return;
    }
    this.wake();
  }

  private checkHeartbeats(): void {
    if (this.config.timeout <= 0) return;
    const heartbeatMs = Math.max(100, Math.min(1000, (this.config.timeout * 1000) / 4));
    const limit = this.config.timeout * 1000 + heartbeatMs;
    const now = Date.now();
    for (const record of this.workers.values()) {
      if ((record.state === 'ready' || record.state === 'draining') && now - record.lastHeartbeat > limit && record.retireReason !== 'timeout') {
        record.retireReason = 'timeout';
        this.log.error({ worker_pid: record.pid, seconds: this.config.timeout }, `WORKER TIMEOUT (pid:${record.pid}): event loop unresponsive; killing it`);
        this.kill(record, 'SIGKILL', 'timeout');
        this.wake();
      }
    }
  }

  private drain(record: WorkerRecord, reason: RetireReason): void {
    if (record.state === 'draining' || record.state === 'dead') return;
    record.state = 'draining';
    record.retireReason ??= reason;
    this.log.info({ worker_pid: record.pid, reason }, 'draining worker');
    this.sendTo(record, { type: MSG.drain });
    this.armKill(record);
  }

  private armKill(record: WorkerRecord): void {
    if (record.killTimer) clearTimeout(record.killTimer);
    record.killTimer = setTimeout(() => this.kill(record, 'SIGKILL', 'graceful timeout'), this.config.gracefulTimeout * 1000 + KILL_GRACE_MS);
  }

  private kill(record: WorkerRecord, signal: NodeJS.Signals, why: string): void {
    if (record.state === 'dead') return;
    if (signal === 'SIGKILL' && why !== 'timeout') this.log.warn({ worker_pid: record.pid, why }, 'killing worker');
    try {
      process.kill(record.pid, signal);
    } catch {
      // already gone
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    if (this.spare?.worker === worker) {
      // A spare never ran the app: its exit is no crash. The next reload forks afresh.
      this.spare = null;
      this.log.debug({ worker_pid: worker.process.pid, code, signal }, 'spare worker exited');
      return;
    }
    const record = this.workers.get(worker.id);
    if (!record) return;
    this.workers.delete(worker.id);
    if (record.killTimer) clearTimeout(record.killTimer);
    const wasDraining = record.state === 'draining';
    record.state = 'dead';
    const uptimeMs = Date.now() - record.startedAt;
    const cause = record.bootFailure
      ? 'failed to boot'
      : record.retireReason === 'timeout'
        ? 'killed after a worker timeout'
        : signal
          ? `killed by ${signal}`
          : `exit code ${code}`;
    const expected = (wasDraining && record.retireReason !== 'crash' && record.retireReason !== 'timeout') || record.retireReason === 'reload-failed';
    const fields = { worker_pid: record.pid, code, signal, reason: record.retireReason ?? 'crash', uptime_s: Math.round(uptimeMs / 100) / 10 };
    if (expected) this.log.info(fields, `worker exited (${cause})`);
    else this.log.error(fields, `worker exited unexpectedly (${cause})`);
    this.options.telemetry?.workerExited(record, this.phase === 'stopping');

    if (this.phase === 'stopping') {
      if (this.workers.size === 0) this.finish(EXIT.ok, null);
      return;
    }
    // A worker of an abandoned reload is not the serving app crashing: it must not count toward the crash loop.
    if (record.retireReason === 'reload-failed') return this.wake();
    if (record.bootFailure) return this.onBootFailure(record);
    if (!expected) this.noteUnexpectedExit(uptimeMs, record.crashCause ?? cause);
    this.wake();
  }

  private onBootFailure(record: WorkerRecord): void {
    const failure = record.bootFailure!;
    if (!this.everReady) {
      // The first generation cannot load the app: every worker would fail the same way.
      return this.fail(failure.exitCode, failure.message);
    }
    if (this.phase === 'reloading' && record.generation === this.generation && this.previous) {
      this.log.error({ err: { message: failure.message } }, 'reload failed: the new version does not boot; the old workers keep serving');
      this.abandonGeneration();
      this.settleReload({ status: 'failed', error: failure.message });
      return;
    }
    this.noteUnexpectedExit(Date.now() - record.startedAt, failure.message);
    this.wake();
  }

  private noteUnexpectedExit(uptimeMs: number, cause: string): void {
    const now = Date.now();
    this.earlyExitTimes = this.recentEarlyExits(now);
    if (uptimeMs < EARLY_EXIT_MS) this.earlyExitTimes.push(now);
    else this.earlyExitTimes = [];
    const earlyExits = this.earlyExitTimes.length;
    // keel dev waits for the fix instead: the next save reloads (reloadApp clears the backoff).
    if (earlyExits >= MAX_EARLY_EXITS && this.config.mode !== 'dev') {
      const err: KeelError = keelError('KEEL_ERR_BOOT_LOOP', { count: String(earlyExits), cause });
      return this.fail(err.exitCode, err.message);
    }
    this.respawnAt = Date.now() + backoffAfter(earlyExits);
  }

  /** The early exits inside the crash-loop window. */
  private recentEarlyExits(now: number): number[] {
    return this.earlyExitTimes.filter((t) => now - t < CRASH_LOOP_WINDOW_MS);
  }

  /**
   * A worker that crashes on an uncaught exception says so before it exits, and the loop forks its
   * replacement as soon as the slot is free: the backoff its exit will earn must hold that fork
   * already, or a crash loop restarts at once every other time.
   */
  private holdRespawnForCrash(record: WorkerRecord): void {
    const now = Date.now();
    if (now - record.startedAt >= EARLY_EXIT_MS) return;
    this.respawnAt = Math.max(this.respawnAt, now + backoffAfter(this.recentEarlyExits(now).length + 1));
  }

  private abandonGeneration(): void {
    for (const record of this.workers.values()) {
      if (record.generation === this.generation) {
        record.retireReason = 'reload-failed';
        this.kill(record, 'SIGKILL', 'reload failed');
      }
    }
    this.generation -= 1;
    this.config = this.previous!.config;
    this.target = this.previous!.target;
    this.previous = null;
    this.setPhase('running');
    this.wake();
  }

  private async reload(): Promise<void> {
    if (this.phase !== 'running') {
      this.log.warn({ phase: this.phase }, 'SIGHUP ignored: keel is not in a state to reload');
      return;
    }
    let next: ResolvedConfig;
    try {
      next = await this.options.reloadConfig();
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message } }, 'reload failed: the new configuration is not valid; keeping the current one');
      this.settleReload({ status: 'failed', error: (err as Error).message });
      return;
    }
    if (this.phase !== 'running') return this.settleReload({ status: 'busy' });
    this.previous = { config: this.config, target: this.target };
    this.config = next;
    this.target = next.workers;
    this.generation += 1;
    this.setPhase('reloading');
    this.log.info({ generation: this.generation, workers: this.target }, 'reloading: starting new workers');
    this.wake();
  }

  private reopenLogs(): void {
    this.options.onReopenLogs();
    for (const record of this.workers.values()) this.sendTo(record, { type: MSG.reopenLogs });
  }

  private scale(delta: number): void {
    this.target = Math.max(1, this.target + delta);
    this.log.info({ workers: this.target }, delta > 0 ? 'adding a worker (TTIN)' : 'removing a worker (TTOU)');
  }

  private stopGracefully(why: string): void {
    if (this.phase === 'stopping') return;
    this.setPhase('stopping');
    this.dropSpare();
    const delay = this.config.shutdownDelay * 1000;
    this.log.info({ why, shutdownDelay: this.config.shutdownDelay, gracefulTimeout: this.config.gracefulTimeout }, 'shutting down gracefully');
    setTimeout(() => {
      if (this.workers.size === 0) return this.finish(EXIT.ok, null);
      for (const record of this.workers.values()) this.drain(record, 'shutdown');
    }, delay);
  }

  private stopNow(why: string): void {
    this.setPhase('stopping');
    this.dropSpare();
    this.log.warn({ why }, 'stopping now');
    if (this.workers.size === 0) return this.finish(EXIT.ok, null);
    for (const record of this.workers.values()) this.kill(record, 'SIGQUIT', why);
    setTimeout(() => {
      for (const record of this.workers.values()) this.kill(record, 'SIGKILL', why);
      this.finish(EXIT.ok, null);
    }, 1000).unref();
  }

  /** Every phase change goes through here, so systemd (onPhase) hears of each one. */
  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.options.onPhase?.(phase);
  }

  /** Stops everything because keel cannot go on: the first generation failed, or workers crash-loop. */
  private fail(code: number, message: string): void {
    this.setPhase('stopping');
    for (const record of this.workers.values()) this.kill(record, 'SIGKILL', 'keel is stopping');
    this.finish(code, message);
  }

  private finish(code: number, failure: string | null): void {
    if (this.exiting) return;
    this.exiting = true;
    this.dropSpare();
    this.settleReload({ status: 'busy' });
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.options.onExit(code, failure);
  }
}
