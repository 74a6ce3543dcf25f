/** Which binds serve TLS: a question of the settings, asked by the primary, the workers and the banner. */
import type { ResolvedConfig } from './resolve.js';
import type { BindAddress } from './value-types.js';

/** Whether keel has certificates to serve: from files, or from --https auto or local. */
export function hasCertificateSource(config: ResolvedConfig): boolean {
  return config.certfile !== null || config.keyfile !== null || config.cert.length > 0 || config.https !== 'off';
}

/** Whether a bind serves TLS: `https://`, or bare when keel has a certificate source (as Gunicorn's --certfile). */
export function isTlsBind(bind: BindAddress, config: ResolvedConfig): boolean {
  if (bind.scheme === 'https') return true;
  if (bind.scheme === 'http') return false;
  return hasCertificateSource(config);
}

/** The port to redirect plain HTTP to: the first TCP TLS bind's. */
export function httpsPort(config: ResolvedConfig): number {
  for (const bind of config.bind) if (bind.kind === 'tcp' && isTlsBind(bind, config)) return bind.port;
  return 443;
}
