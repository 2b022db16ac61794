import { writeFile } from 'node:fs/promises';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import type { CertificateAuthority } from './authority.js';
import { CaCode, CaError } from './errors.js';
import { keyMismatch } from './profile.js';
import { crlReason } from './reasons.js';
import { insertCrl, listRevocations, nextCrlNumber } from './store.js';
import { tokenCrypto, tokenPrivateKey } from './token-crypto.js';
import {
  AuthorityKeyIdentifierExtension,
  Extension,
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
 * P-256/SHA-256), with nextUpdate, an authorityKeyIdentifier and a CRL Number one above
 * the last (RFC 5280 §5.2.1, §5.2.3: both MUST be present); each entry carries its
 * revocation date and reasonCode (§5.3.1). The number is taken and recorded in the
 * same transaction as the CRL is signed, so two CRLs never share one.
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
  return ca.db.transaction(async (tx) => {
    const revocations = await listRevocations(tx);
    const number = await nextCrlNumber(tx);
    const crl = await X509CrlGenerator.create(
      {
        issuer: ca.root.subjectName,
        thisUpdate,
        nextUpdate,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        signingKey: tokenPrivateKey(ca.signer, ca.meta.keyLabel),
        extensions: [
          await AuthorityKeyIdentifierExtension.create(ca.root.publicKey, false, tokenCrypto),
          crlNumberExtension(number),
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
    await insertCrl(tx, {
      number,
      thisUpdate: thisUpdate.toISOString(),
      nextUpdate: nextUpdate.toISOString(),
      revocations: revocations.length,
    });
    return crl;
  });
}

function crlNumberExtension(n: number): Extension {
  return new Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(n)));
}

/** The CRL Number of a CRL (RFC 5280 §5.2.3), or undefined when it carries none. */
export function crlNumberOf(crl: X509Crl): number | undefined {
  const ext = crl.extensions.find((e) => e.type === id_ce_cRLNumber);
  return ext === undefined ? undefined : AsnConvert.parse(ext.value, CRLNumber).value;
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
