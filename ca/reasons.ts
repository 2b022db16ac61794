import { CaCode, CaError } from './errors.js';
import { X509CrlReason } from './x509.js';

/**
 * CRLReason values an operator may give (RFC 5280 §5.3.1). certificateHold and
 * removeFromCRL are left out: a revocation here is final.
 */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export function assertReason(reason: string): RevocationReason {
  const found = REVOCATION_REASONS.find((r) => r === reason);
  if (!found) {
    throw new CaError(
      CaCode.ReasonUnknown,
      `revocation reason '${reason}' is unknown: use one of ${REVOCATION_REASONS.join(', ')}.`,
    );
  }
  return found;
}

export function crlReason(reason: string): X509CrlReason {
  return X509CrlReason[assertReason(reason)];
}
