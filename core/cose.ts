/**
 * COSE_Sign1 (RFC 9052 §4.2) with ES256 only, the signature of every block
 * header, receipt and checkpoint. medchain profile, as written by sign1():
 *
 *   COSE_Sign1 = #6.18([ protected: bstr .cbor {1: -7, 4: kid},
 *                        unprotected: {}, payload: bstr, signature: bstr .size 64 ])
 *
 * The protected header is encoded once, deterministically (keys 1 then 4), and
 * verification always uses its bytes as transmitted, never a re-encoding.
 */
import { Tag as CborTag } from 'cbor-x';
import { abytes, CoreInputError } from './bytes.js';
import { encodeCbor } from './cbor.js';
import { sha256 } from './hash.js';
import { ES256, type Signer } from './signer.js';

/** CBOR tag of COSE_Sign1 (RFC 9052 §2). */
export const COSE_SIGN1_TAG = 18;
/** Header labels (RFC 9052 §3.1). */
export const HeaderLabel = { alg: 1, crit: 2, contentType: 3, kid: 4 } as const;
/** Limits a decoder enforces; a kid is an identifier, not a certificate. */
export const COSE_LIMITS = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxKidBytes: 64,
  maxHeaderBytes: 1024,
});

export type HeaderLabel = number | string;
/** A decoded header value: CBOR data model as cbor-x yields it. */
export type HeaderMap = ReadonlyMap<HeaderLabel, unknown>;

/** A decoded COSE_Sign1. All byte fields are the bytes as transmitted. */
export interface Sign1 {
  /** The protected header bstr contents, exactly as received (what the signature covers). */
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: HeaderMap;
  readonly unprotectedHeader: HeaderMap;
  readonly alg: typeof ES256;
  /** kid from the protected header (medchain profile) or either bucket (rfc9052 profile). */
  readonly kid: Uint8Array | undefined;
  readonly payload: Uint8Array;
  /** Raw r||s, 64 bytes. */
  readonly signature: Uint8Array;
  /** Whether the message carried tag 18. */
  readonly tagged: boolean;
}

export interface Sign1Options {
  /** Externally supplied data bound into the signature but not carried (RFC 9052 §4.3). */
  readonly externalAad?: Uint8Array;
  /** Unprotected header entries; alg (1) and kid (4) are refused here, they are protected. */
  readonly unprotected?: HeaderMap;
}

/** Protected header bytes of the medchain profile: the map {1: -7, 4: kid}, canonical. */
export function protectedHeaderBytes(kid: Uint8Array): Uint8Array {
  abytes('kid', kid);
  if (kid.length === 0 || kid.length > COSE_LIMITS.maxKidBytes) {
    throw new CoreInputError(`kid: ${kid.length} bytes, expected 1..${COSE_LIMITS.maxKidBytes}`);
  }
  return encodeCbor(
    new Map<number, unknown>([
      [HeaderLabel.alg, ES256],
      [HeaderLabel.kid, kid],
    ]),
  );
}

/**
 * Sig_structure of RFC 9052 §4.4 for COSE_Sign1:
 *   ["Signature1", body_protected, external_aad, payload]
 * ES256 signs SHA-256 of these bytes (RFC 9053 §2.1).
 */
export function sigStructure(
  protectedBytes: Uint8Array,
  payload: Uint8Array,
  externalAad: Uint8Array = new Uint8Array(0),
): Uint8Array {
  abytes('protectedBytes', protectedBytes);
  abytes('payload', payload);
  abytes('externalAad', externalAad);
  return encodeCbor(['Signature1', protectedBytes, externalAad, payload]);
}

/** Signs `payload` as a tagged COSE_Sign1 with the medchain profile header; returns its bytes. */
export async function sign1(
  signer: Signer,
  payload: Uint8Array,
  options: Sign1Options = {},
): Promise<Uint8Array> {
  if (signer.alg !== ES256) throw new CoreInputError(`signer.alg: only ES256 (-7) is supported`);
  abytes('payload', payload);
  const unprotected = new Map(options.unprotected ?? []);
  for (const label of unprotected.keys()) {
    if (typeof label !== 'number' && typeof label !== 'string') {
      throw new CoreInputError('unprotected: header labels are integers or text (RFC 9052 §3)');
    }
    if (label === HeaderLabel.alg || label === HeaderLabel.kid || label === HeaderLabel.crit) {
      throw new CoreInputError(`unprotected: label ${label} belongs in the protected header`);
    }
  }
  const protectedBytes = protectedHeaderBytes(signer.kid);
  const digest = sha256(sigStructure(protectedBytes, payload, options.externalAad));
  const signature = abytes('signer.signDigest result', await signer.signDigest(digest), 64);
  return encodeCbor(new CborTag([protectedBytes, unprotected, payload, signature], COSE_SIGN1_TAG));
}
