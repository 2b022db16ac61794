/**
 * COSE_Sign1 verification, ES256 (RFC 9052 §4.4, RFC 9053 §2.1): SHA-256 of
 * the Sig_structure built from the protected header bytes as transmitted,
 * checked as raw r||s with node:crypto. Never throws; names the failed check.
 */
import { type KeyObject, verify } from 'node:crypto';
import { equalBytes } from './bytes.js';
import { type Sign1, sigStructure } from './cose.js';
import { type CoseFailure, type CoseProfile, coseFail, decodeSign1 } from './cose-decode.js';
import { p256PublicKey } from './p256.js';

export interface VerifySign1Options {
  /** Must equal what the signer passed (RFC 9052 §4.3); default empty. */
  readonly externalAad?: Uint8Array;
  /** When given, the message's kid must be exactly this. */
  readonly expectedKid?: Uint8Array;
  /** Used when `msg` is bytes; default 'medchain'. */
  readonly profile?: CoseProfile;
  readonly maxBytes?: number;
}

export type VerifySign1Result = { readonly ok: true; readonly msg: Sign1 } | CoseFailure;

/**
 * Verifies a COSE_Sign1 (bytes, decoded here, or an already decoded Sign1)
 * against a P-256 public key (KeyObject or 65-byte uncompressed point).
 * The payload is trustworthy only when the result is ok.
 */
export function verifySign1(
  msg: Sign1 | Uint8Array,
  publicKey: KeyObject | Uint8Array,
  options: VerifySign1Options = {},
): VerifySign1Result {
  let m: Sign1;
  if (msg instanceof Uint8Array) {
    const d = decodeSign1(msg, {
      ...(options.profile === undefined ? {} : { profile: options.profile }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    });
    if (!d.ok) return d;
    m = d.msg;
  } else {
    m = msg;
  }
  let key: KeyObject;
  try {
    key = p256PublicKey(publicKey);
  } catch (err) {
    return coseFail('key', (err as Error).message);
  }
  if (options.expectedKid !== undefined) {
    if (m.kid === undefined || !equalBytes(m.kid, options.expectedKid)) {
      return coseFail('kid', 'kid differs from the expected key id');
    }
  }
  if (options.externalAad !== undefined && !(options.externalAad instanceof Uint8Array)) {
    return coseFail('structure', 'externalAad: not a byte array');
  }
  let good = false;
  try {
    // RFC 9052 §4.4: with no protected attributes body_protected is a zero-length
    // bstr, even if the sender transmitted an encoded empty map (0xA0); cose-wg
    // sign-pass-01 tests exactly this. Otherwise: the bytes as transmitted.
    const bodyProtected = m.protectedHeader.size === 0 ? new Uint8Array(0) : m.protectedBytes;
    const tbs = sigStructure(bodyProtected, m.payload, options.externalAad);
    good = verify('sha256', tbs, { key, dsaEncoding: 'ieee-p1363' }, m.signature);
  } catch (err) {
    return coseFail('signature', `cannot check the signature: ${(err as Error).message}`);
  }
  return good ? { ok: true, msg: m } : coseFail('signature', 'ES256 signature does not verify');
}
