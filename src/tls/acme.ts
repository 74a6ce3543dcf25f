// Automatic certificates over ACME (RFC 8555) with acme-client, in keel's primary process only.
// The primary owns the account key and the certificates under `stateDir/acme/`; challenge answers are
// handed to a ChallengeResponder (the workers serve them). Obtaining and renewing run in the background:
// nothing here throws at its caller or blocks serving; failures are logged and retried with backoff.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import acme from 'acme-client';
import { writeFileAtomic } from './atomic-file.js';

/** Serves ACME challenge answers; in keel the primary pushes them to the workers over IPC. */
export interface ChallengeResponder {
  addHttp01(token: string, keyAuthorization: string): Promise<void>;
  removeHttp01(token: string): Promise<void>;
  addTlsAlpn01(domain: string, certPem: string, keyPem: string): Promise<void>;
  removeTlsAlpn01(domain: string): Promise<void>;
}

/** A certificate from the CA: `certPem` is the full chain (leaf first), `keyPem` its private key. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly domains: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export type AcmeChallengeType = 'http-01' | 'tls-alpn-01';

export interface AcmeOptions {
  directoryUrl: string;
  email: string | null;
  domains: readonly string[];
  stateDir: string;
  /** Challenge types in order of preference. @default ['http-01', 'tls-alpn-01'] */
  challenges?: readonly AcmeChallengeType[];
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  /** Delay before retrying a failed order, doubling each time. @default { firstMs: 60_000, maxMs: 3_600_000 } */
  retry?: { firstMs: number; maxMs: number };
}

export { LETS_ENCRYPT } from './acme-directories.js';

const DEFAULT_CHALLENGES: readonly AcmeChallengeType[] = ['http-01', 'tls-alpn-01'];
const DEFAULT_RETRY = { firstMs: 60_000, maxMs: 3_600_000 };
/** setTimeout fires at once for delays above this (2^31-1 ms, about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Renew when this fraction of the lifetime has passed (Let's Encrypt's 90 days: at day 60). */
const RENEW_AT_FRACTION = 2 / 3;
/** An order that has not finished by then is abandoned and retried: no request may hang the renewal loop. */
const ORDER_TIMEOUT_MS = 10 * 60_000;
/** Each HTTP request to the CA; axios waits forever by default. */
const REQUEST_TIMEOUT_MS = 30_000;

/*
 * acme-client's HTTP is its own axios instance. Three adjustments, global to that instance, which only
 * the primary's AcmeManager uses:
 * - a timeout per request (axios waits forever by default);
 * - a connection error (refused, DNS, TLS trust) fails the request at once with its own message: acme-client
 *   would retry it 5 times, 5 s × attempt apart (75 s), and then throw a TypeError reading `config` of an
 *   undefined response, losing the cause. AcmeManager's backoff retries the whole order instead;
 * - fewer, shorter request-level retries for 429 and 5xx answers (a CA's Retry-After is still honoured).
 * Its HTTPS goes through Node's default agent (no `ca` of its own), so the system CAs plus
 * NODE_EXTRA_CA_CERTS are trusted.
 */
type AxiosAdapter = (config: unknown) => Promise<unknown>;
const acmeAxios = createRequire(createRequire(import.meta.url).resolve('acme-client'))('axios') as { getAdapter(name: string): AxiosAdapter };
const httpAdapter = acmeAxios.getAdapter('http');
acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
acme.axios.defaults.adapter = async (config) => {
  try {
    return (await httpAdapter(config)) as never;
  } catch (err) {
    // Without `config`, acme-client's retry interceptor passes the error through untouched.
    if (err && typeof err === 'object' && !('response' in err && err.response)) (err as { config?: unknown }).config = undefined;
    throw err;
  }
};
const requestRetry = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
requestRetry.retryMaxAttempts = 3;
requestRetry.retryDefaultDelay = 2;

/**
 * Obtains, stores and renews one certificate covering `domains` from an ACME CA.
 * @example
 *   const manager = new AcmeManager({ directoryUrl: LETS_ENCRYPT.production, email: null, domains: ['example.com'], stateDir, log }, responder);
 *   manager.start((cert) => installCertificate(cert)); // at once if a stored one is still good, else once issued
 *   // on shutdown:
 *   manager.stop();
 */
export class AcmeManager {
  private readonly options: AcmeOptions;
  private readonly responder: ChallengeResponder;
  private readonly domains: readonly string[];
  private readonly challenges: readonly AcmeChallengeType[];
  private readonly retry: { firstMs: number; maxMs: number };
  private readonly acmeDir: string;
  private readonly certDir: string;
  private timer: NodeJS.Timeout | null = null;
  /** Bumped by start() and stop(): an order begun under an older generation is abandoned. */
  private generation = 0;
  private running = false;
  private ordering = false;
  private failures = 0;
  private onCertificate: (c: IssuedCertificate) => void = () => {};

  constructor(options: AcmeOptions, responder: ChallengeResponder) {
    if (options.domains.length === 0) throw new Error('AcmeManager needs at least one domain');
    this.options = options;
    this.responder = responder;
    this.domains = [...new Set(options.domains.map((d) => d.toLowerCase()))];
    this.challenges = options.challenges?.length ? options.challenges : DEFAULT_CHALLENGES;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.acmeDir = join(options.stateDir, 'acme');
    this.certDir = join(this.acmeDir, certificateDirName(this.domains[0]));
  }

  /** The stored certificate if it is from this CA, covers every domain, matches its key and has not expired. */
  loadStored(): IssuedCertificate | null {
    let certPem: string;
    let keyPem: string;
    let meta: { directoryUrl?: string };
    try {
      certPem = readFileSync(join(this.certDir, 'cert.pem'), 'utf8');
      keyPem = readFileSync(join(this.certDir, 'key.pem'), 'utf8');
      meta = JSON.parse(readFileSync(join(this.certDir, 'meta.json'), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log.warn({ dir: this.certDir, err: { message: (err as Error).message } }, 'acme: stored certificate unreadable; ordering a new one');
      return null;
    }
    try {
      if (meta.directoryUrl !== undefined && meta.directoryUrl !== this.options.directoryUrl) {
        this.options.log.info({ dir: this.certDir, storedDirectory: meta.directoryUrl, directoryUrl: this.options.directoryUrl }, 'acme: stored certificate is from another CA; ordering a new one');
        return null;
      }
      const issued = describeCertificate(certPem, keyPem);
      const missing = this.domains.filter((d) => !issued.domains.includes(d));
      if (missing.length > 0) {
        this.options.log.info({ dir: this.certDir, missing }, 'acme: stored certificate does not cover every domain; ordering a new one');
        return null;
      }
      if (issued.notAfter.getTime() <= Date.now()) {
        this.options.log.info({ dir: this.certDir, notAfter: issued.notAfter.toISOString() }, 'acme: stored certificate has expired; ordering a new one');
        return null;
      }
      return issued;
    } catch (err) {
      this.options.log.warn({ dir: this.certDir, err: { message: (err as Error).message } }, 'acme: stored certificate unusable; ordering a new one');
      return null;
    }
  }

  /**
   * Hands over a stored certificate at once when there is a good one, and keeps a valid one coming:
   * orders now if there is none or it is due, then renews at 2/3 of each certificate's lifetime.
   * A stored certificate that is due but unexpired is still handed over while its successor is ordered.
   */
  start(onCertificate: (c: IssuedCertificate) => void): void {
    this.stop();
    this.running = true;
    this.onCertificate = onCertificate;
    this.failures = 0;
    const stored = this.loadStored();
    if (stored) {
      this.deliver(stored);
      const renewAt = renewalTime(stored);
      if (renewAt.getTime() > Date.now()) {
        this.options.log.info({ domains: this.domains, notAfter: stored.notAfter.toISOString() }, 'acme: using stored certificate');
        this.schedule(renewAt, 'renewal');
        return;
      }
      this.options.log.info({ domains: this.domains, notAfter: stored.notAfter.toISOString() }, 'acme: stored certificate is due for renewal');
    }
    this.orderNow();
  }

  /** Stops renewing: clears timers; an order in progress is abandoned quietly. Idempotent. */
  stop(): void {
    this.running = false;
    this.ordering = false; // the order in flight, if any, now belongs to an old generation and ends silently
    this.generation++;
    this.clearTimer();
  }

  private deliver(certificate: IssuedCertificate): void {
    try {
      this.onCertificate(certificate);
    } catch (err) {
      this.options.log.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'acme: installing the certificate failed');
    }
  }

  private orderNow(): void {
    if (!this.running || this.ordering) return;
    const generation = this.generation;
    this.ordering = true;
    withTimeout(this.obtain(generation), ORDER_TIMEOUT_MS, `the order did not finish within ${ORDER_TIMEOUT_MS / 1000} s`).then(
      (issued) => {
        if (generation !== this.generation) return;
        this.ordering = false;
        this.failures = 0;
        this.options.log.info({ domains: issued.domains, notBefore: issued.notBefore.toISOString(), notAfter: issued.notAfter.toISOString(), dir: this.certDir }, 'acme: certificate issued');
        this.deliver(issued);
        this.schedule(renewalTime(issued), 'renewal');
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.ordering = false;
        const delay = Math.min(this.retry.firstMs * 2 ** this.failures, this.retry.maxMs);
        this.failures++;
        this.options.log.error(
          { domains: this.domains, directoryUrl: this.options.directoryUrl, failures: this.failures, retryInMs: delay, err: { message: (err as Error)?.message ?? String(err) } },
          `acme: certificate order failed; retrying in ${formatDelay(delay)}`,
        );
        this.schedule(new Date(Date.now() + delay), 'retry');
      },
    );
  }

  /** One full order: account, challenges, finalize, store. Resolves with the stored certificate. */
  private async obtain(generation: number): Promise<IssuedCertificate> {
    const { log, directoryUrl, email } = this.options;
    const live = () => generation === this.generation;
    const accountKey = await this.accountKey();
    const client = new acme.Client({ directoryUrl, accountKey, backoffAttempts: 10, backoffMin: 1000, backoffMax: 10_000 });
    log.info({ domains: this.domains, directoryUrl }, 'acme: ordering certificate');
    await this.account(client);

    const certificateKey = await acme.crypto.createPrivateEcdsaKey();
    const [, csr] = await acme.crypto.createCsr({ commonName: this.domains[0], altNames: [...this.domains] }, certificateKey);
    const certPem = await client.auto({
      csr,
      email: email ?? undefined,
      termsOfServiceAgreed: true,
      challengePriority: [...this.challenges],
      // The CA's own validation is the real check; a self-check from the primary fails behind NAT and
      // load balancers that the CA reaches fine.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (!live()) throw new Error('abandoned: the ACME manager was stopped');
        const domain = authz.identifier.value;
        // acme-client's types list only http-01 and dns-01; the CA also offers tls-alpn-01 (RFC 8737).
        const type: string = challenge.type;
        log.info({ domain, challenge: type }, `acme: answering ${type} challenge`);
        if (type === 'http-01') {
          await this.responder.addHttp01(challenge.token, keyAuthorization);
        } else if (type === 'tls-alpn-01') {
          const alpnKey = await acme.crypto.createPrivateEcdsaKey();
          const [, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, alpnKey);
          await this.responder.addTlsAlpn01(domain, alpnCert.toString(), alpnKey.toString());
        } else {
          throw new Error(`the CA offers no challenge keel can answer for ${domain} (wanted ${this.challenges.join(' or ')}, offered ${authz.challenges.map((c) => c.type).join(', ')})`);
        }
      },
      challengeRemoveFn: async (authz, challenge) => {
        const type: string = challenge.type;
        if (type === 'http-01') await this.responder.removeHttp01(challenge.token);
        else if (type === 'tls-alpn-01') await this.responder.removeTlsAlpn01(authz.identifier.value);
      },
    });
    if (!live()) throw new Error('abandoned: the ACME manager was stopped');
    const issued = describeCertificate(certPem, certificateKey.toString());
    await this.store(issued);
    return issued;
  }

  /**
   * Finds the account of our key, or registers it. acme-client's createAccount() answers an existing
   * account with an update carrying only termsOfServiceAgreed, which CAs refuse as an empty update
   * ("Use POST-as-GET…"), so look it up first with onlyReturnExisting.
   */
  private async account(client: acme.Client): Promise<void> {
    const { log, email } = this.options;
    const contact = email ? [`mailto:${email}`] : [];
    let existing: { contact?: string[] } | null = null;
    try {
      existing = await client.createAccount({ onlyReturnExisting: true });
    } catch {
      // accountDoesNotExist (or the CA is unreachable, which the registration below reports).
    }
    if (!existing) {
      await client.createAccount({ termsOfServiceAgreed: true, ...(contact.length ? { contact } : {}) });
      log.info({ account: client.getAccountUrl(), email }, 'acme: account registered');
    } else if (contact.length && (existing.contact ?? []).join(',') !== contact.join(',')) {
      await client.updateAccount({ contact });
      log.info({ account: client.getAccountUrl(), email }, 'acme: account contact updated');
    }
    log.info({ account: client.getAccountUrl() }, 'acme: account ready');
  }

  /** The account key, created once and reused, so every run (and renewal) is the same ACME account. */
  private async accountKey(): Promise<Buffer> {
    this.ensureDirs();
    const path = join(this.acmeDir, 'account.key');
    try {
      return readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = await acme.crypto.createPrivateEcdsaKey();
    await writeFileAtomic(path, key, 0o600);
    this.options.log.info({ path }, 'acme: created account key');
    return key;
  }

  private async store(issued: IssuedCertificate): Promise<void> {
    this.ensureDirs();
    // Key first: a crash between the renames leaves a key that does not match the old certificate,
    // which loadStored() rejects, rather than a certificate whose key is lost.
    await writeFileAtomic(join(this.certDir, 'key.pem'), issued.keyPem, 0o600);
    await writeFileAtomic(join(this.certDir, 'cert.pem'), issued.certPem, 0o644);
    const meta = { domains: issued.domains, directoryUrl: this.options.directoryUrl, notBefore: issued.notBefore.toISOString(), notAfter: issued.notAfter.toISOString(), issuedAt: new Date().toISOString() };
    await writeFileAtomic(join(this.certDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', 0o644);
  }

  private ensureDirs(): void {
    mkdirSync(this.options.stateDir, { recursive: true, mode: 0o700 });
    for (const dir of [this.acmeDir, this.certDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  }

  /** Runs the next order at `when`, chaining timers past setTimeout's 24.8-day limit; never holds the process open. */
  private schedule(when: Date, what: 'renewal' | 'retry'): void {
    this.clearTimer();
    if (!this.running) return;
    if (what === 'renewal') this.options.log.info({ domains: this.domains, renewAt: when.toISOString() }, 'acme: renewal scheduled');
    const arm = () => {
      const remaining = when.getTime() - Date.now();
      if (remaining <= 0) {
        this.timer = null;
        this.orderNow();
        return;
      }
      this.timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
      this.timer.unref();
    };
    arm();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** `*.example.com` → `_.example.com`; anything but letters, digits, dots and dashes becomes `_`. */
function certificateDirName(domain: string): string {
  return domain.toLowerCase().replace(/[^a-z0-9.-]/g, '_').replace(/^\.+/, '_');
}

/** Reads names and dates from the leaf (the first certificate of the chain) and checks the key matches it. */
function describeCertificate(certPem: string, keyPem: string): IssuedCertificate {
  const leaf = new X509Certificate(certPem);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the private key does not match the certificate');
  const domains = (leaf.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return Object.freeze({ certPem, keyPem, domains: Object.freeze(domains), notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) });
}

function renewalTime(c: IssuedCertificate): Date {
  const lifetime = c.notAfter.getTime() - c.notBefore.getTime();
  return new Date(c.notBefore.getTime() + lifetime * RENEW_AT_FRACTION);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function formatDelay(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
