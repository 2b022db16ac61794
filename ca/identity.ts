import { CaCode, CaError } from './errors.js';
import { KeyUsageFlags, Name } from './x509.js';

/** Every participant role Trent certifies (docs/FORMAT-certificates.md). */
export const ROLES = ['gateway', 'notary', 'device', 'reader', 'ca'] as const;
export type Role = (typeof ROLES)[number];
/** Roles a leaf certificate may carry (`ca` is the root's alone). */
export const LEAF_ROLES = ['gateway', 'notary', 'device', 'reader'] as const;
export type LeafRole = (typeof LEAF_ROLES)[number];

/** Participant ids: URN-safe (RFC 8141 NSS characters without escapes), 1-64 chars. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const URN_PREFIX = 'urn:medchain:';
export const DEFAULT_ORG = 'medchain';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isLeafRole(value: unknown): value is LeafRole {
  return typeof value === 'string' && (LEAF_ROLES as readonly string[]).includes(value);
}

export function isParticipantId(value: unknown): value is string {
  return typeof value === 'string' && ID_RE.test(value);
}

export function assertLeafRole(role: string): LeafRole {
  if (!isLeafRole(role)) {
    throw new CaError(
      CaCode.RoleUnknown,
      `role '${role}' is unknown: use one of ${LEAF_ROLES.join(', ')}.`,
    );
  }
  return role;
}

export function assertParticipantId(id: string): string {
  if (!isParticipantId(id)) {
    throw new CaError(
      CaCode.IdInvalid,
      `id '${id}': use 1-64 characters from A-Z a-z 0-9 . _ - (starting with a letter or digit).`,
    );
  }
  return id;
}

/** The SAN URI that carries role and id: `urn:medchain:{role}:{id}`. */
export function roleUri(role: Role, id: string): string {
  return `${URN_PREFIX}${role}:${id}`;
}

/** Parses a SAN URI; undefined if it is not a well-formed medchain identity. */
export function parseRoleUri(uri: string): { role: Role; id: string } | undefined {
  if (!uri.startsWith(URN_PREFIX)) return undefined;
  const rest = uri.slice(URN_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon < 0) return undefined;
  const role = rest.slice(0, colon);
  const id = rest.slice(colon + 1);
  if (!isRole(role) || !isParticipantId(id)) return undefined;
  return { role, id };
}

/** Subject: O=org, OU=role, CN=id (DER order, most general first; openssl prints it so). */
export function subjectName(role: Role, commonName: string, org: string): Name {
  return new Name([{ O: [org] }, { OU: [role] }, { CN: [commonName] }]);
}

/** First value of an attribute in a distinguished name, or undefined. */
export function nameField(name: Name, attr: 'CN' | 'OU' | 'O'): string | undefined {
  const values = name.getField(attr);
  return values.length === 1 ? values[0] : undefined;
}

/**
 * What a leaf certificate is for. A participant holds two: its signing certificate for
 * the key on its token (blocks, receipts, checkpoints: what auditors verify), and a TLS
 * certificate for a software transport key (Node's TLS cannot use a PKCS#11 key). They
 * share role and id and differ by extendedKeyUsage, so one can never stand in for the other.
 */
export const PURPOSES = ['signing', 'tls'] as const;
export type Purpose = (typeof PURPOSES)[number];

export function isPurpose(value: unknown): value is Purpose {
  return (PURPOSES as readonly unknown[]).includes(value);
}

/** The KeyUsage a certificate of this role and purpose must carry and the validator requires. */
export function keyUsageFor(role: Role, purpose: Purpose = 'signing'): KeyUsageFlags {
  if (purpose === 'tls' && role !== 'ca') return KeyUsageFlags.digitalSignature;
  switch (role) {
    case 'ca':
      return KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
    case 'reader':
      return KeyUsageFlags.keyAgreement;
    default:
      return KeyUsageFlags.digitalSignature;
  }
}
