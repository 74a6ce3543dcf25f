/**
 * Watches an app's directory tree for `keel dev`, and reports a batch of changes once the files
 * have been quiet briefly (an editor's save is often several events: write, rename, chmod).
 * One non-recursive fs.watch per directory, so node_modules, .git, dist and dot-directories are
 * never watched at all (a recursive watch would put an inotify watch on every one of their folders).
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Directory names never watched, at any depth. */
const IGNORED_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage']);

/** Dotfiles, editor swap and backup files, and vim's write probe: never an app change. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || IGNORED_DIRS.has(name) || name.endsWith('~') || name.endsWith('.swp') || name.endsWith('.swx') || name === '4913';
}

export interface FileWatcherOptions {
  /** Quiet time after the last event before the batch is reported. */
  readonly debounceMs: number;
  /** Called once per batch: when its first event arrived (performance.now()), and the changed paths relative to the root. */
  readonly onChange: (firstEventAt: number, files: readonly string[]) => void;
  readonly onError?: (err: Error) => void;
}

/**
 * Watches `root` and every directory below it that is not ignored; directories created later are
 * added as they appear.
 *
 * @example const watcher = await FileWatcher.start('/srv/app', { debounceMs: 40, onChange: (t, files) => reload(files) });
 */
export class FileWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  /** The inode each watched directory had when its watch began: a directory deleted and made again is a new one. */
  private readonly inodes = new Map<string, number>();
  private changed = new Set<string>();
  private firstEventAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly root: string,
    private readonly options: FileWatcherOptions,
  ) {}

  static async start(root: string, options: FileWatcherOptions): Promise<FileWatcher> {
    const watcher = new FileWatcher(root, options);
    await watcher.addTree(root);
    return watcher;
  }

  /** How many directories are watched. */
  get size(): number {
    return this.watchers.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private async addTree(dir: string): Promise<void> {
    if (this.closed || this.watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      this.inodes.set(dir, (await stat(dir)).ino);
      if (this.closed || this.watchers.has(dir)) return;
      w = watch(dir, { persistent: true }, (_event, name) => this.onEvent(dir, name === null ? null : String(name)));
    } catch (err) {
      // A directory removed between listing and watching, or one we may not read: nothing to watch.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.options.onError?.(err as Error);
      return;
    }
    w.on('error', () => this.forget(dir));
    this.watchers.set(dir, w);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    await Promise.all(entries.filter((e) => e.isDirectory() && !isIgnoredName(e.name)).map((e) => this.addTree(join(dir, e.name))));
  }

  /**
   * After an event for `path` in a watched directory: a directory that appeared is watched, one
   * that went away is dropped, and one deleted and made again (git checkout, rm -rf and mkdir) is
   * watched afresh. Linux reports neither of the last two on the directory's own watch.
   */
  private async refresh(path: string): Promise<void> {
    let inode: number | null = null;
    try {
      const info = await stat(path);
      if (info.isDirectory()) inode = info.ino;
    } catch {
      // gone, or not ours to read
    }
    const known = this.inodes.get(path);
    if (known !== undefined && known !== inode) this.forget(path);
    if (inode !== null && !this.watchers.has(path)) await this.addTree(path);
  }

  private forget(dir: string): void {
    for (const [path, w] of this.watchers) {
      if (path === dir || path.startsWith(`${dir}/`)) {
        w.close();
        this.watchers.delete(path);
        this.inodes.delete(path);
      }
    }
  }

  private onEvent(dir: string, name: string | null): void {
    if (this.closed) return;
    if (name !== null && isIgnoredName(name)) return;
    const path = name === null ? dir : join(dir, name);
    if (this.changed.size === 0) this.firstEventAt = performance.now();
    this.changed.add(relative(this.root, path) || '.');
    if (name !== null) void this.refresh(path);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.options.debounceMs);
  }

  private flush(): void {
    this.timer = null;
    const files = [...this.changed];
    this.changed = new Set();
    this.options.onChange(this.firstEventAt, files);
  }
}
