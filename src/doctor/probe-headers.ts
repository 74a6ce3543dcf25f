/**
 * Headers that tell a stranger which software and version answers, so they can look up its known
 * holes without probing further. A product name alone (`Server: nginx`) is not reported: nearly
 * every server sends one and hiding it buys little; a version number or a framework banner is.
 */
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily, ProbeResponse } from './probe-evidence.js';
import { headerOf } from './probe-evidence.js';

const VERSION = /\d+\.\d+/;
const BEHIND_KEEL = "or put keel in front, which drops Server and X-Powered-By from every answer: keel serve --proxy '/=http://127.0.0.1:PORT'";

/** The usual switch that hides the version, by the product named in the Server header. */
function serverFix(value: string): string {
  if (/nginx/i.test(value)) return `Add server_tokens off; to the http block of nginx.conf, ${BEHIND_KEEL}`;
  if (/apache/i.test(value)) return `Set ServerTokens Prod and ServerSignature Off, ${BEHIND_KEEL}`;
  if (/microsoft-iis/i.test(value)) return 'Set removeServerHeader="true" in requestFiltering (IIS 10+).';
  if (/gunicorn/i.test(value)) return `Gunicorn sends no version since 20.0: upgrade it, ${BEHIND_KEEL}`;
  return `Turn the version off in the server's settings, ${BEHIND_KEEL}`;
}

interface HeaderRule {
  readonly header: string;
  /** Null when this value is fine to send. */
  readonly judge: (value: string) => { severity: 'warning' | 'info'; fix: string } | null;
}

const RULES: readonly HeaderRule[] = [
  { header: 'server', judge: (v) => (VERSION.test(v) ? { severity: 'warning', fix: serverFix(v) } : null) },
  {
    header: 'x-powered-by',
    judge: (v) => ({
      severity: VERSION.test(v) ? 'warning' : 'info',
      fix: /php/i.test(v) ? `Set expose_php = Off in php.ini, ${BEHIND_KEEL}` : /express/i.test(v) ? `Call app.disable('x-powered-by'), ${BEHIND_KEEL}` : `Remove the header in the app or framework, ${BEHIND_KEEL}`,
    }),
  },
  { header: 'x-aspnet-version', judge: () => ({ severity: 'warning', fix: 'Set <httpRuntime enableVersionHeader="false" /> in web.config.' }) },
  { header: 'x-aspnetmvc-version', judge: () => ({ severity: 'warning', fix: 'Set MvcHandler.DisableMvcResponseHeader = true at application start.' }) },
  { header: 'x-generator', judge: (v) => (VERSION.test(v) ? { severity: 'warning', fix: 'Turn the generator header off in the CMS or framework settings.' } : null) },
  { header: 'x-runtime', judge: () => ({ severity: 'info', fix: 'Remove Rack::Runtime from the middleware stack (config.middleware.delete Rack::Runtime).' }) },
  { header: 'via', judge: (v) => (VERSION.test(v.replace(/^\s*\d\.\d\s/, '')) ? { severity: 'info', fix: "Hide the proxy's version in its settings (e.g. Varnish: unset resp.http.Via)." } : null) },
];

/** A header value fit for a terminal line: no control characters, bounded. */
const printable = (value: string) => value.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 120);

const WHY = 'A version number tells a stranger which known vulnerabilities to try, without any probing of their own.';

export const headerProbes: ProbeFamily = {
  check(evidence: Evidence): Finding[] {
    const findings: Finding[] = [];
    // The landing page first, so `where` names the URL the user passed when it shows there.
    const pages: readonly ProbeResponse[] = [evidence.landing, ...evidence.all()];
    for (const rule of RULES) {
      for (const page of pages) {
        const value = headerOf(page, rule.header);
        if (value === undefined) continue;
        const verdict = rule.judge(value);
        if (!verdict) continue;
        findings.push({
          id: 'version-header',
          severity: verdict.severity,
          title: `The ${rule.header} header gives away the software${VERSION.test(value) ? ' and its version' : ''}: ${rule.header}: ${printable(value)}`,
          why: WHY,
          fix: verdict.fix,
          where: page.url,
        });
        break;
      }
    }
    return findings;
  },
};
