/**
 * The error inbox: the app's unhandled errors from every worker, grouped by stack signature, with
 * how often, when, and the request IDs to look up in the log. Bounded: past MAX_GROUPS the group
 * seen least recently is dropped.
 */
import type { AppErrorReport } from '../ipc.js';
import type { ErrorGroup } from './status-snapshot.js';

export const MAX_GROUPS = 100;
export const MAX_REQUEST_IDS = 20;

interface Group {
  readonly signature: string;
  readonly title: string;
  readonly stack: string;
  count: number;
  readonly firstSeen: number;
  lastSeen: number;
  requestIds: string[];
}

export class ErrorInbox {
  /** In order of last sighting, least recent first (a Map keeps insertion order). */
  private readonly groups = new Map<string, Group>();
  /** Errors seen since start, in every group, dropped ones included. */
  total = 0;

  add(report: AppErrorReport): void {
    this.total += report.count;
    const known = this.groups.get(report.signature);
    const group: Group = known ?? {
      signature: report.signature,
      title: report.title,
      stack: report.stack,
      count: 0,
      firstSeen: report.firstSeen,
      lastSeen: report.lastSeen,
      requestIds: [],
    };
    group.count += report.count;
    group.lastSeen = Math.max(group.lastSeen, report.lastSeen);
    group.requestIds.push(...report.requestIds);
    if (group.requestIds.length > MAX_REQUEST_IDS) group.requestIds = group.requestIds.slice(-MAX_REQUEST_IDS);
    // Re-inserted at the end: the most recently seen group is the last to be dropped.
    this.groups.delete(report.signature);
    this.groups.set(report.signature, group);
    if (this.groups.size > MAX_GROUPS) this.groups.delete(this.groups.keys().next().value!);
  }

  /** Most recently seen first. */
  list(): ErrorGroup[] {
    return [...this.groups.values()].reverse().map((g) => ({ ...g, requestIds: g.requestIds.slice() }));
  }
}
