import { MedchainError } from '../errors/medchain-error.js';

/** Stable codes for everything Trent refuses; `message` says what the operator should do. */
export const CaCode = {
  CsrMalformed: 'CA_CSR_MALFORMED',
  CsrSignature: 'CA_CSR_BAD_SIGNATURE',
  CsrMismatch: 'CA_CSR_MISMATCH',
  KeyUnsupported: 'CA_KEY_UNSUPPORTED',
  RoleUnknown: 'CA_ROLE_UNKNOWN',
  IdInvalid: 'CA_ID_INVALID',
  DuplicateId: 'CA_DUPLICATE_ID',
  SerialUnknown: 'CA_SERIAL_UNKNOWN',
  AlreadyRevoked: 'CA_ALREADY_REVOKED',
  ReasonUnknown: 'CA_REASON_UNKNOWN',
  Validity: 'CA_BAD_VALIDITY',
  NotInitialised: 'CA_NOT_INITIALISED',
  AlreadyInitialised: 'CA_ALREADY_INITIALISED',
  KeyMismatch: 'CA_KEY_MISMATCH',
  ProofOfPossession: 'CA_NO_PROOF_OF_POSSESSION',
  PublishFailed: 'CA_PUBLISH_FAILED',
  BadInput: 'CA_BAD_INPUT',
  CertExpired: 'CA_CERT_EXPIRED',
} as const;
export type CaCode = (typeof CaCode)[keyof typeof CaCode];

export class CaError extends MedchainError {
  declare readonly code: CaCode;

  constructor(code: CaCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
