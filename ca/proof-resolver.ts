import type { CertificateResolver } from '../core/reading-proof.js';
import { type CertificateInput, type CrlInput, validateCertificate } from './validate.js';

/**
 * core's reading-proof CertificateResolver backed by Trent: each certificate is judged
 * at the time the notary vouches for (historical mode), so proofs outlive expiry and
 * later revocation.
 */
export function proofResolver(o: {
  root: CertificateInput;
  crl?: CrlInput | undefined;
  skewMs: number;
}): CertificateResolver {
  return async (der, role, id, at) => {
    const v = await validateCertificate(der, {
      root: o.root,
      crl: o.crl,
      role,
      id,
      at: new Date(at),
      skewMs: o.skewMs,
      historical: true,
    });
    return v.ok
      ? { ok: true, key: v.publicKey.keyObject }
      : { ok: false, detail: `${v.reason}: ${v.detail}` };
  };
}
