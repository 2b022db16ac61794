import { createHash, webcrypto } from 'node:crypto';
import { HsmCode, HsmError } from '../hsm/errors.js';
import { assertKeyLabel } from '../hsm/token.js';

/**
 * Anything that signs a caller's SHA-256 digest with a labelled key on a token and
 * returns raw r||s: `Token` and `ChildSigner` both are.
 */
export interface DigestSigner {
  signDigest(keyLabel: string, digest: Uint8Array): Promise<Uint8Array>;
}

type CryptoKey = webcrypto.CryptoKey;

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const tokenKeys = new WeakMap<object, { signer: DigestSigner; keyLabel: string }>();

/**
 * A CryptoKey-shaped handle for a private key that stays on its token. It holds no
 * key material: `tokenCrypto.subtle.sign` looks the handle up and asks the signer.
 */
export function tokenPrivateKey(signer: DigestSigner, keyLabel: string): CryptoKey {
  assertKeyLabel(keyLabel);
  const handle = Object.freeze({
    type: 'private',
    extractable: false,
    algorithm: Object.freeze({ ...EC_P256 }),
    usages: Object.freeze(['sign']),
  });
  tokenKeys.set(handle, { signer, keyLabel });
  return handle as unknown as CryptoKey;
}

/** The token handle plus the public half imported from its SPKI (as a real WebCrypto key). */
export async function tokenKeyPair(
  signer: DigestSigner,
  keyLabel: string,
  spki: Uint8Array,
): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_P256, true, ['verify']);
  return { privateKey: tokenPrivateKey(signer, keyLabel), publicKey };
}

function bytesOf(data: webcrypto.BufferSource): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function hashName(alg: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams): string | undefined {
  if (typeof alg === 'string' || !('hash' in alg)) return undefined;
  const h = alg.hash;
  return typeof h === 'string' ? h : h.name;
}

/**
 * WebCrypto sign, as @peculiar/x509 calls it (`subtle.sign({ name: 'ECDSA', hash:
 * 'SHA-256' }, key, tbs)`): SHA-256 is computed here, the token signs the digest
 * (CKM_ECDSA) and returns r||s — the IEEE P1363 form WebCrypto's ECDSA returns.
 * Keys that are not token handles go to Node's WebCrypto unchanged.
 */
async function sign(
  algorithm: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams,
  key: CryptoKey,
  data: webcrypto.BufferSource,
): Promise<ArrayBuffer> {
  const ref = tokenKeys.get(key);
  if (!ref) return webcrypto.subtle.sign(algorithm, key, data);
  const name = typeof algorithm === 'string' ? algorithm : algorithm.name;
  if (name.toUpperCase() !== 'ECDSA' || hashName(algorithm)?.toUpperCase() !== 'SHA-256') {
    throw new HsmError(
      HsmCode.MechanismUnsupported,
      `token key '${ref.keyLabel}' signs ECDSA with SHA-256 only (asked for ${name}/${hashName(algorithm) ?? 'no hash'})`,
    );
  }
  const digest = createHash('sha256').update(bytesOf(data)).digest();
  const sig = await ref.signer.signDigest(ref.keyLabel, digest);
  return Uint8Array.from(sig).buffer;
}

const subtle = new Proxy(webcrypto.subtle, {
  get(target, prop) {
    if (prop === 'sign') return sign;
    const value: unknown = Reflect.get(target, prop, target);
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

/**
 * Node's WebCrypto, except that `subtle.sign` with a tokenPrivateKey signs on the
 * token. Pass it as the `crypto` argument of @peculiar/x509's generators.
 */
export const tokenCrypto: webcrypto.Crypto = {
  CryptoKey: webcrypto.CryptoKey,
  subtle,
  getRandomValues: (array) => webcrypto.getRandomValues(array),
  randomUUID: () => webcrypto.randomUUID(),
};
