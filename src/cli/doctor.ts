/**
 * `keel doctor [APP] [options]`: audit the effective configuration (the same flags, env and config
 * file `keel serve` would use), or with --url probe a running server from outside.
 */
import { resolveConfig } from '../config/resolve.js';
import { auditConfig } from '../doctor/audit.js';
import type { Finding } from '../doctor/finding.js';
import { probeUrl } from '../doctor/probe.js';
import { KEEL_VERSION } from './version.js';
import { exitStatusFor, renderJson, renderText, useColour } from '../doctor/report.js';

export interface DoctorInput {
  readonly appArg: string | null;
  readonly cli: Record<string, string | string[] | boolean>;
  readonly url: string | null;
  readonly json: boolean;
}

export async function doctor(input: DoctorInput): Promise<number> {
  let findings: Finding[];
  if (input.url) {
    findings = await probeUrl(input.url, { timeoutMs: 5000, userAgent: `keel-doctor/${KEEL_VERSION}` });
  } else {
    const config = await resolveConfig({ cli: input.cli, appArg: input.appArg, env: process.env, cwd: process.cwd() });
    findings = await auditConfig(config);
  }
  process.stdout.write(input.json ? renderJson(findings) : renderText(findings, useColour(process.stdout.isTTY, process.env)));
  return exitStatusFor(findings);
}
