/**
 * Managed upstream apps (--run, and routes with `run`): the primary starts N copies of a server
 * command, each on its own loopback port or unix socket, waits until each answers HTTP, tells the
 * workers where they are, restarts a crashed one with backoff, replaces them one at a time on HUP,
 * and stops them after the workers drained. As PM2 or systemd would, but with keel's proxy in front.
 *
 * @example
 *   const apps = UpstreamApps.create(config, log);
 *   await apps.start(); // rejects with KEEL_ERR_RUN_FAILED when an instance cannot start
 *   apps.onChange((targets) => arbiter.pushUpstreams(targets)); // { '/': ['http://127.0.0.1:41234', …] }
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedConfig } from '../config/resolve.js';
import type { ProxyRoute, RunSpec } from '../config/route-types.js';
import { type KeelError, keelError } from '../errors.js';
import type { UpstreamTargets } from '../ipc.js';
import type { ErrorLog } from '../observe/error-log.js';
import { resolvePrivileges } from './privileges.js';
import { RestartBackoff } from './restart-backoff.js';
import { SocketDir, allocateAddress, programName } from './upstream-address.js';
import { UpstreamInstance } from './upstream-instance.js';
import type { WaitOutcome } from './wait-listening.js';

/**
 * After a new target list goes to the workers, the instance it drops gets this long before its
 * SIGTERM, so requests a worker picked it for just before the message arrived still reach a live
 * server (IPC is ordered and fast; this covers a worker busy for a moment).
 */
const SWITCH_GRACE_MS = 1000;
/** At most this long is spent waiting for a failed instance's last output lines before reporting it. */
const OUTPUT_WAIT_MS = 500;

interface Slot {
  readonly index: number;
  /** The instance this slot serves with; in the targets only while `up`. */
  current: UpstreamInstance | null;
  up: boolean;
  /** Until its first instance listens, the code that started it handles failures, not the restart loop. */
  firstStart: boolean;
  removed: boolean;
  backoff: RestartBackoff;
  restartTimer: NodeJS.Timeout | null;
}

interface RunRoute {
  readonly path: string;
  /** How the route was declared, for messages: `--run` or `routes /py run`. */
  readonly source: string;
  /** The start check's path: the route's `health` path when it has one. */
  readonly probePath: string;
  spec: RunSpec;
  slots: Slot[];
}

type Phase = 'idle' | 'running' | 'stopping';

function runRoutesOf(config: ResolvedConfig): ProxyRoute[] {
  return config.routeTable.filter((r): r is ProxyRoute => r.kind === 'proxy' && r.run !== null);
}

function newSlot(index: number): Slot {
  return { index, current: null, up: false, firstStart: true, removed: false, backoff: new RestartBackoff(), restartTimer: null };
}

function instanceName(command: string, slot: Slot): string {
  return `${programName(command)}#${slot.index + 1}`;
}

export class UpstreamApps {
  private readonly routes = new Map<string, RunRoute>();
  /** Every instance not yet exited, whatever its role: serving, starting, replaced and draining. */
  private readonly live = new Set<UpstreamInstance>();
  private readonly listeners: Array<(targets: UpstreamTargets) => void> = [];
  private readonly privileges: { uid?: number; gid?: number };
  private readonly sockets: SocketDir;
  private phase: Phase = 'idle';
  private stopping: Promise<void> | null = null;
  private reloads: Promise<void> = Promise.resolve();
  /** Synchronous last resort if keel's primary exits without stop() (an uncaught error). */
  private readonly killOnExit = (): void => {
    for (const instance of this.live) instance.killNow();
    this.sockets.remove();
  };

  private constructor(
    private config: ResolvedConfig,
    private readonly log: ErrorLog,
  ) {
    this.privileges = resolvePrivileges(config.user, config.group);
    this.sockets = new SocketDir(this.privileges);
  }

  static create(config: ResolvedConfig, log: ErrorLog): UpstreamApps {
    return new UpstreamApps(config, log);
  }

  /** Starts every instance and resolves when all listen (rejects with a KeelError when one cannot start). */
  async start(): Promise<void> {
    const routes = runRoutesOf(this.config);
    if (routes.length === 0) return;
    process.on('exit', this.killOnExit);
    this.phase = 'running';
    try {
      await Promise.all(routes.map((route) => this.startRoute(route)));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Where the instances listen now, by route prefix. */
  targets(): UpstreamTargets {
    const targets: Record<string, string[]> = {};
    for (const route of this.routes.values()) {
      targets[route.path] = route.slots.filter((s) => s.up && s.current).map((s) => s.current!.target);
    }
    return targets;
  }

  /** Called whenever targets() changes. */
  onChange(listener: (targets: UpstreamTargets) => void): void {
    this.listeners.push(listener);
  }

  /**
   * HUP: restarts the instances one at a time, each new one listening before its old one stops,
   * with the new config's command and instance count. Routes the new config adds start first;
   * if one of those cannot start, the reload fails (rejects) before anything running changed.
   * A replacement that fails keeps the instance it was meant to replace.
   */
  reload(next: ResolvedConfig): Promise<void> {
    const run = this.reloads.then(() => this.reloadNow(next));
    this.reloads = run.catch(() => {});
    return run;
  }

  /** TERM: stops every instance gracefully; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    const wasRunning = this.live.size > 0;
    this.phase = 'stopping';
    for (const route of this.routes.values()) for (const slot of route.slots) this.cancelRestart(slot);
    const graceMs = this.config.gracefulTimeout * 1000;
    // A restart that was spawning while stop began adds to `live` late: loop until none is left.
    while (this.live.size > 0) await Promise.all([...this.live].map((instance) => instance.stop('shutdown', graceMs)));
    this.sockets.remove();
    process.off('exit', this.killOnExit);
    if (wasRunning) this.log.info('managed upstreams stopped');
  }

  private changed(): void {
    if (this.listeners.length === 0) return;
    const targets = this.targets();
    for (const listener of this.listeners) listener(targets);
  }

  private addRoute(route: ProxyRoute): RunRoute {
    const source = route.text.startsWith('--run') ? '--run' : `routes ${route.path} run`;
    // The health path goes into a request line: anything but a plain path falls back to /.
    const probePath = route.health && /^\/[^\s]*$/.test(route.health.path) ? route.health.path : '/';
    const entry: RunRoute = { path: route.path, source, probePath, spec: route.run!, slots: [] };
    for (let i = 0; i < entry.spec.instances; i++) entry.slots.push(newSlot(i));
    this.routes.set(route.path, entry);
    return entry;
  }

  /** Starts all instances of a route at once; rejects with the first failure. */
  private async startRoute(route: ProxyRoute): Promise<void> {
    const entry = this.addRoute(route);
    await Promise.all(entry.slots.map((slot) => this.startFirst(entry, slot)));
  }

  private async startFirst(route: RunRoute, slot: Slot): Promise<void> {
    const instance = await this.spawn(route, slot, route.spec.command);
    slot.current = instance;
    const outcome = await instance.waitListening(this.config.runStartTimeout * 1000);
    if (outcome === 'listening' && instance.running && this.phase === 'running') {
      slot.up = true;
      slot.firstStart = false;
      this.log.info({ upstream: instance.spec.name, upstream_pid: instance.pid, route: route.path, target: instance.target }, 'upstream listening');
      this.changed();
      return;
    }
    throw await this.startFailure(route, instance, outcome);
  }

  /** The one-line reason an instance did not start, after it is gone (killed on timeout). */
  private async startFailure(route: RunRoute, instance: UpstreamInstance, outcome: WaitOutcome): Promise<KeelError> {
    if (outcome === 'timeout' || outcome === 'foreign') await instance.stop('start timeout', 0);
    await Promise.race([instance.outputClosed, sleep(OUTPUT_WAIT_MS)]);
    const where = instance.target.replace(/^http:\/\//, '');
    const what = outcome === 'timeout'
      ? `did not answer HTTP on ${where} within ${this.config.runStartTimeout} s (--run-start-timeout); is {port} or {socket} where the server takes its address?`
      : outcome === 'foreign'
        ? `cannot have ${where}: another process listens there (it took the port keel had picked; {socket} avoids that)`
        : instance.exit
        ? `exited (${instance.describeExit()}) before it answered on ${where}`
        : 'was stopped before it answered';
    const output = instance.lastOutput();
    return keelError('KEEL_ERR_RUN_FAILED', {
      source: route.source,
      reason: `${instance.spec.name} (${JSON.stringify(instance.spec.command)}) ${what}${output ? `; its last output: ${output}` : ''}`,
    });
  }

  private async spawn(route: RunRoute, slot: Slot, command: string): Promise<UpstreamInstance> {
    const name = instanceName(command, slot);
    const address = await allocateAddress(command, this.sockets, `${name.replace('#', '-')}`);
    const instance = new UpstreamInstance({ name, route: route.path, probePath: route.probePath, command, address, env: this.config.env, cwd: this.config.cwd, log: this.log, privileges: this.privileges });
    this.live.add(instance);
    void instance.exited.then(() => this.onExit(route, slot, instance));
    this.log.debug({ upstream: name, upstream_pid: instance.pid, route: route.path, target: instance.target }, 'upstream starting');
    return instance;
  }

  private onExit(route: RunRoute, slot: Slot, instance: UpstreamInstance): void {
    this.live.delete(instance);
    const fields = {
      upstream: instance.spec.name,
      upstream_pid: instance.pid,
      route: route.path,
      code: instance.exit!.code,
      signal: instance.exit!.signal,
      uptime_s: Math.round(instance.uptimeMs() / 100) / 10,
    };
    const cause = instance.describeExit();
    if (slot.current !== instance) {
      // Replaced by a reload, or a replacement that failed: the reload logs the why.
      this.log.info({ ...fields, reason: instance.stopReason ?? 'replaced' }, `upstream exited (${cause})`);
      return;
    }
    const wasUp = slot.up;
    slot.current = null;
    slot.up = false;
    if (this.phase !== 'running' || slot.removed) {
      this.log.info({ ...fields, reason: instance.stopReason ?? 'shutdown' }, `upstream exited (${cause})`);
      if (wasUp) this.changed();
      return;
    }
    // A first start that fails is reported by startFirst (exit status 2), not restarted.
    if (slot.firstStart && !wasUp) return;
    const delay = slot.backoff.next(instance.uptimeMs());
    this.log.error({ ...fields, restart_in_s: delay / 1000, restarts_in_a_row: slot.backoff.streak }, `upstream exited unexpectedly (${cause}); restarting it in ${delay / 1000} s`);
    if (wasUp) this.changed();
    slot.restartTimer = setTimeout(() => void this.restart(route, slot), delay);
  }

  private cancelRestart(slot: Slot): void {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
  }

  /** Brings a slot whose instance died back; a failure ends in onExit, which schedules the next try. */
  private async restart(route: RunRoute, slot: Slot): Promise<void> {
    slot.restartTimer = null;
    if (this.phase !== 'running' || slot.removed || slot.current) return;
    let instance: UpstreamInstance;
    try {
      instance = await this.spawn(route, slot, route.spec.command);
    } catch (err) {
      // No free port (or no /tmp): try again later rather than give up on the slot.
      const delay = slot.backoff.next(0);
      this.log.error({ route: route.path, err: { message: (err as Error).message }, restart_in_s: delay / 1000 }, 'upstream could not be started');
      slot.restartTimer = setTimeout(() => void this.restart(route, slot), delay);
      return;
    }
    if (this.phase !== 'running' || slot.removed || slot.current) {
      await instance.stop('not needed', 0);
      return;
    }
    slot.current = instance;
    slot.firstStart = false;
    const outcome = await instance.waitListening(this.config.runStartTimeout * 1000);
    if (slot.current !== instance || !instance.running) return;
    if (outcome === 'listening') {
      if (this.phase !== 'running') return;
      slot.up = true;
      this.log.info({ upstream: instance.spec.name, upstream_pid: instance.pid, route: route.path, target: instance.target }, 'upstream listening again');
      this.changed();
    } else if (outcome === 'timeout' || outcome === 'foreign') {
      const why = outcome === 'foreign' ? 'another process listens on its port' : 'it did not answer HTTP in time (--run-start-timeout)';
      this.log.error({ upstream: instance.spec.name, upstream_pid: instance.pid, route: route.path, seconds: this.config.runStartTimeout }, `upstream not started: ${why}; killing it`);
      // Its exit comes back through onExit as a crash of the slot's instance, with backoff.
      void instance.stop('start timeout', 0);
    }
  }

  private async reloadNow(next: ResolvedConfig): Promise<void> {
    if (this.phase === 'stopping') return;
    const nextRoutes = runRoutesOf(next);
    const added = nextRoutes.filter((r) => !this.routes.has(r.path));
    const kept = nextRoutes.filter((r) => this.routes.has(r.path));
    const dropped = [...this.routes.values()].filter((r) => !nextRoutes.some((n) => n.path === r.path));
    const previous = this.config;
    this.config = next;
    if (added.length > 0 && this.phase === 'idle') {
      process.on('exit', this.killOnExit);
      this.phase = 'running';
    }
    // New routes first: if one cannot start, nothing that serves now has been touched.
    try {
      await Promise.all(added.map((route) => this.startRoute(route)));
    } catch (err) {
      for (const route of added) {
        const entry = this.routes.get(route.path);
        this.routes.delete(route.path);
        for (const slot of entry?.slots ?? []) {
          slot.removed = true;
          if (slot.current) void slot.current.stop('reload failed', 0);
        }
      }
      this.config = previous;
      this.changed();
      throw err;
    }
    for (const route of kept) await this.rollRoute(this.routes.get(route.path)!, route.run!);
    for (const route of dropped) {
      this.log.info({ route: route.path }, 'reload: the route is gone; stopping its upstreams');
      this.routes.delete(route.path);
      await this.retireSlots(route.slots, 'route removed');
    }
  }

  /** Replaces a route's instances one at a time, then adds or removes instances to the new count. */
  private async rollRoute(route: RunRoute, spec: RunSpec): Promise<void> {
    const common = Math.min(route.slots.length, spec.instances);
    this.log.info({ route: route.path, instances: spec.instances, command: spec.command }, 'reload: replacing upstreams one at a time');
    for (let i = 0; i < common; i++) {
      if (this.phase !== 'running') return;
      if (!(await this.replace(route, route.slots[i], spec.command))) {
        this.log.error({ route: route.path }, 'reload: upstreams not replaced; the running ones keep serving with the previous command');
        return;
      }
      route.spec = { ...route.spec, command: spec.command };
    }
    route.spec = spec;
    if (spec.instances < route.slots.length) {
      await this.retireSlots(route.slots.splice(spec.instances), 'scale down');
    }
    while (route.slots.length < spec.instances && this.phase === 'running') {
      const slot = newSlot(route.slots.length);
      slot.firstStart = false;
      route.slots.push(slot);
      await this.restart(route, slot);
    }
  }

  /** Starts the slot's replacement; once it listens, swaps it into the targets and drains the old one. */
  private async replace(route: RunRoute, slot: Slot, command: string): Promise<boolean> {
    let next: UpstreamInstance;
    try {
      next = await this.spawn(route, slot, command);
    } catch (err) {
      this.log.error({ route: route.path, err: { message: (err as Error).message } }, 'reload: replacement could not be started');
      return false;
    }
    const outcome = await next.waitListening(this.config.runStartTimeout * 1000);
    if (this.phase !== 'running' || slot.removed) {
      await next.stop('shutdown', 0);
      return false;
    }
    if (outcome !== 'listening' || !next.running) {
      const failure = await this.startFailure(route, next, outcome);
      this.log.error({ upstream: next.spec.name, route: route.path }, `reload: ${failure.message}; keeping the running instance`);
      return false;
    }
    this.cancelRestart(slot);
    const old = slot.current;
    slot.current = next;
    slot.up = true;
    slot.firstStart = false;
    slot.backoff = new RestartBackoff();
    this.log.info({ upstream: next.spec.name, upstream_pid: next.pid, route: route.path, target: next.target, replaces_pid: old?.pid }, 'upstream replaced');
    this.changed();
    if (old) {
      await sleep(SWITCH_GRACE_MS);
      await old.stop('reload', this.config.gracefulTimeout * 1000);
    }
    return true;
  }

  /** Takes slots out of the targets, then stops their instances once workers had time to notice. */
  private async retireSlots(slots: Slot[], reason: string): Promise<void> {
    for (const slot of slots) {
      slot.removed = true;
      slot.up = false;
      this.cancelRestart(slot);
    }
    this.changed();
    await sleep(SWITCH_GRACE_MS);
    const graceMs = this.config.gracefulTimeout * 1000;
    await Promise.all(slots.map((slot) => slot.current?.stop(reason, graceMs)));
  }
}
