/**
 * The notary's key as the gateway trusts it: the notary certificate validated with
 * ca's one validator against Trent's root (and CRL when configured), for role
 * 'notary' and the configured notary id. kid = SHA-256 of the certificate DER.
 */
import type { KeyObject } from 'node:crypto';
import { type CertificateInput, type CrlInput, validateCertificate } from '../ca/validate.js';
import { X509Certificate } from '../ca/x509.js';
import { kidOfCertificate } from '../core/kid.js';
import { GatewayCode, GatewayError } from './errors.js';

export interface NotaryTrust {
  readonly key: KeyObject;
  readonly kid: Uint8Array;
  readonly notAfter: Date;
}

export async function trustNotary(o: {
  certificate: CertificateInput;
  root: CertificateInput;
  crl?: CrlInput | undefined;
  notaryId: string;
  at?: Date;
  skewMs?: number;
}): Promise<NotaryTrust> {
  const v = await validateCertificate(o.certificate, {
    root: o.root,
    crl: o.crl,
    role: 'notary',
    id: o.notaryId,
    at: o.at ?? new Date(),
    skewMs: o.skewMs ?? 5 * 60_000,
  });
  if (!v.ok) {
    throw new GatewayError(
      GatewayCode.Config,
      `the notary certificate is not valid for notary '${o.notaryId}' (${v.reason}): ${v.detail}`,
    );
  }
  const cert =
    o.certificate instanceof X509Certificate
      ? o.certificate
      : new X509Certificate(
          typeof o.certificate === 'string' ? o.certificate : Buffer.from(o.certificate),
        );
  return {
    key: v.publicKey.keyObject,
    kid: kidOfCertificate(new Uint8Array(cert.rawData)),
    notAfter: v.notAfter,
  };
}
