/**
 * Where the primary's certificates come from: files (--certfile, --cert), the local CA
 * (--https local) or an ACME CA (--https auto). The primary alone reads keys and talks to the CA;
 * workers get the result as TlsMaterial at boot and again whenever it changes (a file changed on
 * disk, a certificate was issued or renewed, a challenge started or ended).
 */
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import { isKeelError, keelError } from '../errors.js';
import type { ErrorLog } from '../observe/error-log.js';
import { hasCertificateSource, isTlsBind } from '../config/tls-binds.js';
// acme.js, local-ca.js and ocsp.js are imported when their feature is on: together they cost a
// plain-HTTP `keel serve` ~200 ms of start-up (acme-client, axios, the X.509 and ASN.1 libraries).
import type { AcmeManager } from './acme.js';
import { LETS_ENCRYPT } from './acme-directories.js';
import { checkDomainsCovered, loadCertificatePair } from './certificate-files.js';
import type { CertificateBundle, TlsMaterial } from './material.js';
import type { OcspStapler } from './ocsp.js';

/** Lifetime of a --https local certificate, and when it is replaced: at two thirds, as ACME ones are. */
const LOCAL_VALIDITY_DAYS = 7;
const LOCAL_RENEW_MS = (LOCAL_VALIDITY_DAYS * 86_400_000 * 2) / 3;

/** How often certificate files are checked for changes: fs.watchFile also sees files replaced by rename. */
const FILE_POLL_MS = 1000;

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_DATA_HOME ? join(env.XDG_DATA_HOME, 'keel') : join(homedir(), '.local', 'share', 'keel');
}

function usage(text: string): never {
  throw keelError('KEEL_ERR_TLS', { text });
}

/** The certificate files of the config, checked: throws a KeelError (exit 2) naming the flag and the file. */
function loadFileBundles(config: ResolvedConfig): { bundles: CertificateBundle[]; paths: string[] } {
  const bundles: CertificateBundle[] = [];
  const paths: string[] = [];
  if (config.certfile !== null || config.keyfile !== null) {
    if (config.certfile === null) usage('--keyfile: given without --certfile');
    if (config.keyfile === null) usage('--certfile: given without --keyfile, the certificate\'s private key');
    const pair = loadCertificatePair({ certfile: config.certfile, keyfile: config.keyfile, caCerts: config.caCerts, certFlag: '--certfile', keyFlag: '--keyfile', caFlag: '--ca-certs' });
    if (config.https === 'off' && config.domain.length > 0) checkDomainsCovered(pair, config.domain);
    bundles.push({ hosts: null, certPem: pair.certPem, keyPem: pair.keyPem });
    paths.push(pair.certfile, pair.keyfile);
    if (config.caCerts) paths.push(config.caCerts);
  }
  for (const sni of config.cert) {
    const flag = `--cert ${sni.host}`;
    const pair = loadCertificatePair({ certfile: sni.certfile, keyfile: sni.keyfile, certFlag: flag, keyFlag: flag });
    checkDomainsCovered(pair, [sni.host], flag);
    bundles.push({ hosts: [sni.host], certPem: pair.certPem, keyPem: pair.keyPem });
    paths.push(pair.certfile, pair.keyfile);
  }
  return { bundles, paths };
}

export class TlsSource {
  private material: TlsMaterial;
  private readonly subscribers: ((material: TlsMaterial) => void)[] = [];
  private watched: string[] = [];
  private acme: AcmeManager | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stapler: OcspStapler | null = null;
  private renewLocal: (() => Promise<void>) | null = null;
  private localTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly config: ResolvedConfig,
    private readonly log: ErrorLog,
    certificates: readonly CertificateBundle[],
  ) {
    this.material = { certificates, http01: {}, tlsAlpn01: {}, ticketKeys: randomBytes(48).toString('base64'), ocsp: {} };
  }

  /** Checks and loads everything before anything listens; a mistake is a KeelError with exit status 2. */
  static async create(config: ResolvedConfig, log: ErrorLog, notice: (text: string) => void): Promise<TlsSource> {
    const tlsBinds = config.bind.filter((bind) => isTlsBind(bind, config));
    if (tlsBinds.length > 0 && !hasCertificateSource(config)) {
      usage(`--bind ${tlsBinds[0].text}: TLS needs a certificate: --certfile and --keyfile, --cert, --https auto or --https local`);
    }
    if (config.https === 'auto' && config.domain.length === 0) usage('--https auto: needs at least one --domain to get a certificate for');
    if (config.https !== 'off' && tlsBinds.length === 0) usage(`--https ${config.https}: no bind serves TLS; add -b https://HOST:PORT`);
    if (config.redirectHttp && tlsBinds.length === 0) usage(`--redirect-http ${config.redirectHttp.text}: no bind serves TLS to redirect to`);

    const { bundles, paths } = loadFileBundles(config);
    const source = new TlsSource(config, log, bundles);
    source.watched = paths;
    const stateDir = config.stateDir ?? defaultStateDir();

    if (tlsBinds.length > 0) {
      const { OcspStapler } = await import('./ocsp.js');
      source.stapler = new OcspStapler(log, (ocsp) => source.update({ ocsp }));
    }

    if (config.https === 'local') {
      const { ensureLocalCa, issueLocalCertificate, trustInstructions } = await import('./local-ca.js');
      const ca = await ensureLocalCa(stateDir);
      const names = [...new Set(['localhost', '127.0.0.1', '::1', ...config.domain])];
      const leaf = await issueLocalCertificate(ca, names, LOCAL_VALIDITY_DAYS);
      source.setDefault(leaf.certPem + ca.certPem, leaf.keyPem);
      // A development server can run for longer than its certificate: reissue before it expires.
      source.renewLocal = async () => {
        const next = await issueLocalCertificate(ca, names, LOCAL_VALIDITY_DAYS);
        source.setDefault(next.certPem + ca.certPem, next.keyPem);
        log.info({ names }, 'reissued the local HTTPS certificate');
      };
      notice(ca.created ? `keel: created a local CA for development HTTPS.\n${trustInstructions(ca)}\n` : `keel: local HTTPS certificate for ${names.join(', ')} from the local CA ${ca.certPath}\n`);
    }

    if (config.https === 'auto') {
      const directoryUrl = config.acmeDirectory === 'staging' ? LETS_ENCRYPT.staging : config.acmeDirectory;
      // HTTP-01 needs port 80, which keel answers only with --redirect-http; TLS-ALPN-01 needs only the TLS port.
      const challenges = config.redirectHttp ? (['http-01', 'tls-alpn-01'] as const) : (['tls-alpn-01'] as const);
      const { AcmeManager } = await import('./acme.js');
      source.acme = new AcmeManager({ directoryUrl, email: config.acmeEmail, domains: config.domain, stateDir, log, challenges }, source.challengeResponder());
      const stored = source.acme.loadStored();
      if (stored) source.setDefault(stored.certPem, stored.keyPem);
    }
    return source;
  }

  current(): TlsMaterial {
    return this.material;
  }

  onChange(subscriber: (material: TlsMaterial) => void): void {
    this.subscribers.push(subscriber);
  }

  /** Starts what runs in the background: watching certificate files, and ACME issuance and renewal. */
  start(): void {
    this.started = true;
    this.stapler?.track(this.material.certificates);
    if (this.renewLocal) this.scheduleLocalRenewal();
    for (const path of this.watched) watchFile(path, { interval: FILE_POLL_MS, persistent: false }, () => this.scheduleFileReload());
    this.acme?.start((issued) => {
      this.setDefault(issued.certPem, issued.keyPem);
      this.log.info({ domains: issued.domains, notAfter: issued.notAfter.toISOString() }, 'new certificate from the ACME CA; workers use it for new handshakes');
    });
  }

  stop(): void {
    for (const path of this.watched) unwatchFile(path);
    this.acme?.stop();
    this.stapler?.stop();
    if (this.localTimer) clearTimeout(this.localTimer);
    this.renewLocal = null;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  private scheduleLocalRenewal(delayMs = LOCAL_RENEW_MS): void {
    this.localTimer = setTimeout(() => {
      this.renewLocal?.().then(
        () => this.scheduleLocalRenewal(),
        (err: unknown) => {
          this.log.error({ reason: String(err) }, 'could not reissue the local HTTPS certificate; retrying in a minute');
          this.scheduleLocalRenewal(60_000);
        },
      );
    }, delayMs);
    this.localTimer.unref();
  }

  /**
   * The --https auto or local certificate becomes the default; --cert pairs stay. (A --certfile
   * default gives way to it: with those sources, keel's own certificate answers unnamed clients.)
   */
  private setDefault(certPem: string, keyPem: string): void {
    this.update({ certificates: [...this.material.certificates.filter((b) => b.hosts !== null), { hosts: null, certPem, keyPem }] });
  }

  private update(change: Partial<TlsMaterial>): void {
    this.material = { ...this.material, ...change };
    // Before start() nothing is fetched: start() tracks whatever the certificates are by then.
    if (change.certificates && this.started) this.stapler?.track(change.certificates);
    for (const subscriber of this.subscribers) subscriber(this.material);
  }

  /** A certificate and its key are often replaced one after the other: wait for both before reading. */
  private scheduleFileReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      try {
        const { bundles } = loadFileBundles(this.config);
        // With --https auto or local the default is that source's (setDefault): only the --cert pairs change.
        const defaults = this.config.https === 'off' ? [] : this.material.certificates.filter((b) => b.hosts === null);
        this.update({ certificates: this.config.https === 'off' ? bundles : [...bundles.filter((b) => b.hosts !== null), ...defaults] });
        this.log.info({ files: this.watched }, 'certificate files changed; new handshakes use the new certificates');
      } catch (err) {
        // Half-written or mismatched files: keep serving the certificates that worked.
        this.log.error({ reason: isKeelError(err) ? err.message : String(err) }, 'certificate files changed but cannot be used; still serving the previous certificates');
      }
    }, 300);
    this.reloadTimer.unref();
  }

  private challengeResponder() {
    return {
      addHttp01: async (token: string, keyAuthorization: string) => this.update({ http01: { ...this.material.http01, [token]: keyAuthorization } }),
      removeHttp01: async (token: string) => {
        const { [token]: _gone, ...rest } = this.material.http01;
        this.update({ http01: rest });
      },
      addTlsAlpn01: async (domain: string, certPem: string, keyPem: string) => this.update({ tlsAlpn01: { ...this.material.tlsAlpn01, [domain]: { certPem, keyPem } } }),
      removeTlsAlpn01: async (domain: string) => {
        const { [domain]: _gone, ...rest } = this.material.tlsAlpn01;
        this.update({ tlsAlpn01: rest });
      },
    };
  }
}
