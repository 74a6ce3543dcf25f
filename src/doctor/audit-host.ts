/**
 * Findings about what the host allows keel, against what the config asks of it: the open-file
 * limit against the connections a worker may hold, a container's CPU quota against the worker
 * count, its memory limit against workers times their heap, and disk space for the log files.
 * The estimates are deliberately round and documented in docs/doctor.md.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { Finding } from './finding.js';
import type { HostFacts } from './host-facts.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** Client connections one busy worker is expected to hold (Nginx's worker_connections is 512–1024). */
export const CONNECTIONS_PER_WORKER = 1024;
/** Descriptors a worker uses besides connections: logs, IPC, static files, the event loop's own. */
export const FD_OVERHEAD = 64;
/** Memory a worker uses besides its V8 heap: code, buffers, native modules. */
export const NON_HEAP_PER_WORKER = 32 * MIB;
/** What the primary process uses. */
export const PRIMARY_MEMORY = 64 * MIB;
/** Log disks with less than this free, or less than LOG_DISK_MIN_SHARE of their size, are warned about. */
export const LOG_DISK_MIN_FREE = GIB;
export const LOG_DISK_MIN_SHARE = 0.05;

function mib(bytes: number): string {
  return bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${Math.round(bytes / MIB)} MiB`;
}

function openFiles(config: ResolvedConfig, host: HostFacts): Finding | null {
  if (host.openFiles === null) return null;
  const proxied = config.routeTable.some((r) => r.kind === 'proxy');
  const connections = CONNECTIONS_PER_WORKER * (proxied ? 2 : 1);
  const needed = connections + FD_OVERHEAD;
  if (host.openFiles >= needed) return null;
  return {
    id: 'open-file-limit-low',
    severity: 'warning',
    title: `The open-file limit is ${host.openFiles} per process; a worker may need about ${needed}`,
    why: `Each of the ${config.workers} workers may hold about ${CONNECTIONS_PER_WORKER} client connections${proxied ? ' and as many to upstreams (proxy routes)' : ''}, one descriptor each, plus logs and files. Past the limit accept() fails with EMFILE and new clients wait or are refused.`,
    fix: 'Raise it where keel starts: LimitNOFILE=65536 in the systemd unit, ulimit -n 65536 in the start script, or docker run --ulimit nofile=65536:65536',
    where: 'RLIMIT_NOFILE (/proc/self/limits)',
  };
}

function cpuQuota(config: ResolvedConfig, host: HostFacts): Finding | null {
  const cpus = host.cgroup.cpus;
  if (cpus === null) return null;
  const fits = Math.max(2, Math.ceil(cpus));
  if (config.workers <= fits) return null;
  return {
    id: 'workers-exceed-cpu-quota',
    severity: 'warning',
    title: `${config.workers} workers share a CPU quota of ${Number(cpus.toFixed(2))} CPU${cpus === 1 ? '' : 's'}`,
    why: 'The container is throttled once its workers together use the quota: every request waits for the next period, latency jumps in steps of the CFS period, and the extra workers only add memory.',
    fix: `--workers ${fits} (keel's default counts the host's CPUs, not the container's quota)`,
    where: host.cgroup.cpuFile ?? 'cgroup cpu quota',
  };
}

function memoryLimit(config: ResolvedConfig, host: HostFacts): Finding | null {
  const limit = host.cgroup.memory;
  if (limit === null) return null;
  const heapBound = host.heapLimit + NON_HEAP_PER_WORKER;
  const perWorker = config.maxMemory > 0 ? Math.min(config.maxMemory, heapBound) : heapBound;
  const needed = config.workers * perWorker + PRIMARY_MEMORY;
  const recycleTooLate = config.maxMemory > 0 && config.workers * config.maxMemory + PRIMARY_MEMORY > limit;
  if (needed <= limit && !recycleTooLate) return null;
  const share = Math.max(MIB, Math.floor(((limit - PRIMARY_MEMORY) * 0.9) / config.workers / MIB) * MIB);
  const heap = Math.max(16, Math.floor((share - NON_HEAP_PER_WORKER) / MIB));
  return {
    id: 'memory-limit-below-workers',
    severity: 'warning',
    title: `${config.workers} workers may grow to about ${mib(needed)} in a memory limit of ${mib(limit)}`,
    why: `Each worker's heap may reach ${mib(host.heapLimit)} (${host.heapSource})${config.maxMemory > 0 ? ` and --max-memory lets it reach ${mib(config.maxMemory)} before recycling` : ' and nothing recycles it earlier'}. The kernel's OOM killer strikes first: a worker, or the whole container, dies mid-request instead of being recycled gracefully.`,
    fix: `--max-memory ${Math.floor(share / MIB)}m and NODE_OPTIONS=--max-old-space-size=${heap} (or fewer --workers, or a higher memory limit)`,
    where: host.cgroup.memoryFile ?? 'cgroup memory limit',
  };
}

function logDisks(host: HostFacts): Finding[] {
  const findings: Finding[] = [];
  for (const disk of host.logDisks) {
    if (disk.available >= LOG_DISK_MIN_FREE && disk.available >= disk.total * LOG_DISK_MIN_SHARE) continue;
    findings.push({
      id: 'log-disk-low',
      severity: 'warning',
      title: `Only ${mib(disk.available)} free (of ${mib(disk.total)}) where ${disk.setting} writes ${disk.file}`,
      why: 'Logs grow with traffic; when the disk fills, log lines are lost and everything else on that filesystem (uploads, databases, temp files) fails too.',
      fix: `Free space or move the log: ${disk.setting} /var/log/keel/${disk.setting === '--access-logfile' ? 'access' : 'error'}.log on a larger filesystem (or - to leave it to journald or docker), and rotate it with logrotate (keel reopens its logs on USR1)`,
      where: disk.setting,
    });
  }
  return findings;
}

export function auditHost(config: ResolvedConfig, host: HostFacts): Finding[] {
  return [openFiles(config, host), cpuQuota(config, host), memoryLimit(config, host), ...logDisks(host)].filter((f): f is Finding => f !== null);
}
