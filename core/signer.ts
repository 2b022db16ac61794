/**
 * What COSE_Sign1 needs from a key: ES256 over a 32-byte SHA-256 digest,
 * returning raw r||s (RFC 9053 §2.1). The HSM Token and ChildSigner implement
 * it with a thin adapter; softwareSigner below is for tests and vectors.
 */
import { p256 } from '@noble/curves/nist.js';
import { abytes } from './bytes.js';

/** COSE algorithm identifier of ES256 (RFC 9053 §2.1): ECDSA P-256 with SHA-256. */
export const ES256 = -7;

export interface Signer {
  readonly alg: typeof ES256;
  /** Key identifier placed in the protected header (label 4). */
  readonly kid: Uint8Array;
  /** Signs a 32-byte SHA-256 digest; resolves to the 64-byte r||s signature. */
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

export interface SoftwareSigner extends Signer {
  /** Uncompressed public point, 65 bytes (0x04 || X || Y). */
  readonly publicKey: Uint8Array;
}

/**
 * A software ES256 signer from a raw 32-byte P-256 private scalar. Signatures
 * are deterministic (RFC 6979, via @noble/curves), so vectors regenerate
 * byte for byte. For tests and vectors only: production keys live on a token.
 */
export function softwareSigner(privateKey: Uint8Array, kid: Uint8Array): SoftwareSigner {
  const d = abytes('privateKey', privateKey, 32).slice();
  const publicKey = p256.getPublicKey(d, false);
  return {
    alg: ES256,
    kid: abytes('kid', kid).slice(),
    publicKey,
    async signDigest(digest: Uint8Array): Promise<Uint8Array> {
      abytes('digest', digest, 32);
      return p256.sign(digest, d, { prehash: false });
    },
  };
}

/**
 * A Signer over anything that signs a digest with a labelled key and returns r||s —
 * an hsm Token or ChildSigner — with kid = SHA-256 of the key's certificate
 * (core/kid.ts). The private key stays wherever `signDigest` sends the digest.
 */
export function digestSigner(
  kid: Uint8Array,
  signDigest: (digest: Uint8Array) => Promise<Uint8Array>,
): Signer {
  const k = abytes('kid', kid).slice();
  return { alg: ES256, kid: k, signDigest: (d) => signDigest(abytes('digest', d, 32)) };
}
