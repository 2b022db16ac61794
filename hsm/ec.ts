import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { HsmCode, HsmError } from './errors.js';

/** DER of the OID 1.2.840.10045.3.1.7 (prime256v1), the value of CKA_EC_PARAMS for P-256. */
export const P256_EC_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/** An uncompressed P-256 point: 0x04 || X(32) || Y(32). */
export const P256_POINT_BYTES = 65;

/**
 * CKA_EC_POINT holds the point wrapped in a DER OCTET STRING (PKCS#11 v2.40 §2.3.3);
 * some modules return it bare. Accepts both, returns the 65-byte uncompressed point.
 */
export function unwrapEcPoint(value: Uint8Array): Uint8Array {
  if (value.length === P256_POINT_BYTES + 2 && value[0] === 0x04 && value[1] === P256_POINT_BYTES) {
    return value.subarray(2);
  }
  if (value.length === P256_POINT_BYTES && value[0] === 0x04) return value;
  throw new HsmError(
    HsmCode.BadInput,
    `CKA_EC_POINT is not an uncompressed P-256 point (${value.length} bytes)`,
  );
}

export interface PublicKeyExport {
  /** Uncompressed point, 65 bytes. */
  point: Uint8Array;
  /** SubjectPublicKeyInfo, DER. */
  spki: Buffer;
  jwk: JsonWebKey;
  keyObject: KeyObject;
}

/** Builds SPKI and JWK through node:crypto so no DER is written by hand. */
export function exportP256Point(point: Uint8Array): PublicKeyExport {
  if (point.length !== P256_POINT_BYTES || point[0] !== 0x04) {
    throw new HsmError(HsmCode.BadInput, 'point: expected a 65-byte uncompressed P-256 point');
  }
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  const jwk: JsonWebKey = {
    kty: 'EC',
    crv: 'P-256',
    x: b64(point.subarray(1, 33)),
    y: b64(point.subarray(33, 65)),
  };
  const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
  const spki = keyObject.export({ format: 'der', type: 'spki' });
  return { point: Uint8Array.from(point), spki, jwk, keyObject };
}
