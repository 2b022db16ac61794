import { createPublicKey, KeyObject } from 'node:crypto';
import { CoreInputError } from './bytes.js';

/** An uncompressed P-256 point: 0x04 || X(32) || Y(32). */
export const P256_POINT_BYTES = 65;

/**
 * A node:crypto public KeyObject for P-256 from a KeyObject (public, or private
 * whose public half is taken) or a raw 65-byte uncompressed point. Throws
 * CoreInputError for anything else, including a point not on the curve.
 */
export function p256PublicKey(key: KeyObject | Uint8Array): KeyObject {
  if (key instanceof KeyObject) {
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    if (pub.type !== 'public' || pub.asymmetricKeyType !== 'ec') {
      throw new CoreInputError('publicKey: not an EC public key');
    }
    if (pub.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new CoreInputError(
        `publicKey: curve ${String(pub.asymmetricKeyDetails?.namedCurve)} is not P-256`,
      );
    }
    return pub;
  }
  if (!(key instanceof Uint8Array) || key.length !== P256_POINT_BYTES || key[0] !== 0x04) {
    throw new CoreInputError('publicKey: expected a 65-byte uncompressed P-256 point');
  }
  const id = Buffer.from(key).toString('hex');
  const cached = byPoint.get(id);
  if (cached) return cached;
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  let made: KeyObject;
  try {
    // JWK import makes node:crypto (OpenSSL) check the point is on the curve.
    made = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64(key.subarray(1, 33)), y: b64(key.subarray(33)) },
      format: 'jwk',
    });
  } catch (err) {
    throw new CoreInputError(`publicKey: not a valid P-256 point (${(err as Error).message})`);
  }
  if (byPoint.size >= CACHE_MAX) byPoint.delete(byPoint.keys().next().value as string);
  byPoint.set(id, made);
  return made;
}

// Importing a point costs more than the ECDSA verify it serves (bench: 85 µs against
// 45 µs), and a verifier checks many signatures by few keys. KeyObjects are immutable.
const CACHE_MAX = 1024;
const byPoint = new Map<string, KeyObject>();
