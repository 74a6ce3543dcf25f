/**
 * Findings about the process model: one worker, workers running as root, no access log.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { lookupId } from '../supervisor/privileges.js';
import type { Finding } from './finding.js';
import type { HostFacts } from './host-facts.js';

export function auditProcess(config: ResolvedConfig, host: HostFacts): Finding[] {
  const findings: Finding[] = [];
  if (config.workers === 1) {
    findings.push({
      id: 'single-worker',
      severity: 'warning',
      title: 'keel runs one worker',
      why: 'One slow synchronous request or a crash stops every request until the worker is replaced, and a reload has no second worker to keep serving. It also uses one CPU of however many the host has.',
      fix: '--workers 2 or more (the default is the number of CPUs available)',
      where: '--workers',
    });
  }
  // An unknown --user is bad input, as for serve: lookupId throws KEEL_ERR_USER (exit status 2).
  const workerUid = config.user !== null ? lookupId('user', config.user) : host.uid;
  if (workerUid === 0) {
    findings.push({
      id: 'running-as-root',
      severity: 'severe',
      title: config.user !== null ? `Workers would run as root (--user ${config.user})` : 'keel runs as root and workers would too (no --user)',
      why: 'The app and every library it loads run with root\'s rights: one remote code execution bug owns the whole machine, and the app can read every key and secret on it.',
      fix: '--user nobody --group nogroup (or a dedicated user: useradd --system keel, then --user keel); or start keel as that user, e.g. User=keel in the systemd unit',
      where: '--user',
    });
  }
  if (config.accessLogfile === 'off') {
    findings.push({
      id: 'no-access-log',
      severity: 'warning',
      title: 'The access log is off (--access-logfile off)',
      why: 'Without it nobody can tell after the fact who asked for what, which requests failed or were slow, or what an attacker tried.',
      fix: '--access-logfile - (stdout, for journald or docker logs) or --access-logfile /var/log/keel/access.log',
      where: '--access-logfile',
    });
  }
  return findings;
}
