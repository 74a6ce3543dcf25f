/**
 * OCSP stapling: the primary asks each certificate's OCSP responder (from its Authority
 * Information Access extension) whether the certificate is good, and workers staple the signed
 * answer to handshakes that ask for it, so clients need not ask the CA themselves (slower, and it
 * tells the CA who visits). Refreshed halfway to the answer's nextUpdate, as Caddy does. Like
 * Nginx's default (ssl_stapling_verify off), the answer is not verified here: the client does that.
 * The ASN.1 comes from @peculiar/asn1-ocsp; only the request building and the refresh are keel's.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest, id_pkix_ocsp_basic } from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import type { ErrorLog } from '../observe/error-log.js';
import { ocspResponder, pemCertificates } from './certificate-files.js';
import { certificateKey, type CertificateBundle } from './material.js';

const SHA1 = '1.3.14.3.2.26';
const FETCH_TIMEOUT_MS = 10_000;
const RETRY_MS = 5 * 60_000;
const MIN_REFRESH_MS = 60_000;
const MAX_REFRESH_MS = 12 * 3600_000;

const sha1 = (data: ArrayBuffer | Uint8Array): ArrayBuffer => {
  const digest = createHash('sha1').update(new Uint8Array(data)).digest();
  return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength);
};

export function buildOcspRequest(leafDer: Buffer, issuerDer: Buffer): Buffer {
  const leaf = AsnConvert.parse(leafDer, Certificate);
  const issuer = AsnConvert.parse(issuerDer, Certificate);
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1 }),
    issuerNameHash: new OctetString(sha1(AsnConvert.serialize(issuer.tbsCertificate.subject))),
    issuerKeyHash: new OctetString(sha1(issuer.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)),
    serialNumber: leaf.tbsCertificate.serialNumber,
  });
  return Buffer.from(AsnConvert.serialize(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }) })));
}

/** The status in a responder's answer, or null when the answer is not a usable one. */
export function readOcspResponse(der: Buffer): { status: 'good' | 'revoked' | 'unknown'; thisUpdate: Date; nextUpdate: Date | null } | null {
  const response = AsnConvert.parse(der, OCSPResponse);
  if (response.responseStatus !== OCSPResponseStatus.successful || response.responseBytes?.responseType !== id_pkix_ocsp_basic) return null;
  const basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  const single = basic.tbsResponseData.responses[0];
  if (!single) return null;
  const status = single.certStatus.revoked ? 'revoked' : single.certStatus.good !== undefined ? 'good' : 'unknown';
  return { status, thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate ?? null };
}

interface Tracked {
  readonly key: string;
  readonly url: string;
  readonly request: Buffer;
  readonly subject: string;
  timer: NodeJS.Timeout | null;
  /** When the stapled answer stops being valid; a stale answer is withdrawn rather than stapled. */
  validUntil: number;
}

export class OcspStapler {
  private tracked: Tracked[] = [];
  private responses: Record<string, string> = {};

  /** @param onUpdate gets every stapleable answer, base64 DER by certificateKey, whenever one changes. */
  constructor(
    private readonly log: ErrorLog,
    private readonly onUpdate: (responses: Readonly<Record<string, string>>) => void,
  ) {}

  /** Replaces the certificates to staple for; those without a responder or an issuer in their chain are skipped. */
  track(bundles: readonly CertificateBundle[]): void {
    this.stop();
    this.responses = {};
    for (const bundle of bundles) {
      const pems = pemCertificates(bundle.certPem);
      if (pems.length < 2) continue;
      const leaf = new X509Certificate(pems[0]!);
      const url = ocspResponder(leaf.infoAccess);
      const issuer = pems.map((pem) => new X509Certificate(pem)).find((candidate) => leaf.checkIssued(candidate));
      if (!url || !issuer) continue;
      const entry: Tracked = { key: certificateKey(leaf.raw), url, request: buildOcspRequest(leaf.raw, issuer.raw), subject: leaf.subject.replace(/\n/g, ', '), timer: null, validUntil: 0 };
      this.tracked.push(entry);
      void this.refresh(entry);
    }
  }

  stop(): void {
    for (const entry of this.tracked) if (entry.timer) clearTimeout(entry.timer);
    this.tracked = [];
  }

  private schedule(entry: Tracked, ms: number): void {
    if (!this.tracked.includes(entry)) return;
    entry.timer = setTimeout(() => void this.refresh(entry), Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, ms)));
    entry.timer.unref();
  }

  private async refresh(entry: Tracked): Promise<void> {
    try {
      const answer = await fetch(entry.url, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
        body: entry.request,
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!answer.ok) throw new Error(`responder answered ${answer.status}`);
      const der = Buffer.from(await answer.arrayBuffer());
      const parsed = readOcspResponse(der);
      if (!parsed) throw new Error('the answer is not a successful basic OCSP response');
      if (parsed.status === 'revoked') this.log.error({ certificate: entry.subject, responder: entry.url }, 'the CA says this certificate is REVOKED; replace it');
      if (!this.tracked.includes(entry)) return;
      entry.validUntil = parsed.nextUpdate?.getTime() ?? Infinity;
      this.responses = { ...this.responses, [entry.key]: der.toString('base64') };
      this.onUpdate(this.responses);
      const next = parsed.nextUpdate ? (parsed.nextUpdate.getTime() - Date.now()) / 2 : MAX_REFRESH_MS;
      this.log.info({ certificate: entry.subject, status: parsed.status, nextUpdate: parsed.nextUpdate?.toISOString() ?? null }, 'OCSP answer stapled');
      this.schedule(entry, next);
    } catch (err) {
      this.log.warn({ certificate: entry.subject, responder: entry.url, reason: (err as Error).message }, 'OCSP responder unreachable; the last answer stays stapled while it is valid');
      if (entry.key in this.responses && Date.now() > entry.validUntil) {
        const { [entry.key]: _stale, ...rest } = this.responses;
        this.responses = rest;
        this.onUpdate(this.responses);
      }
      this.schedule(entry, RETRY_MS);
    }
  }
}
