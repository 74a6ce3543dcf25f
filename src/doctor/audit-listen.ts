/**
 * Findings about how keel faces the network: a public address without TLS, HSTS off on public
 * HTTPS, forwarded headers trusted from everyone, the admin listener on a public address, and a
 * keep-alive shorter than a load balancer's idle timeout.
 */
import { isTlsBind } from '../config/tls-binds.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { bindScope } from './address-scope.js';
import type { Finding } from './finding.js';

/** The idle timeout of the load balancers people put keel behind most often. */
const LB_IDLE_TIMEOUT = 60;

export function auditListen(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  const publicBinds = config.bind.filter((b) => bindScope(b) === 'public');
  const plainPublic = publicBinds.filter((b) => !isTlsBind(b, config));
  const tlsPublic = publicBinds.filter((b) => isTlsBind(b, config));

  if (plainPublic.length > 0) {
    const port = plainPublic[0].kind === 'tcp' ? plainPublic[0].port : 8000;
    findings.push({
      id: 'public-bind-without-tls',
      severity: 'severe',
      title: `keel listens on ${plainPublic.map((b) => b.text).join(', ')} in plain HTTP`,
      why: 'Anyone on the network path can read and change the traffic: passwords, session cookies and everything the app sends.',
      fix: `Serve TLS there (--certfile cert.pem --keyfile key.pem, or --https auto --domain example.com), or bind to loopback behind a TLS proxy: --bind 127.0.0.1:${port}`,
      where: '--bind',
    });
  }

  if (tlsPublic.length > 0 && config.hsts === null) {
    findings.push({
      id: 'hsts-off',
      severity: 'warning',
      title: `HSTS is off on public HTTPS (${tlsPublic.map((b) => b.text).join(', ')})`,
      why: 'Without Strict-Transport-Security a browser that types the bare name or follows an http:// link can be held on plain HTTP by an attacker (SSL stripping).',
      fix: '--hsts max-age=31536000 (or remove --hsts off)',
      where: '--hsts',
    });
  }

  const trustsEveryone = config.forwardedAllowIps.some((ip) => ip === '*' || ip === '0.0.0.0/0' || ip === '::/0');
  if (trustsEveryone) {
    const reachable = publicBinds.length > 0 || config.bind.some((b) => bindScope(b) === 'private');
    findings.push({
      id: 'forwarded-trust-all',
      severity: reachable ? 'severe' : 'warning',
      title: `X-Forwarded-For, X-Forwarded-Proto and Forwarded are trusted from every peer (--forwarded-allow-ips ${config.forwardedAllowIps.join(',')})`,
      why: reachable
        ? 'keel listens beyond loopback, so any client can claim any address or scheme: rate limits and --limit-conn are dodged, access logs lie, and the app may think plain HTTP is HTTPS.'
        : 'Only loopback can connect today, but the trust follows the config to the day keel listens on a network address, and any client can then claim any address or scheme.',
      fix: '--forwarded-allow-ips with the proxy\'s own addresses only, e.g. --forwarded-allow-ips 10.0.0.5 (default: 127.0.0.1,::1)',
      where: '--forwarded-allow-ips',
    });
  }

  if (config.admin && config.admin.kind === 'tcp' && bindScope(config.admin) === 'public') {
    const guarded = config.adminToken !== null;
    findings.push({
      id: 'admin-public',
      // Without a token keel serve refuses to start on this address; with one, /healthz and /readyz stay open.
      severity: guarded ? 'info' : 'severe',
      title: guarded
        ? `The admin listener is on ${config.admin.text}, reachable from the network (metrics and the status page need --admin-token)`
        : `The admin listener is on ${config.admin.text}, reachable from the network, with no --admin-token`,
      why: guarded
        ? '/healthz and /readyz answer anyone, telling strangers whether keel is ready or draining; the token guards the rest.'
        : 'It would serve metrics and the status page (worker pids, upstreams, the app\'s errors) to anyone, so keel serve refuses to start this way.',
      fix: guarded ? '--admin 127.0.0.1:9000 unless probes come from the network (Kubernetes kubelet)' : '--admin 127.0.0.1:9000, or keep the address and set KEEL_ADMIN_TOKEN (16+ characters) in the environment',
      where: '--admin',
    });
  }

  if (config.keepAlive > 0 && config.keepAlive < LB_IDLE_TIMEOUT) {
    findings.push({
      id: 'keep-alive-shorter-than-lb',
      severity: 'warning',
      title: `--keep-alive ${config.keepAlive} s is shorter than common load balancers' idle timeout (${LB_IDLE_TIMEOUT} s)`,
      why: 'AWS Application and Classic Load Balancers and Nginx\'s upstream keepalive_timeout keep idle connections 60 s by default (Google Cloud\'s load balancers 600 s). When keel closes an idle connection first, a request the balancer sends on it at that moment fails with a 502.',
      fix: `--keep-alive 75 (longer than the balancer's idle timeout; above 620 behind Google Cloud)`,
      where: '--keep-alive',
    });
  }
  return findings;
}
