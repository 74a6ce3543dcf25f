/**
 * What the host allows keel, read once per doctor run so the audits stay pure functions of the
 * config and these facts (and unit tests can hand them made-up ones): who we run as, the open-file
 * limit, the container's CPU and memory limits, the V8 heap limit workers get, disk space for logs.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import type { ResolvedConfig } from '../config/resolve.js';
import { type CgroupLimits, readCgroupLimits } from './cgroup-limits.js';

/** Free space of the filesystem a log file is written to. */
export interface LogDisk {
  /** The setting, as a flag: `--access-logfile`. */
  readonly setting: string;
  /** The log file, absolute. */
  readonly file: string;
  /** Bytes an unprivileged writer may still use. */
  readonly available: number;
  readonly total: number;
}

export interface HostFacts {
  /** Effective uid of the process running doctor (keel serve would run as the same); null off POSIX. */
  readonly uid: number | null;
  /** Soft RLIMIT_NOFILE as Node leaves it (Node raises the soft limit to the hard one at start). */
  readonly openFiles: number | null;
  readonly cgroup: CgroupLimits;
  /** The V8 heap limit a worker gets, in bytes: --max-old-space-size from NODE_OPTIONS, else V8's default here. */
  readonly heapLimit: number;
  /** Where the heap limit came from, for the finding's text. */
  readonly heapSource: string;
  readonly logDisks: readonly LogDisk[];
}

/** `Max open files  20000  20000  files` from /proc/self/limits: the soft value. */
export function parseOpenFileLimit(limits: string): number | null {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!match) return null;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** `--max-old-space-size=512` (or with a space) in NODE_OPTIONS, in bytes; null when absent. */
export function maxOldSpaceFrom(nodeOptions: string | undefined): number | null {
  const match = /(?:^|\s)--max[-_]old[-_]space[-_]size[= ](\d+)/.exec(nodeOptions ?? '');
  return match ? Number(match[1]) * 1024 * 1024 : null;
}

function openFileLimit(): number | null {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** The log files keel would write (not stdout or stderr) with their filesystem's free space. */
function logDisks(config: ResolvedConfig): LogDisk[] {
  const files: Array<[string, string]> = [];
  if (config.accessLogfile !== '-' && config.accessLogfile !== 'off') files.push(['--access-logfile', config.accessLogfile]);
  if (config.errorLogfile !== '-') files.push(['--error-logfile', config.errorLogfile]);
  const disks: LogDisk[] = [];
  for (const [setting, path] of files) {
    const file = resolve(config.cwd, path);
    try {
      const stats = statfsSync(dirname(file));
      disks.push({ setting, file, available: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize });
    } catch {
      // A directory that does not exist yet has no filesystem to measure; serve reports it when it opens the file.
    }
  }
  return disks;
}

/** Reads the facts for this config on this host. */
export function readHostFacts(config: ResolvedConfig): HostFacts {
  const configured = maxOldSpaceFrom(config.env.NODE_OPTIONS);
  return {
    uid: process.getuid?.() ?? null,
    openFiles: openFileLimit(),
    cgroup: readCgroupLimits(),
    heapLimit: configured ?? getHeapStatistics().heap_size_limit,
    heapSource: configured !== null ? 'NODE_OPTIONS --max-old-space-size' : "V8's default heap limit on this host",
    logDisks: logDisks(config),
  };
}
