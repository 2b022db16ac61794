import { CaCode, CaError } from './errors.js';
import {
  isParticipantId,
  isRole,
  keyUsageFor,
  nameField,
  type Purpose,
  parseRoleUri,
  type Role,
} from './identity.js';
import { type PublicKeyExport, p256FromSpki } from './keys.js';
import { ekuKind, expectedEku } from './profile.js';
import {
  BasicConstraintsExtension,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509Certificate,
  X509Crl,
} from './x509.js';

export type ValidationReason =
  | 'chain'
  | 'expired'
  | 'not-yet-valid'
  | 'revoked'
  | 'wrong-role'
  | 'wrong-id'
  | 'key-usage'
  | 'malformed'
  | 'crl-invalid';

export type ValidationResult =
  | {
      ok: true;
      role: Role;
      id: string;
      publicKey: PublicKeyExport;
      serial: string;
      notBefore: Date;
      notAfter: Date;
    }
  | { ok: false; reason: ValidationReason; detail: string };

/** PEM text, DER bytes, or an already parsed certificate / CRL (cheaper for hot paths). */
export type CertificateInput = string | Uint8Array | X509Certificate;
export type CrlInput = string | Uint8Array | X509Crl;

export interface ValidationPolicy {
  /** Trent's root certificate: the only trust anchor. */
  root: CertificateInput;
  /** Trent's current CRL; without it revocation is not checked. */
  crl?: CrlInput | undefined;
  /** The role the caller requires (a gateway cert cannot act as a notary). */
  role: Role;
  /** The id the caller requires, when it knows it (e.g. from the MQTT topic). */
  id?: string | undefined;
  /** Signing certificate (default) or TLS certificate; one never passes for the other. */
  purpose?: Purpose | undefined;
  /** The time of use. */
  at: Date;
  /** Allowed clock difference, applied to notBefore/notAfter and the CRL's dates. */
  skewMs: number;
  /**
   * Judge a past use: `at` is when a signature was made (a block sealed, a receipt
   * given) and the check runs later, maybe years later, as an auditor's does. The CRL
   * is then the latest word and need not be current at `at`, and a revocation counts
   * only if it took effect at or before `at`: what was signed while the certificate
   * was good stays good (the notary's receipt dates it). Live uses (a connection, a
   * submission) leave this off: the CRL must be current and every revocation counts.
   */
  historical?: boolean | undefined;
}

/** Inputs larger than this are refused unparsed (a medchain certificate is under 1 KiB). */
export const MAX_INPUT_BYTES = 64 * 1024;

class Reject extends Error {
  constructor(
    readonly reason: ValidationReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function parse<T>(
  input: string | Uint8Array | T,
  Ctor: new (raw: string | Uint8Array) => T,
  reason: ValidationReason,
  what: string,
): T {
  if (input instanceof Ctor) return input;
  const raw = input as string | Uint8Array;
  const size = typeof raw === 'string' ? raw.length : raw?.length;
  if (typeof size !== 'number' || size === 0 || size > MAX_INPUT_BYTES) {
    throw new Reject(reason, `${what}: empty, not PEM/DER, or over ${MAX_INPUT_BYTES} bytes`);
  }
  try {
    return new Ctor(typeof raw === 'string' ? raw : Buffer.from(raw));
  } catch (err) {
    throw new Reject(reason, `${what} cannot be parsed: ${(err as Error).message}`);
  }
}

const sameBytes = (a: ArrayBuffer, b: ArrayBuffer) => Buffer.from(a).equals(Buffer.from(b));
const iso = (d: Date) => (Number.isNaN(d.getTime()) ? String(d) : d.toISOString());

async function checkChain(cert: X509Certificate, root: X509Certificate, p: ValidationPolicy) {
  const bc = root.getExtension(BasicConstraintsExtension);
  const ku = root.getExtension(KeyUsagesExtension);
  if (!bc?.ca || !ku || (ku.usages & keyUsageFor('ca')) === 0) {
    throw new Reject(
      'chain',
      'the configured root is not a CA certificate (basicConstraints/keyUsage)',
    );
  }
  const t = p.at.getTime();
  if (t + p.skewMs < root.notBefore.getTime() || t - p.skewMs > root.notAfter.getTime()) {
    throw new Reject(
      'chain',
      `the root is not valid at ${iso(p.at)} (${iso(root.notBefore)} … ${iso(root.notAfter)})`,
    );
  }
  if (!sameBytes(cert.issuerName.toArrayBuffer(), root.subjectName.toArrayBuffer())) {
    throw new Reject('chain', `issuer '${cert.issuer}' is not the root '${root.subject}'`);
  }
  let valid = false;
  try {
    valid = await cert.verify({ publicKey: root.publicKey, signatureOnly: true });
  } catch {
    valid = false;
  }
  if (!valid)
    throw new Reject('chain', `the signature does not verify with the root key (${root.subject})`);
}

/**
 * The SAN holds exactly one URI urn:medchain:{role}:{id}; a TLS certificate may add
 * dNSName and iPAddress entries (the hosts it answers on), nothing else.
 */
function readIdentity(cert: X509Certificate): { role: Role; id: string; hosts: number } {
  const san = cert.getExtension(SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const uris = names.filter((n) => n.type === 'url');
  const hosts = names.filter((n) => n.type === 'dns' || n.type === 'ip').length;
  const only = uris.length === 1 && uris.length + hosts === names.length ? uris[0] : undefined;
  const parsed = only ? parseRoleUri(only.value) : undefined;
  if (!parsed) {
    throw new Reject(
      'malformed',
      'the SAN must hold exactly one URI urn:medchain:{role}:{id} (TLS: plus DNS names and IP addresses)',
    );
  }
  const ou = nameField(cert.subjectName, 'OU');
  const cn = nameField(cert.subjectName, 'CN');
  if (ou !== parsed.role || (parsed.role !== 'ca' && cn !== parsed.id)) {
    throw new Reject(
      'malformed',
      `subject '${cert.subject}' disagrees with SAN urn:medchain:${parsed.role}:${parsed.id}`,
    );
  }
  return { ...parsed, hosts };
}

function checkValidity(cert: X509Certificate, p: ValidationPolicy): void {
  const t = p.at.getTime();
  if (t + p.skewMs < cert.notBefore.getTime()) {
    throw new Reject(
      'not-yet-valid',
      `valid from ${iso(cert.notBefore)}; now ${iso(p.at)} (skew ${p.skewMs} ms)`,
    );
  }
  if (t - p.skewMs > cert.notAfter.getTime()) {
    throw new Reject(
      'expired',
      `expired at ${iso(cert.notAfter)}; now ${iso(p.at)} (skew ${p.skewMs} ms)`,
    );
  }
}

async function checkCrl(cert: X509Certificate, root: X509Certificate, p: ValidationPolicy) {
  if (p.crl === undefined) return;
  const crl = parse(p.crl, X509Crl, 'crl-invalid', 'the CRL');
  if (!sameBytes(crl.issuerName.toArrayBuffer(), root.subjectName.toArrayBuffer())) {
    throw new Reject('crl-invalid', `the CRL is issued by '${crl.issuer}', not the root`);
  }
  let valid = false;
  try {
    valid = await crl.verify({ publicKey: root.publicKey });
  } catch {
    valid = false;
  }
  if (!valid)
    throw new Reject('crl-invalid', 'the CRL signature does not verify with the root key');
  const t = p.at.getTime();
  if (!p.historical && t + p.skewMs < crl.thisUpdate.getTime()) {
    throw new Reject('crl-invalid', `the CRL is dated in the future (${iso(crl.thisUpdate)})`);
  }
  if (!p.historical && (!crl.nextUpdate || t - p.skewMs > crl.nextUpdate.getTime())) {
    throw new Reject(
      'crl-invalid',
      `the CRL is stale (nextUpdate ${crl.nextUpdate ? iso(crl.nextUpdate) : 'absent'}); fetch a fresh one from the CA`,
    );
  }
  const entry = crl.findRevoked(cert);
  if (entry && !(p.historical && entry.revocationDate.getTime() > t)) {
    const reason = entry.reason === undefined ? '' : ` (reason ${entry.reason})`;
    throw new Reject(
      'revoked',
      `serial ${cert.serialNumber} revoked at ${iso(entry.revocationDate)}${reason}`,
    );
  }
}

/**
 * extendedKeyUsage per role and purpose (profile.ts expectedEku): TLS needs
 * serverAuth/clientAuth, a gateway's or notary's signing certificate
 * id-kp-medchainSigning. A signing certificate without any extendedKeyUsage is what
 * Trent issued before that OID existed: it still proves what it signed back then
 * (historical checks: exports, replicas, proofs), but no live use accepts it any more
 * (a notary admitting a block, a service starting): renew it.
 */
function checkExtendedKeyUsage(cert: X509Certificate, role: Role, p: ValidationPolicy) {
  const purpose = p.purpose ?? 'signing';
  const kind = ekuKind(cert);
  const expected = expectedEku(role, purpose);
  if (kind === expected) return;
  if (kind === 'none' && expected === 'signing' && p.historical === true) return;
  const what =
    kind === 'none'
      ? 'a certificate without extendedKeyUsage (issued before id-kp-medchainSigning: renew it)'
      : kind === 'mixed'
        ? 'a certificate with both TLS and medchain signing extendedKeyUsage'
        : `a certificate with ${kind} extendedKeyUsage`;
  throw new Reject('key-usage', `${what} cannot serve as a ${role} ${purpose} certificate`);
}

function checkKeyUsage(cert: X509Certificate, role: Role, purpose: Purpose): void {
  const ku = cert.getExtension(KeyUsagesExtension);
  const bc = cert.getExtension(BasicConstraintsExtension);
  const need = keyUsageFor(role, purpose);
  if (!ku || (ku.usages & need) !== need) {
    throw new Reject(
      'key-usage',
      `a ${role} certificate must carry keyUsage ${need} (has ${ku?.usages ?? 'none'})`,
    );
  }
  if (role !== 'ca' && (bc?.ca || (ku.usages & keyUsageFor('ca')) !== 0)) {
    throw new Reject(
      'key-usage',
      'a leaf certificate must not be a CA (basicConstraints/keyCertSign)',
    );
  }
}

/**
 * The one certificate check every component uses: chain to Trent's root, identity
 * (SAN URI, matching subject), validity with skew, CRL (signed by the root, fresh)
 * and revocation, required role and id, key usage. Never throws on hostile input;
 * throws CaError only when the policy itself is not usable (a caller's bug).
 */
export async function validateCertificate(
  input: CertificateInput,
  policy: ValidationPolicy,
): Promise<ValidationResult> {
  if (!isRole(policy.role) || (policy.id !== undefined && !isParticipantId(policy.id))) {
    throw new CaError(
      CaCode.BadInput,
      `validation policy: role '${policy.role}' / id '${policy.id}'`,
    );
  }
  if (!(policy.at instanceof Date) || Number.isNaN(policy.at.getTime()) || !(policy.skewMs >= 0)) {
    throw new CaError(CaCode.BadInput, 'validation policy: `at` must be a Date and skewMs ≥ 0');
  }
  try {
    const root = parse(policy.root, X509Certificate, 'chain', 'the configured root');
    const cert = parse(input, X509Certificate, 'malformed', 'the certificate');
    await checkChain(cert, root, policy);
    if (policy.role === 'ca' && !sameBytes(cert.rawData, root.rawData)) {
      throw new Reject('chain', 'only the configured root itself is a valid ca certificate');
    }
    const identity = readIdentity(cert);
    const publicKey = p256FromSpki(new Uint8Array(cert.publicKey.rawData));
    if (!publicKey) throw new Reject('malformed', 'the public key is not EC P-256');
    checkValidity(cert, policy);
    await checkCrl(cert, root, policy);
    if (identity.role !== policy.role) {
      throw new Reject('wrong-role', `certified as ${identity.role}, required ${policy.role}`);
    }
    if (policy.id !== undefined && identity.id !== policy.id) {
      throw new Reject('wrong-id', `certified as '${identity.id}', required '${policy.id}'`);
    }
    if (policy.role !== 'ca') {
      checkExtendedKeyUsage(cert, identity.role, policy);
      if ((policy.purpose ?? 'signing') === 'signing' && identity.hosts > 0) {
        throw new Reject('malformed', 'a signing certificate names a participant, never a host');
      }
    }
    checkKeyUsage(
      cert,
      identity.role,
      policy.role === 'ca' ? 'signing' : (policy.purpose ?? 'signing'),
    );
    return {
      ok: true,
      role: identity.role,
      id: identity.id,
      publicKey,
      serial: cert.serialNumber.toLowerCase(),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, reason: err.reason, detail: err.detail };
    return {
      ok: false,
      reason: 'malformed',
      detail: `unreadable input: ${(err as Error)?.message ?? String(err)}`,
    };
  }
}
