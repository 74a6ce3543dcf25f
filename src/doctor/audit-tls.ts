/**
 * Findings about certificate files (--certfile, --cert): expired, not yet valid, or expiring soon.
 * Files are nobody's to renew but a person's or a cron job's, so doctor warns a month ahead and
 * calls it severe two weeks ahead, when a renewal that has not happened yet probably will not.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Finding } from './finding.js';

const DAY = 24 * 60 * 60 * 1000;
/** Under this many days left: severe. */
export const CERT_SEVERE_DAYS = 14;
/** Under this many days left: a warning (Let's Encrypt's clients renew at 30 days). */
export const CERT_WARNING_DAYS = 30;

function certificateFiles(config: ResolvedConfig): Array<[string, string]> {
  const files: Array<[string, string]> = [];
  if (config.certfile) files.push(['--certfile', config.certfile]);
  for (const cert of config.cert) files.push([`--cert ${cert.host}`, cert.certfile]);
  return files;
}

/** The finding for one certificate at time `now`, or null when it has a month or more left. */
export function expiryFinding(cert: { validFrom: Date; validTo: Date; subject: string }, file: string, setting: string, now: number): Finding | null {
  const renew = `Renew it and put the new one in ${file}, then reload keel (kill -HUP the primary), or let keel renew by itself: --https auto --domain example.com`;
  const base = { fix: renew, where: setting };
  if (cert.validFrom.getTime() > now) {
    return { ...base, id: 'certificate-not-yet-valid', severity: 'severe', title: `The certificate in ${file} is not valid until ${cert.validFrom.toISOString()}`, why: 'Every client refuses it until then (or this machine\'s clock is wrong, which breaks TLS just the same).' };
  }
  const left = (cert.validTo.getTime() - now) / DAY;
  if (left <= 0) {
    return { ...base, id: 'certificate-expired', severity: 'severe', title: `The certificate in ${file} expired on ${cert.validTo.toISOString()}`, why: 'Every browser and client refuses the connection with a certificate error.' };
  }
  if (left >= CERT_WARNING_DAYS) return null;
  const days = Math.floor(left);
  return {
    ...base,
    id: 'certificate-expiring',
    severity: left < CERT_SEVERE_DAYS ? 'severe' : 'warning',
    title: `The certificate in ${file} expires in ${days} day${days === 1 ? '' : 's'} (${cert.validTo.toISOString()})`,
    why: 'When it expires every client refuses the connection; keel does not renew certificates it was given as files.',
  };
}

export function auditTls(config: ResolvedConfig, now = Date.now()): Finding[] {
  const findings: Finding[] = [];
  for (const [setting, path] of certificateFiles(config)) {
    const file = resolve(config.cwd, path);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(readFileSync(file));
    } catch {
      // An unreadable or malformed certificate is serve's exit-status-2 error, not a finding.
      continue;
    }
    const finding = expiryFinding({ validFrom: new Date(cert.validFrom), validTo: new Date(cert.validTo), subject: cert.subject }, file, setting, now);
    if (finding) findings.push(finding);
  }
  return findings;
}
