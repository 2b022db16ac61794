import { writeFile } from 'node:fs/promises';
import type { CertificateAuthority } from './authority.js';
import { CaCode, CaError } from './errors.js';
import { keyMismatch } from './profile.js';
import { crlReason } from './reasons.js';
import { tokenCrypto, tokenPrivateKey } from './token-crypto.js';
import {
  AuthorityKeyIdentifierExtension,
  PemConverter,
  type X509Crl,
  X509CrlGenerator,
} from './x509.js';

const DAY_MS = 86_400_000;
export const DEFAULT_CRL_DAYS = 7;

export interface CrlOptions {
  /** Default now. */
  thisUpdate?: Date | undefined;
  /** Default thisUpdate + `days`. Relying parties treat the CRL as stale after it. */
  nextUpdate?: Date | undefined;
  days?: number | undefined;
}

/**
 * A v2 CRL over every revocation in the database, signed on the CA token (ECDSA
 * P-256/SHA-256), with nextUpdate and an authorityKeyIdentifier; each entry carries
 * its revocation date and reasonCode (RFC 5280 §5).
 */
export async function createCrl(ca: CertificateAuthority, opts: CrlOptions = {}): Promise<X509Crl> {
  const days = opts.days ?? DEFAULT_CRL_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > 366) {
    throw new CaError(CaCode.Validity, `CRL days: a whole number from 1 to 366 (got ${days}).`);
  }
  const thisUpdate = opts.thisUpdate ?? new Date();
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + days * DAY_MS);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) {
    throw new CaError(CaCode.Validity, 'nextUpdate must be after thisUpdate.');
  }
  const revocations = await ca.revocations();
  const crl = await X509CrlGenerator.create(
    {
      issuer: ca.root.subjectName,
      thisUpdate,
      nextUpdate,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      signingKey: tokenPrivateKey(ca.signer, ca.meta.keyLabel),
      extensions: [
        await AuthorityKeyIdentifierExtension.create(ca.root.publicKey, false, tokenCrypto),
      ],
      entries: revocations.map((r) => ({
        serialNumber: r.serial,
        revocationDate: new Date(r.revokedAt),
        reason: crlReason(r.reason),
      })),
    },
    tokenCrypto,
  );
  if (!(await crl.verify({ publicKey: ca.root.publicKey })))
    throw keyMismatch(ca.meta.keyLabel, 'CRL');
  return crl;
}

/**
 * PEM with the RFC 7468 §5 label "X509 CRL", which OpenSSL requires
 * (@peculiar/x509's own toString('pem') writes "CRL").
 */
export function crlPem(crl: X509Crl): string {
  return PemConverter.encode(crl.rawData, 'X509 CRL');
}

/** Writes the CRL as PEM (default) or DER. */
export async function writeCrl(
  path: string,
  crl: X509Crl,
  format: 'pem' | 'der' = 'pem',
): Promise<void> {
  await writeFile(path, format === 'pem' ? `${crlPem(crl)}\n` : Buffer.from(crl.rawData));
}
