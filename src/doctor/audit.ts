/**
 * `keel doctor` without --url: audits the effective configuration and the host against the risks
 * of running a development server in production. One file per family of findings beside this one;
 * this module only runs them all.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { Finding } from './finding.js';

export async function auditConfig(_config: ResolvedConfig): Promise<Finding[]> {
  return [];
}
