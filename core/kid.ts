import { sha256 } from './hash.js';

/**
 * The COSE kid (label 4) of everything a participant signs: SHA-256 of the DER of
 * the X.509 certificate Trent issued for the signing key. A verifier holding only
 * a chain export finds the certificate by this value, across key renewals too.
 */
export function kidOfCertificate(certDer: Uint8Array): Uint8Array {
  return sha256(certDer);
}
