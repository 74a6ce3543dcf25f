/**
 * How the page travels: plain HTTP that never sends the visitor to HTTPS, and HTTPS without
 * Strict-Transport-Security (or with one too short to outlive a visitor's absence), which leaves
 * the first request of every visit open to a downgrade.
 */
import { isIP } from 'node:net';
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily } from './probe-evidence.js';
import { headerOf } from './probe-evidence.js';

/** Six months, the floor HSTS preload lists and scanners ask for. */
const HSTS_MIN_SECONDS = 15_552_000;

const HSTS_FIX = 'keel sends it by default on HTTPS (--hsts max-age=31536000); in Nginx: add_header Strict-Transport-Security "max-age=31536000" always;';

/**
 * Browsers never keep HSTS for an IP address (RFC 6797 §8.1) and keel does not send it to
 * localhost names or loopback addresses, so its absence there says nothing.
 */
function hstsApplies(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return isIP(name) === 0 && name !== 'localhost' && !name.endsWith('.localhost');
}

function sameHost(location: string, given: URL): boolean {
  try {
    return new URL(location).hostname === given.hostname;
  } catch {
    return false;
  }
}

export const transportProbes: ProbeFamily = {
  check(evidence: Evidence): Finding[] {
    const findings: Finding[] = [];
    const { given, chain, landing } = evidence;
    if (given.protocol === 'http:') {
      const upgrade = chain.find((r) => r.status >= 300 && r.status < 400 && /^https:\/\//i.test(headerOf(r, 'location') ?? ''));
      if (!upgrade) {
        findings.push({
          id: 'plain-http',
          severity: 'warning',
          title: 'Plain HTTP is served without a redirect to HTTPS',
          why: 'Anyone on the path can read and change what is sent, cookies and passwords included.',
          fix: 'Serve HTTPS and redirect plain HTTP to it: keel serve --bind https://0.0.0.0:443 --https auto --domain example.com --redirect-http 0.0.0.0:80',
          where: chain[0].url,
        });
      } else if (new URL(landing.url).protocol !== 'https:' && sameHost(headerOf(upgrade, 'location')!, given)) {
        // Followed (same host) and got no answer; a redirect to another host is not followed at all.
        findings.push({
          id: 'https-unreachable',
          severity: 'warning',
          title: `Plain HTTP redirects to ${headerOf(upgrade, 'location')}, which does not answer`,
          why: 'Visitors are sent to an HTTPS address that fails, so the site is down for them.',
          fix: 'Listen for HTTPS where the redirect points: keel serve --bind https://0.0.0.0:443 ... --redirect-http 0.0.0.0:80',
          where: upgrade.url,
        });
      }
    }
    if (new URL(landing.url).protocol === 'https:' && hstsApplies(new URL(landing.url).hostname)) {
      const hsts = headerOf(landing, 'strict-transport-security');
      const maxAge = hsts === undefined ? null : Number(/max-age\s*=\s*"?(\d+)/i.exec(hsts)?.[1] ?? 0);
      if (maxAge === null) {
        findings.push({
          id: 'hsts-missing',
          severity: 'warning',
          title: 'HTTPS is served without Strict-Transport-Security',
          why: 'Without HSTS a browser still tries plain HTTP first on every visit, where an attacker can keep it from reaching HTTPS.',
          fix: HSTS_FIX,
          where: landing.url,
        });
      } else if (maxAge < HSTS_MIN_SECONDS) {
        findings.push({
          id: 'hsts-short',
          severity: 'info',
          title: `Strict-Transport-Security max-age is ${maxAge} s, under six months`,
          why: 'A visitor who stays away longer than max-age is back to trying plain HTTP first.',
          fix: HSTS_FIX,
          where: landing.url,
        });
      }
    }
    return findings;
  },
};
