/**
 * The CPU and memory limits of the control group this process runs in (a container's quota), read
 * from /proc/self/cgroup and /proc/self/mountinfo, for cgroup v2 (cpu.max, memory.max) and v1
 * (cpu.cfs_quota_us / cpu.cfs_period_us, memory.limit_in_bytes). Limits nest, so every ancestor up
 * to the mount point is read and the tightest one wins.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a container lets its processes use; null where there is no limit or no cgroup to read. */
export interface CgroupLimits {
  /** CPUs the quota allows (0.5 is half a CPU). */
  readonly cpus: number | null;
  /** Bytes. */
  readonly memory: number | null;
  /** The files the limits were read from, for the finding's `where`. */
  readonly cpuFile: string | null;
  readonly memoryFile: string | null;
}

/** Reads a file as text, or null when it is not there. */
export type ReadText = (path: string) => string | null;

interface Mount {
  readonly version: 1 | 2;
  /** The cgroup path the mount shows as its root (not `/` inside some cgroup namespaces). */
  readonly root: string;
  readonly point: string;
  /** v1 controllers of this hierarchy, from the super options (`rw,cpu,cpuacct`). */
  readonly controllers: readonly string[];
}

/** v1 reports "no limit" as the largest page-aligned 64-bit value; anything this big is no limit. */
const NO_MEMORY_LIMIT = 2 ** 60;

// mountinfo escapes spaces and the like as \040 (octal).
const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

function parseMounts(mountinfo: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!after) continue;
    const fields = before.split(' ');
    const [fsType, , superOptions = ''] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      version: fsType === 'cgroup2' ? 2 : 1,
      root: unescape(fields[3] ?? '/'),
      point: unescape(fields[4] ?? ''),
      controllers: fsType === 'cgroup' ? superOptions.split(',') : [],
    });
  }
  return mounts;
}

/** The directories from this process's cgroup up to the mount point, innermost first. */
function cgroupDirs(mount: Mount, cgroupPath: string): string[] {
  let relative = cgroupPath;
  if (mount.root !== '/' && (relative === mount.root || relative.startsWith(`${mount.root}/`))) relative = relative.slice(mount.root.length);
  const parts = relative.split('/').filter((p) => p !== '' && p !== '..');
  const dirs: string[] = [];
  for (let i = parts.length; i >= 0; i--) dirs.push(join(mount.point, ...parts.slice(0, i)));
  return dirs;
}

function number(text: string | null): number | null {
  if (text === null) return null;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : null;
}

/** The tightest value `limitIn(dir)` gives across the directories, with the file it came from. */
function tightest(dirs: readonly string[], limitIn: (dir: string) => [number, string] | null): [number, string] | null {
  let best: [number, string] | null = null;
  for (const dir of dirs) {
    const found = limitIn(dir);
    if (found && (!best || found[0] < best[0])) best = found;
  }
  return best;
}

/**
 * Limits from the texts of /proc/self/cgroup and /proc/self/mountinfo and a file reader, so tests
 * can hand it a made-up tree.
 *
 * @example
 *   cgroupLimitsFrom('0::/app\n', '41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', readText)
 *   // reads /sys/fs/cgroup/app/cpu.max, /sys/fs/cgroup/cpu.max, … → { cpus: 0.5, memory: 268435456, … }
 */
export function cgroupLimitsFrom(procCgroup: string, mountinfo: string, read: ReadText): CgroupLimits {
  const mounts = parseMounts(mountinfo);
  const cpu: Array<[number, string]> = [];
  const memory: Array<[number, string]> = [];
  for (const line of procCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllerList, path] = match;
    if (id === '0' && controllerList === '') {
      for (const mount of mounts.filter((m) => m.version === 2)) {
        const dirs = cgroupDirs(mount, path);
        const c = tightest(dirs, (dir) => {
          const file = join(dir, 'cpu.max');
          const [quota, period] = (read(file) ?? '').trim().split(/\s+/);
          const q = Number(quota);
          const p = Number(period);
          return quota !== 'max' && q > 0 && p > 0 ? [q / p, file] : null;
        });
        if (c) cpu.push(c);
        const m = tightest(dirs, (dir) => {
          const file = join(dir, 'memory.max');
          const value = number(read(file));
          return value !== null && value > 0 ? [value, file] : null;
        });
        if (m) memory.push(m);
      }
      continue;
    }
    const controllers = controllerList.split(',');
    for (const mount of mounts.filter((m) => m.version === 1 && controllers.some((c) => m.controllers.includes(c)))) {
      const dirs = cgroupDirs(mount, path);
      if (controllers.includes('cpu')) {
        const c = tightest(dirs, (dir) => {
          const file = join(dir, 'cpu.cfs_quota_us');
          const quota = number(read(file));
          const period = number(read(join(dir, 'cpu.cfs_period_us')));
          return quota !== null && quota > 0 && period ? [quota / period, file] : null;
        });
        if (c) cpu.push(c);
      }
      if (controllers.includes('memory')) {
        const m = tightest(dirs, (dir) => {
          const file = join(dir, 'memory.limit_in_bytes');
          const value = number(read(file));
          return value !== null && value > 0 && value < NO_MEMORY_LIMIT ? [value, file] : null;
        });
        if (m) memory.push(m);
      }
    }
  }
  const smallest = (found: Array<[number, string]>): [number, string] | null => found.reduce<[number, string] | null>((a, b) => (a && a[0] <= b[0] ? a : b), null);
  const cpuBest = smallest(cpu);
  const memoryBest = smallest(memory);
  return { cpus: cpuBest?.[0] ?? null, memory: memoryBest?.[0] ?? null, cpuFile: cpuBest?.[1] ?? null, memoryFile: memoryBest?.[1] ?? null };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** This process's cgroup limits; all null off Linux or outside any limited cgroup. */
export function readCgroupLimits(): CgroupLimits {
  const procCgroup = readText('/proc/self/cgroup');
  const mountinfo = readText('/proc/self/mountinfo');
  if (procCgroup === null || mountinfo === null) return { cpus: null, memory: null, cpuFile: null, memoryFile: null };
  return cgroupLimitsFrom(procCgroup, mountinfo, readText);
}
