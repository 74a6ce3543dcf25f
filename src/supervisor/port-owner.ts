/**
 * Whose listener answers on a managed upstream's port. keel picks a free port and hands it to the
 * command, so until the instance binds it another local process can take it; answering HTTP there
 * would make keel send its users' requests (cookies, tokens) to that process. The kernel's socket
 * table says which sockets listen on the port, and /proc/PID/fd which processes hold them: the
 * instance runs in a process group of its own (Gunicorn's workers stay in it), so a listener outside
 * that group is not the instance. Linux only; elsewhere the owner cannot be told and is not checked.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export type Ownership = 'own' | 'foreign' | 'unknown';

const LISTEN = '0A';

/** Inodes of the TCP sockets listening on `port`, any address, IPv4 and IPv6; null without /proc. */
function listeningInodes(port: number): Set<string> | null {
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      if (Number.parseInt(fields[1].slice(fields[1].lastIndexOf(':') + 1), 16) === port) inodes.add(fields[9]);
    }
  }
  return readable ? inodes : null;
}

/** Socket inodes held by the processes of process group `pgid` (those whose fds keel may read). */
function groupSocketInodes(pgid: number): Set<string> {
  const inodes = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so count from the last ')'.
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== pgid) continue;
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
      }
    } catch {
      // the process ended meanwhile, or its fds are not ours to read
    }
  }
  return inodes;
}

/** Whether the listeners on `port` all belong to process group `pgid` ('unknown' when none listens or /proc is missing). */
export function portOwnership(port: number, pgid: number): Ownership {
  const listening = listeningInodes(port);
  if (listening === null || listening.size === 0) return 'unknown';
  const own = groupSocketInodes(pgid);
  for (const inode of listening) if (!own.has(inode)) return 'foreign';
  return 'own';
}
