/**
 * The gateway's block signer: ES256 on the HSM through hsm's ChildSigner (a supervised
 * child process, so a slow token never blocks the event loop), with kid = SHA-256 of
 * the gateway certificate's DER (core/kid.ts).
 */
import { abytes } from '../core/bytes.js';
import { kidOfCertificate } from '../core/kid.js';
import { digestSigner, type Signer } from '../core/signer.js';
import type { ChildSigner } from '../hsm/child-signer.js';

export function hsmBlockSigner(child: ChildSigner, keyLabel: string, certDer: Uint8Array): Signer {
  return digestSigner(kidOfCertificate(abytes('certDer', certDer)), (digest) =>
    child.signDigest(keyLabel, digest),
  );
}

/** Wraps a signer to report each signature's latency in seconds. */
export function timedSigner(signer: Signer, observe: (seconds: number) => void): Signer {
  return {
    alg: signer.alg,
    kid: signer.kid,
    async signDigest(digest) {
      const t0 = process.hrtime.bigint();
      try {
        return await signer.signDigest(digest);
      } finally {
        observe(Number(process.hrtime.bigint() - t0) / 1e9);
      }
    },
  };
}
