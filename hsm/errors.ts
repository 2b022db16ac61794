import { MedchainError } from '../errors/medchain-error.js';

/** Stable codes for every HSM failure an operator can act on. */
export const HsmCode = {
  ModuleNotFound: 'HSM_MODULE_NOT_FOUND',
  TokenNotFound: 'HSM_TOKEN_NOT_FOUND',
  TokenExists: 'HSM_TOKEN_EXISTS',
  NoFreeSlot: 'HSM_NO_FREE_SLOT',
  PinMissing: 'HSM_PIN_MISSING',
  PinIncorrect: 'HSM_PIN_INCORRECT',
  PinLocked: 'HSM_PIN_LOCKED',
  KeyNotFound: 'HSM_KEY_NOT_FOUND',
  KeyExists: 'HSM_KEY_EXISTS',
  MechanismUnsupported: 'HSM_MECHANISM_UNSUPPORTED',
  SessionClosed: 'HSM_SESSION_CLOSED',
  BadInput: 'HSM_BAD_INPUT',
  SignerCrashed: 'HSM_SIGNER_CRASHED',
  SignerTimeout: 'HSM_SIGNER_TIMEOUT',
  Closed: 'HSM_CLOSED',
  Pkcs11: 'HSM_PKCS11_ERROR',
} as const;
export type HsmCode = (typeof HsmCode)[keyof typeof HsmCode];

export class HsmError extends MedchainError {
  declare readonly code: HsmCode;
  /** The PKCS#11 return value name (CKR_...) when the token reported one. */
  readonly ckr: string | undefined;

  constructor(code: HsmCode, message: string, options?: { cause?: unknown; ckr?: string }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.ckr = options?.ckr;
  }
}

interface Pkcs11LikeError {
  message: string;
  code?: number;
  method?: string;
}

function ckrName(err: unknown): string | undefined {
  const msg = (err as Pkcs11LikeError | undefined)?.message;
  if (typeof msg !== 'string') return undefined;
  const m = /(CKR_[A-Z0-9_]+)/.exec(msg);
  return m?.[1];
}

/**
 * Turns an error thrown by pkcs11js into an HsmError whose message says what to do.
 * `what` names the operation and object ("signing with key 'gw1' on token 'clinic'").
 */
export function fromPkcs11(err: unknown, what: string): HsmError {
  if (err instanceof HsmError) return err;
  const ckr = ckrName(err);
  const opts = { cause: err, ...(ckr === undefined ? {} : { ckr }) };
  switch (ckr) {
    case 'CKR_PIN_INCORRECT':
      return new HsmError(
        HsmCode.PinIncorrect,
        `${what}: wrong PIN. Check MEDCHAIN_HSM_PIN or the --pin-file; repeated failures lock the token.`,
        opts,
      );
    case 'CKR_PIN_LOCKED':
      return new HsmError(
        HsmCode.PinLocked,
        `${what}: the user PIN is locked after too many failures. The token's security officer must reset it (softhsm2-util or the vendor tool) before this participant can sign again.`,
        opts,
      );
    case 'CKR_MECHANISM_INVALID':
    case 'CKR_MECHANISM_PARAM_INVALID':
      return new HsmError(
        HsmCode.MechanismUnsupported,
        `${what}: the token does not support the mechanism (${ckr}). Use a token with EC P-256 ECDSA and ECDH, or check the module path.`,
        opts,
      );
    case 'CKR_SESSION_HANDLE_INVALID':
    case 'CKR_SESSION_CLOSED':
    case 'CKR_DEVICE_REMOVED':
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_CRYPTOKI_NOT_INITIALIZED':
      return new HsmError(
        HsmCode.SessionClosed,
        `${what}: the token session is gone (${ckr}). Check the token is present, then restart or reopen it.`,
        opts,
      );
    case 'CKR_USER_NOT_LOGGED_IN':
      return new HsmError(
        HsmCode.SessionClosed,
        `${what}: not logged in to the token (${ckr}); the session was logged out. Reopen the token with the user PIN.`,
        opts,
      );
    default:
      return new HsmError(
        HsmCode.Pkcs11,
        `${what}: the token refused the operation (${ckr ?? (err as Error)?.message ?? String(err)}).`,
        opts,
      );
  }
}
