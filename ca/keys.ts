import { createPublicKey, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { exportP256Point, type PublicKeyExport } from '../hsm/ec.js';
import { CaCode, CaError } from './errors.js';
import type { DigestSigner } from './token-crypto.js';

export type { PublicKeyExport };

/**
 * The P-256 public key in a SubjectPublicKeyInfo, as point, SPKI, JWK and KeyObject;
 * undefined for anything else (another curve, RSA, garbage). Parsed by node:crypto.
 */
export function p256FromSpki(spki: Uint8Array): PublicKeyExport | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec') return undefined;
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return undefined;
    const jwk = key.export({ format: 'jwk' });
    if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return undefined;
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x, 'base64url'),
      Buffer.from(jwk.y, 'base64url'),
    ]);
    return exportP256Point(point);
  } catch {
    return undefined;
  }
}

/**
 * A DigestSigner over a software P-256 private key, to sign the CSR of a TLS transport
 * key (those keys live in PEM files because Node's TLS cannot use a PKCS#11 key).
 * Never for signing keys: those are generated and used on a token.
 */
export function softwareDigestSigner(privateKey: KeyObject): DigestSigner {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new CaError(CaCode.KeyUnsupported, 'a TLS key must be an EC P-256 private key');
  }
  const d = Buffer.from(jwk.d, 'base64url');
  return { signDigest: async (_label, digest) => p256.sign(digest, d, { prehash: false }) };
}
