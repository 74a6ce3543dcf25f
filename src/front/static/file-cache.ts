/**
 * The open-file cache of one static root, per worker (Nginx's open_file_cache): what a relative
 * path is (file, directory, missing, forbidden), where it really lives, its validators and
 * precomputed headers, its precompressed siblings, and for small files the bytes themselves.
 *
 * - Safety: every path is realpath'd and must stay under the root's realpath, with no dot segment
 *   in the part below the root; a symlink out of the root, or to a dotfile, counts as missing. The
 *   verdict is cached with the entry, and files are opened by their real path.
 * - Freshness: an entry older than `validMs` is checked again (realpath and stat, async) before it
 *   is used; unchanged files keep their bytes and headers. So an edited or deleted file is seen
 *   within about `validMs`. Concurrent requests for an entry being (re)loaded share one load.
 * - Bounds: bodies of files up to `maxFile` bytes are kept, in all at most `maxBytes`; at most
 *   `maxEntries` entries (missing paths included, so a scan of random URLs cannot grow it).
 *   Eviction is CLOCK (second chance): a hit only sets a flag, no reordering on the hot path.
 */
import { type Stats, constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type HeaderFacts, etagOf, fullHeaders, notModifiedHeaders } from './static-headers.js';

/** One representation of a file: the file itself or a precompressed sibling. */
export interface Representation {
  /** The real path, opened for streaming. */
  readonly real: string;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly lastModifiedSec: number;
  /** The whole file, or null when it is larger than the cache keeps (streamed from disk). */
  readonly body: Buffer | null;
  readonly facts: HeaderFacts;
  /** Headers of a 200 and of a 304, built once. */
  readonly full: OutgoingHttpHeaders;
  readonly notModified: OutgoingHttpHeaders;
}

export type EntryKind = 'file' | 'dir' | 'missing' | 'denied';

export interface FileEntry {
  readonly key: string;
  readonly kind: EntryKind;
  /** Set for files. */
  readonly identity: Representation | null;
  readonly br: Representation | null;
  readonly gzip: Representation | null;
  /** performance.now() of the last check against the disk. */
  checkedAt: number;
  /** Bytes held, for the bound. */
  readonly bytes: number;
  /** CLOCK's reference bit. */
  used: boolean;
}

export interface FileCacheOptions {
  /** Absolute root as configured, and its realpath. */
  readonly root: string;
  readonly rootReal: string;
  readonly maxFile: number;
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly validMs: number;
  /** Content-Type and Cache-Control of a relative path (the URL's name decides, as in Nginx). */
  readonly describe: (key: string) => { type: string; cacheControl: string };
}

/** Per-entry overhead counted against maxBytes besides bodies: key, headers, objects. */
const ENTRY_OVERHEAD = 512;

interface Located {
  readonly real: string;
  readonly stats: Stats;
}

/** Read-only, and never blocking on a FIFO swapped in after the stat. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function failureKind(err: unknown): 'missing' | 'denied' {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'EACCES' || code === 'EPERM' ? 'denied' : 'missing';
}

export class FileCache {
  private readonly entries = new Map<string, FileEntry>();
  private readonly loading = new Map<string, Promise<FileEntry>>();
  private bytes = 0;
  private readonly rootPrefix: string;
  private readonly maxFile: number;

  constructor(private readonly options: FileCacheOptions) {
    this.rootPrefix = options.rootReal.endsWith('/') ? options.rootReal : `${options.rootReal}/`;
    this.maxFile = Math.min(options.maxFile, options.maxBytes);
  }

  /** The entry for a safe relative path: at once when fresh, else after a check against the disk. */
  get(key: string): FileEntry | Promise<FileEntry> {
    const entry = this.entries.get(key);
    if (entry !== undefined && performance.now() - entry.checkedAt < this.options.validMs) {
      entry.used = true;
      return entry;
    }
    return this.refresh(key, entry);
  }

  /** Forgets what is known of a path, so the next get() reads the disk (e.g. a file changed under a stream). */
  invalidate(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) entry.checkedAt = -Infinity;
  }

  /** Bytes held and entries, for tests and diagnostics. */
  get stats(): { bytes: number; entries: number } {
    return { bytes: this.bytes, entries: this.entries.size };
  }

  private refresh(key: string, previous: FileEntry | undefined): Promise<FileEntry> {
    const pending = this.loading.get(key);
    if (pending !== undefined) return pending;
    const promise = this.load(key, previous).then(
      (entry) => {
        this.loading.delete(key);
        this.store(entry);
        return entry;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, promise);
    return promise;
  }

  private store(entry: FileEntry): void {
    const old = this.entries.get(entry.key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.entries.delete(entry.key);
    }
    this.entries.set(entry.key, entry);
    this.bytes += entry.bytes;
    this.evict();
  }

  private evict(): void {
    const { maxBytes, maxEntries } = this.options;
    // Each entry gets at most one second chance, so this ends.
    let budget = this.entries.size * 2;
    while ((this.bytes > maxBytes || this.entries.size > maxEntries) && budget-- > 0) {
      const [key, oldest] = this.entries.entries().next().value as [string, FileEntry];
      this.entries.delete(key);
      if (oldest.used) {
        oldest.used = false;
        this.entries.set(key, oldest);
      } else {
        this.bytes -= oldest.bytes;
      }
    }
  }

  /** Whether a real path is under the root, with no dot segment below it but a leading .well-known. */
  private isInside(real: string): boolean {
    if (real === this.options.rootReal) return true;
    if (!real.startsWith(this.rootPrefix)) return false;
    const below = real.slice(this.rootPrefix.length);
    if (below.startsWith('.well-known/') || below === '.well-known') return !below.slice(11).includes('/.');
    return below.charCodeAt(0) !== 46 && !below.includes('/.');
  }

  private async locate(full: string): Promise<Located | 'missing' | 'denied'> {
    let real: string;
    try {
      real = await realpath(full);
    } catch (err) {
      return failureKind(err);
    }
    if (!this.isInside(real)) return 'missing';
    try {
      return { real, stats: await stat(real) };
    } catch (err) {
      return failureKind(err);
    }
  }

  private async load(key: string, previous: FileEntry | undefined): Promise<FileEntry> {
    const full = key === '' ? this.options.root : `${this.options.root}/${key}`;
    const found = await this.locate(full);
    if (typeof found === 'string') return this.entry(key, found, null, null, null);
    if (found.stats.isDirectory()) return this.entry(key, 'dir', null, null, null);
    if (!found.stats.isFile()) return this.entry(key, 'missing', null, null, null);
    // The siblings decide Vary, which every representation carries, so look for them first.
    const [br, gzip] = await Promise.all([this.locateSibling(`${full}.br`), this.locateSibling(`${full}.gz`)]);
    const vary = br !== null || gzip !== null;
    const { type, cacheControl } = this.options.describe(key);
    const describe = (located: Located, encoding: 'br' | 'gzip' | null, old: Representation | null | undefined): Promise<Representation | 'missing' | 'denied'> =>
      this.represent(located, { type, cacheControl, encoding, vary }, old ?? null);
    const [identity, brRep, gzipRep] = await Promise.all([
      describe(found, null, previous?.identity),
      br ? describe(br, 'br', previous?.br) : null,
      gzip ? describe(gzip, 'gzip', previous?.gzip) : null,
    ]);
    // The file went away or cannot be read: as it is, checked again after validMs.
    if (typeof identity === 'string') return this.entry(key, identity, null, null, null);
    // A sibling that cannot be read is as good as absent (its Vary costs nothing but a cache split).
    return this.entry(key, 'file', identity, typeof brRep === 'object' ? brRep : null, typeof gzipRep === 'object' ? gzipRep : null);
  }

  private async locateSibling(full: string): Promise<Located | null> {
    const found = await this.locate(full);
    return typeof found !== 'string' && found.stats.isFile() ? found : null;
  }

  /**
   * A representation of a located file, reusing the previous one (bytes and headers) when the
   * file is the same one, unchanged. Small files are read whole through one descriptor, whose
   * fstat gives the validators, so they describe exactly the bytes read.
   */
  private async represent(located: Located, how: Omit<HeaderFacts, 'size' | 'etag' | 'lastModified'>, old: Representation | null): Promise<Representation | 'missing' | 'denied'> {
    const { real, stats } = located;
    if (
      old !== null &&
      old.real === real &&
      old.ino === stats.ino &&
      old.size === stats.size &&
      old.mtimeMs === stats.mtimeMs &&
      old.facts.vary === how.vary &&
      old.facts.type === how.type &&
      old.facts.cacheControl === how.cacheControl &&
      (old.body !== null || stats.size > this.maxFile)
    ) {
      return old;
    }
    let body: Buffer | null = null;
    let facts = stats;
    if (stats.size <= this.maxFile) {
      let handle;
      try {
        handle = await open(real, OPEN_FLAGS);
      } catch (err) {
        return failureKind(err);
      }
      try {
        facts = await handle.stat();
        if (!facts.isFile()) return 'missing';
        body = await handle.readFile();
      } finally {
        await handle.close();
      }
    }
    const size = body !== null ? body.length : facts.size;
    const lastModifiedSec = Math.floor(facts.mtimeMs / 1000);
    const headerFacts: HeaderFacts = {
      ...how,
      size,
      etag: etagOf(facts.mtimeMs, size),
      lastModified: new Date(lastModifiedSec * 1000).toUTCString(),
    };
    return {
      real,
      ino: facts.ino,
      size,
      mtimeMs: facts.mtimeMs,
      etag: headerFacts.etag,
      lastModifiedSec,
      body,
      facts: headerFacts,
      full: fullHeaders(headerFacts),
      notModified: notModifiedHeaders(headerFacts),
    };
  }

  private entry(key: string, kind: EntryKind, identity: Representation | null, br: Representation | null, gzip: Representation | null): FileEntry {
    const held = (identity?.body?.length ?? 0) + (br?.body?.length ?? 0) + (gzip?.body?.length ?? 0);
    return { key, kind, identity, br, gzip, checkedAt: performance.now(), bytes: held + ENTRY_OVERHEAD + key.length * 2, used: false };
  }
}
