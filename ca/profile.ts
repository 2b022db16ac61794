import { randomBytes, webcrypto } from 'node:crypto';
import { CaCode, CaError } from './errors.js';
import { keyUsageFor, type Purpose, type Role, roleUri, subjectName } from './identity.js';
import { tokenCrypto } from './token-crypto.js';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from './x509.js';

const DAY_MS = 86_400_000;
export const MAX_DAYS = 36_500;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/**
 * A fresh serial: 16 random bytes (RFC 5280 §4.1.2.2 allows 20; CA/B Forum asks for
 * at least 64 random bits), top bit cleared so the INTEGER is positive without a
 * padding byte, first byte non-zero so the DER is exactly 16 bytes. Lowercase hex.
 */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f || 0x01;
  return b.toString('hex');
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** notBefore/notAfter from explicit dates or `days` from now; refuses empty or absurd spans. */
export function validity(opts: {
  days?: number | undefined;
  notBefore?: Date | undefined;
  notAfter?: Date | undefined;
  defaultDays: number;
  now?: Date | undefined;
}): Validity {
  const days = opts.days ?? opts.defaultDays;
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CaError(CaCode.Validity, `days: a whole number from 1 to ${MAX_DAYS} (got ${days}).`);
  }
  // X.509 times have one-second resolution: drop milliseconds so the record matches the cert.
  const second = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
  const notBefore = second(opts.notBefore ?? opts.now ?? new Date());
  const notAfter = second(opts.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS));
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new CaError(CaCode.Validity, 'notBefore/notAfter: not valid dates.');
  }
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new CaError(
      CaCode.Validity,
      `notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()}).`,
    );
  }
  return { notBefore, notAfter };
}

export interface RootProfile extends Validity {
  name: string;
  caId: string;
  org: string;
  serial: string;
  publicKey: webcrypto.CryptoKey;
  signingKey: webcrypto.CryptoKey;
}

/**
 * The self-signed root: subject O=org, OU=ca, CN=name; SAN urn:medchain:ca:{caId};
 * basicConstraints CA, pathLen 0 (it signs leaves only); keyUsage keyCertSign and
 * cRLSign; both critical (RFC 5280 §4.2.1.9, §4.2.1.3).
 */
export async function createRootCertificate(p: RootProfile): Promise<X509Certificate> {
  const name = subjectName('ca', p.name, p.org);
  return X509CertificateGenerator.create(
    {
      serialNumber: p.serial,
      subject: name,
      issuer: name,
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      publicKey: p.publicKey,
      signingKey: p.signingKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new BasicConstraintsExtension(true, 0, true),
        new KeyUsagesExtension(keyUsageFor('ca'), true),
        new SubjectAlternativeNameExtension([{ type: 'url', value: roleUri('ca', p.caId) }]),
        await SubjectKeyIdentifierExtension.create(p.publicKey, false, tokenCrypto),
      ],
    },
    tokenCrypto,
  );
}

export interface LeafProfile extends Validity {
  role: Exclude<Role, 'ca'>;
  id: string;
  org: string;
  serial: string;
  /** The participant's SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  root: X509Certificate;
  signingKey: webcrypto.CryptoKey;
  /**
   * Default 'signing': extendedKeyUsage medchain block/receipt signing, which TLS
   * refuses; 'tls' carries serverAuth + clientAuth instead.
   */
  purpose?: Purpose | undefined;
  /** TLS only: host names and addresses the service answers on (dNSName, iPAddress SANs). */
  hosts?: HostNames | undefined;
  /** HTTP URL of Trent's CRL, written as the CRL Distribution Point (RFC 5280 §4.2.1.13). */
  crlUrl?: string | undefined;
}

export interface HostNames {
  dns?: readonly string[] | undefined;
  ip?: readonly string[] | undefined;
}

/** The TLS purposes a 'tls' certificate carries: a notary serves, a gateway connects. */
export const TLS_EKUS: string[] = [ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth];

/**
 * id-kp-medchainSigning: block, receipt and checkpoint signing (docs/FORMAT.md
 * "Certificates"). An OID under 2.25 (ITU-T X.667, from UUID
 * 604c180b-ed2e-4407-9212-14a736251e35) needs no registration and is unique. A
 * certificate whose extendedKeyUsage holds only this OID is refused by TLS stacks for
 * serverAuth and clientAuth (`openssl verify -purpose sslserver` fails).
 */
export const MEDCHAIN_SIGNING_EKU = '2.25.128000989879344725171466279640117878325';

/**
 * The same OID as @peculiar/x509 reads it back from DER: its decoder writes an arc
 * above 2^53 in a hex form, not in decimal, so parsed certificates are compared with
 * this (the encoding itself is the standard one: `openssl x509 -text` prints the decimal).
 */
const MEDCHAIN_SIGNING_EKU_PARSED = String(
  new ExtendedKeyUsageExtension(new ExtendedKeyUsageExtension([MEDCHAIN_SIGNING_EKU]).rawData)
    .usages[0],
);

/**
 * What the extendedKeyUsage says: 'tls' (serverAuth/clientAuth), 'signing' (the medchain
 * OID), 'none' (no extension: signing certificates Trent issued before the OID existed),
 * 'mixed' (both kinds: never issued, never accepted).
 */
export type EkuKind = Purpose | 'none' | 'mixed';

export function ekuKind(cert: X509Certificate): EkuKind {
  const eku = cert.getExtension(ExtendedKeyUsageExtension);
  if (!eku) return 'none';
  const usages = eku.usages.map(String);
  const tls = usages.some((u) => TLS_EKUS.includes(u));
  const signing = usages.includes(MEDCHAIN_SIGNING_EKU_PARSED);
  if (tls && signing) return 'mixed';
  if (tls) return 'tls';
  return signing ? 'signing' : 'none';
}

/**
 * The extendedKeyUsage a leaf carries: TLS certificates serverAuth + clientAuth; the
 * signing certificates of gateways and notaries (blocks, receipts, checkpoints)
 * id-kp-medchainSigning; device and reader certificates none, as before (a device's is
 * its TLS client certificate to the gateway, a reader's a key-agreement key).
 */
export function expectedEku(role: Role, purpose: Purpose): EkuKind {
  if (purpose === 'tls') return 'tls';
  return role === 'gateway' || role === 'notary' ? 'signing' : 'none';
}

function ekuExtension(kind: EkuKind): ExtendedKeyUsageExtension[] {
  if (kind === 'tls') return [new ExtendedKeyUsageExtension(TLS_EKUS)];
  return kind === 'signing' ? [new ExtendedKeyUsageExtension([MEDCHAIN_SIGNING_EKU])] : [];
}

/** 'tls' when the certificate carries a TLS extendedKeyUsage, else 'signing'. */
export function purposeOf(cert: X509Certificate): Purpose {
  return ekuKind(cert) === 'tls' ? 'tls' : 'signing';
}

function sanNames(p: LeafProfile): { type: 'url' | 'dns' | 'ip'; value: string }[] {
  return [
    { type: 'url', value: roleUri(p.role, p.id) },
    ...(p.hosts?.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(p.hosts?.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
}

/**
 * A leaf: subject O=org, OU=role, CN=id; SAN urn:medchain:{role}:{id} (TLS: plus its
 * host names); basicConstraints not-CA and the role's keyUsage, both critical; subject
 * and authority key ids; extendedKeyUsage per purpose; the CRL Distribution Point.
 */
export async function createLeafCertificate(p: LeafProfile): Promise<X509Certificate> {
  const publicKey = await webcrypto.subtle.importKey(
    'spki',
    p.spki,
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['verify'],
  );
  return X509CertificateGenerator.create(
    {
      serialNumber: p.serial,
      subject: subjectName(p.role, p.id, p.org),
      issuer: p.root.subjectName,
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      publicKey,
      signingKey: p.signingKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new BasicConstraintsExtension(false, undefined, true),
        new KeyUsagesExtension(keyUsageFor(p.role, p.purpose), true),
        new SubjectAlternativeNameExtension(sanNames(p)),
        await SubjectKeyIdentifierExtension.create(publicKey, false, tokenCrypto),
        await AuthorityKeyIdentifierExtension.create(p.root.publicKey, false, tokenCrypto),
        ...ekuExtension(expectedEku(p.role, p.purpose ?? 'signing')),
        ...(p.crlUrl === undefined ? [] : [new CRLDistributionPointsExtension([p.crlUrl])]),
      ],
    },
    tokenCrypto,
  );
}

/** Checks a certificate or CRL the token just signed against the root key: catches a wrong token. */
export function keyMismatch(keyLabel: string, what: string): CaError {
  return new CaError(
    CaCode.KeyMismatch,
    `the ${what} signed with key '${keyLabel}' does not verify with the root certificate's key: this token is not the CA token this database was initialised with. Use the CA's own token.`,
  );
}

export { X509Certificate };
