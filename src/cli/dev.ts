/**
 * `keel dev APP`: the development mode. It serves like `keel serve` with dev defaults (one worker,
 * NODE_ENV=development, the rich error page), listens on loopback only, and reloads the app through
 * the arbiter when a file under the app's directory changes. An app that fails to load never stops
 * it: the last working worker keeps serving (or a page shows the error) until the next change.
 */
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedConfig } from '../config/resolve.js';
import { keelError } from '../errors.js';
import type { ErrorLog } from '../observe/error-log.js';
import { createRedactor } from '../observe/redact.js';
import type { Arbiter } from '../supervisor/arbiter.js';
import { isLoopback } from '../supervisor/bind-check.js';
import { FileWatcher } from '../supervisor/file-watcher.js';
import type { WorkerRecord } from '../supervisor/worker-record.js';
import { serve } from './serve.js';

export interface DevInput {
  readonly appArg: string | null;
  readonly cli: Record<string, string | string[] | boolean>;
}

/** Quiet time after the last file event: one save is often several events. */
const DEBOUNCE_MS = 40;
/** How often a change that arrived while keel was starting or reloading is tried again. */
const BUSY_RETRY_MS = 50;
/** Changed files named in the reload line, at most. */
const NAMED_FILES = 3;

/** Every address keel dev would listen on must be loopback (or a unix socket): the rich page shows source. */
export function checkDevConfig(config: ResolvedConfig): void {
  const addresses = [
    ...config.bind.map((bind) => ['--bind', bind] as const),
    ...(config.admin ? [['--admin', config.admin] as const] : []),
    ...(config.redirectHttp ? [['--redirect-http', config.redirectHttp] as const] : []),
  ];
  for (const [setting, bind] of addresses) {
    if (!isLoopback(bind)) throw keelError('KEEL_ERR_DEV_NOT_LOOPBACK', { setting, address: bind.text });
  }
}

/** The changed files to name: those that still exist (an editor's or sed's temp file is gone by now), else all. */
async function describeFiles(root: string, files: readonly string[]): Promise<string> {
  const existing = (await Promise.all(files.map((f) => access(join(root, f)).then(() => f, () => null)))).filter((f): f is string => f !== null);
  if (existing.length > 0) files = existing;
  const named = files.slice(0, NAMED_FILES).join(', ');
  return files.length > NAMED_FILES ? `${named} and ${files.length - NAMED_FILES} more` : named;
}

/** Runs reloads one after another: changes that arrive during a reload are batched into the next one. */
class Reloader {
  private pending: { at: number; files: Set<string> } | null = null;
  private running = false;
  private readonly say: (line: string) => void;

  constructor(
    private readonly root: string,
    private readonly arbiter: Arbiter,
    private readonly log: ErrorLog,
    config: ResolvedConfig,
  ) {
    const redact = createRedactor(config.secrets);
    // The terminal gets plain lines; a log file gets the same events as JSON.
    const toFile = config.errorLogfile !== '-';
    this.say = (line) => {
      process.stderr.write(`${redact(line)}\n`);
      if (toFile) log.info(line);
    };
  }

  loadFailed(error: string, what: string): void {
    this.say(`keel dev: ${what}; waiting for a change to try again:\n${error.replace(/^/gm, '  ')}`);
  }

  onChange(at: number, files: readonly string[]): void {
    if (!this.pending) this.pending = { at, files: new Set() };
    for (const file of files) this.pending.files.add(file);
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending) {
        const batch = this.pending;
        this.pending = null;
        let outcome = await this.arbiter.reloadApp();
        // Still starting, or a HUP reload in progress: try again shortly, with what changed meanwhile.
        while (outcome.status === 'busy' && this.arbiter.describe().phase !== 'stopping') {
          await sleep(BUSY_RETRY_MS);
          if (this.pending) {
            for (const file of (this.pending as { files: Set<string> }).files) batch.files.add(file);
            this.pending = null;
          }
          outcome = await this.arbiter.reloadApp();
        }
        const ms = Math.round(performance.now() - batch.at);
        const files = await describeFiles(this.root, [...batch.files]);
        if (outcome.status === 'reloaded') this.say(`keel dev: reloaded in ${ms} ms (file changed: ${files})`);
        else if (outcome.status === 'failed') this.loadFailed(outcome.error ?? 'unknown error', `reload failed after ${ms} ms (file changed: ${files})`);
      }
    } catch (err) {
      this.log.error({ err }, 'keel dev: reload failed');
    } finally {
      this.running = false;
    }
  }
}

export async function dev(input: DevInput): Promise<void> {
  let reloader: Reloader | null = null;
  let firstLoadError: string | null = null;
  await serve({
    ...input,
    mode: 'dev',
    dev: {
      check: checkDevConfig,
      started: async (arbiter, config, log) => {
        const root = config.app ? dirname(config.app.file) : config.cwd;
        reloader = new Reloader(root, arbiter, log, config);
        if (firstLoadError) reloader.loadFailed(firstLoadError, 'the app failed to load');
        const watcher = await FileWatcher.start(root, {
          debounceMs: DEBOUNCE_MS,
          onChange: (at, files) => reloader!.onChange(at, files),
          onError: (err) => log.warn({ err }, 'keel dev: cannot watch a directory'),
        });
        process.stderr.write(`keel dev: watching ${root} (${watcher.size} director${watcher.size === 1 ? 'y' : 'ies'}; node_modules, .git, dist and dotfiles ignored)\n`);
      },
      firstReady: (workers: readonly WorkerRecord[]) => {
        const failed = workers.find((w) => w.loadError !== null)?.loadError;
        if (!failed) return;
        // The watcher may not be up yet on a very fast first boot: say it once it is.
        if (reloader) reloader.loadFailed(failed, 'the app failed to load');
        else firstLoadError = failed;
      },
    },
  });
}
