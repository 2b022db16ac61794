import { createDecipheriv } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from './det-cbor.js';

/**
 * RFC 9180 receiver side, base mode, DHKEM(P-256, HKDF-SHA256) + HKDF-SHA256, written on
 * top of a `deriveSharedSecret(enc) → Z` callback. Why not @hpke/core here: its recipient
 * needs a WebCrypto private CryptoKey, and a reader key held in an HSM never becomes one;
 * the token only answers ECDH (hsm/token.ts deriveSharedSecret). Sealing still uses
 * @hpke/core, and the tests check this path against its encap and the RFC's vectors.
 */

/** What a reader needs to hold: its public key and a way to compute ECDH with `enc`. */
export interface HpkeRecipient {
  /** pkR, uncompressed SEC1 point (65 bytes). */
  readonly publicKey: Uint8Array;
  /** Raw ECDH Z: x-coordinate of skR·pkE, 32 bytes (PKCS#11 CKM_ECDH1_DERIVE + CKD_NULL). */
  deriveSharedSecret(enc: Uint8Array): Promise<Uint8Array>;
}

export const KEM_P256_SHA256 = 0x0010;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES128GCM = 0x0001;
export const AEAD_AES256GCM = 0x0002;

const utf8 = (s: string) => new TextEncoder().encode(s);
const i2osp = (n: number, len: number) => {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[len - 1 - i] = (n >>> (8 * i)) & 0xff;
  return out;
};
const EMPTY = new Uint8Array(0);

// RFC 9180 §4: LabeledExtract / LabeledExpand with "HPKE-v1" and a suite id.
function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array) {
  return extract(sha256, concatBytes([utf8('HPKE-v1'), suite, utf8(label), ikm]), salt);
}
function labeledExpand(
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  len: number,
) {
  return expand(
    sha256,
    prk,
    concatBytes([i2osp(len, 2), utf8('HPKE-v1'), suite, utf8(label), info]),
    len,
  );
}

const KEM_SUITE = concatBytes([utf8('KEM'), i2osp(KEM_P256_SHA256, 2)]);

/** RFC 9180 §4.1 Decap for DHKEM(P-256, HKDF-SHA256): shared_secret (32 bytes). */
export async function decapP256(enc: Uint8Array, r: HpkeRecipient): Promise<Uint8Array> {
  // DeserializePublicKey must reject points off the curve (RFC 9180 §7.1.4) before the
  // token ever sees them; noble throws on any invalid encoding.
  if (enc.length !== 65 || enc[0] !== 0x04)
    throw new RangeError('enc: not an uncompressed P-256 point');
  p256.Point.fromBytes(enc).assertValidity();
  const dh = await r.deriveSharedSecret(enc);
  if (dh.length !== 32) throw new RangeError('deriveSharedSecret: expected 32 bytes of Z');
  const eaePrk = labeledExtract(KEM_SUITE, EMPTY, 'eae_prk', dh);
  return labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', concatBytes([enc, r.publicKey]), 32);
}

export interface KeySchedule {
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
}

/** RFC 9180 §5.1 KeySchedule, mode_base (no PSK), HKDF-SHA256, AES-GCM with Nk = 16 or 32. */
export function keyScheduleBase(
  sharedSecret: Uint8Array,
  info: Uint8Array,
  aeadId: number,
): KeySchedule {
  const nk = aeadId === AEAD_AES128GCM ? 16 : aeadId === AEAD_AES256GCM ? 32 : 0;
  if (nk === 0) throw new RangeError(`aead ${aeadId} not supported`);
  const suite = concatBytes([
    utf8('HPKE'),
    i2osp(KEM_P256_SHA256, 2),
    i2osp(KDF_HKDF_SHA256, 2),
    i2osp(aeadId, 2),
  ]);
  const pskIdHash = labeledExtract(suite, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(suite, EMPTY, 'info_hash', info);
  const context = concatBytes([Uint8Array.of(0), pskIdHash, infoHash]);
  const secret = labeledExtract(suite, sharedSecret, 'secret', EMPTY);
  return {
    key: labeledExpand(suite, secret, 'key', context, nk),
    baseNonce: labeledExpand(suite, secret, 'base_nonce', context, 12),
  };
}

/** AES-GCM open; ct carries the 16-byte tag at its end. Throws on any authentication failure. */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
): Uint8Array {
  if (ct.length < 16) throw new RangeError('ciphertext shorter than the GCM tag');
  const d = createDecipheriv(key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(ct.subarray(ct.length - 16));
  return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]));
}

/** Single-shot base-mode open (RFC 9180 §6.1): sequence number 0, so nonce = base_nonce. */
export async function openBase(args: {
  recipient: HpkeRecipient;
  enc: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
  ct: Uint8Array;
  aeadId: number;
}): Promise<Uint8Array> {
  const ss = await decapP256(args.enc, args.recipient);
  const { key, baseNonce } = keyScheduleBase(ss, args.info, args.aeadId);
  try {
    return aesGcmOpen(key, baseNonce, args.aad, args.ct);
  } finally {
    key.fill(0);
    ss.fill(0);
  }
}

/** A software recipient from a raw 32-byte P-256 private scalar (tests, HSM-less readers). */
export function softwareRecipient(secretKey: Uint8Array): HpkeRecipient {
  const sk = Uint8Array.from(secretKey);
  return {
    publicKey: p256.getPublicKey(sk, false),
    deriveSharedSecret: async (enc) => p256.getSharedSecret(sk, enc, true).subarray(1),
  };
}
