/**
 * `keel doctor` without --url: audits the effective configuration and the host against the risks
 * of running a development server in production. One file per family of findings beside this one;
 * this module only runs them all, most severe first.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { auditDevMode } from './audit-dev-mode.js';
import { auditHost } from './audit-host.js';
import { auditListen } from './audit-listen.js';
import { auditProcess } from './audit-process.js';
import { auditSecrets } from './audit-secrets.js';
import { auditTimeouts } from './audit-timeouts.js';
import { auditTls } from './audit-tls.js';
import { auditUpstream } from './audit-upstream.js';
import type { Finding } from './finding.js';
import { type HostFacts, readHostFacts } from './host-facts.js';

const RANK = { severe: 0, warning: 1, info: 2 } as const;

/**
 * Every finding for `config` on this host (or on `host`, given made-up facts), severe first.
 *
 * @example
 *   const findings = await auditConfig(await resolveConfig({ cli: { workers: '1' }, appArg: null, env: process.env, cwd }));
 *   findings.map((f) => f.id) // ['single-worker', …]
 */
export async function auditConfig(config: ResolvedConfig, host: HostFacts = readHostFacts(config)): Promise<Finding[]> {
  const findings = [
    ...auditListen(config),
    ...auditDevMode(config),
    ...auditProcess(config, host),
    ...auditTimeouts(config),
    ...auditSecrets(config),
    ...auditTls(config),
    ...auditUpstream(config),
    ...auditHost(config, host),
  ];
  // Stable: within a severity the families keep the order above.
  return findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}
