/**
 * `keel doctor --url URL`: probes a running server from outside, as a stranger would, and reports
 * what it gives away. One file per family of probes beside this one; this module only runs them.
 */
import type { Finding } from './finding.js';

export interface ProbeOptions {
  /** Per-request timeout in ms. */
  readonly timeoutMs: number;
}

export async function probeUrl(_url: string, _options: ProbeOptions): Promise<Finding[]> {
  return [];
}
