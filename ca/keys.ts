import { createPublicKey } from 'node:crypto';
import { exportP256Point, type PublicKeyExport } from '../hsm/ec.js';

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
