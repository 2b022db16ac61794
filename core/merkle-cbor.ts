/**
 * Wire form of Merkle proofs (docs/FORMAT.md), deterministic CBOR arrays:
 *
 *   InclusionProof   = [leafIndex: uint, treeSize: uint, path: [* bstr .size 32]]
 *   ConsistencyProof = [size1: uint, size2: uint, path: [* bstr .size 32]]
 *
 * A proof names its sizes so it can be checked against a signed checkpoint,
 * but the sizes prove nothing by themselves: the verifier must take treeSize
 * (or size2) and the root from a checkpoint it has verified.
 */
import { auint, CoreInputError } from './bytes.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { HASH_BYTES } from './hash.js';

/** Longest path accepted: sizes are below 2^53, so inclusion needs <= 53 and consistency <= 2 * 53. */
export const MAX_INCLUSION_PATH = 64;
export const MAX_CONSISTENCY_PATH = 128;

export interface InclusionProof {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly path: readonly Uint8Array[];
}
export interface ConsistencyProof {
  readonly size1: number;
  readonly size2: number;
  readonly path: readonly Uint8Array[];
}

export type ProofDecodeCheck = 'cbor' | 'non-canonical' | 'structure' | 'proof-element';
export type ProofDecodeFailure = {
  readonly ok: false;
  readonly check: ProofDecodeCheck;
  readonly detail: string;
};

export function encodeInclusionProof(p: InclusionProof): Uint8Array {
  return encodeProof(auint('leafIndex', p.leafIndex), auint('treeSize', p.treeSize), p.path);
}

export function encodeConsistencyProof(p: ConsistencyProof): Uint8Array {
  return encodeProof(auint('size1', p.size1), auint('size2', p.size2), p.path);
}

export function decodeInclusionProof(
  bytes: Uint8Array,
): { readonly ok: true; readonly proof: InclusionProof } | ProofDecodeFailure {
  const d = decodeProof(bytes, MAX_INCLUSION_PATH);
  return d.ok ? { ok: true, proof: { leafIndex: d.a, treeSize: d.b, path: d.path } } : d;
}

export function decodeConsistencyProof(
  bytes: Uint8Array,
): { readonly ok: true; readonly proof: ConsistencyProof } | ProofDecodeFailure {
  const d = decodeProof(bytes, MAX_CONSISTENCY_PATH);
  return d.ok ? { ok: true, proof: { size1: d.a, size2: d.b, path: d.path } } : d;
}

function encodeProof(a: number, b: number, path: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(path)) throw new CoreInputError('path: expected an array of hashes');
  path.forEach((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) {
      throw new CoreInputError(`path[${i}]: expected a 32-byte hash`);
    }
  });
  return encodeCbor([a, b, [...path]]);
}

type Decoded =
  | { readonly ok: true; readonly a: number; readonly b: number; readonly path: Uint8Array[] }
  | ProofDecodeFailure;

function decodeProof(bytes: Uint8Array, maxPath: number): Decoded {
  const fail = (check: ProofDecodeCheck, detail: string): ProofDecodeFailure => ({
    ok: false,
    check,
    detail,
  });
  if (!(bytes instanceof Uint8Array)) return fail('structure', 'proof: not a byte array');
  // Cheap bound before decoding: 3 heads plus maxPath elements of 34 bytes.
  if (bytes.length > 32 + maxPath * (HASH_BYTES + 2)) return fail('structure', 'proof: too long');
  const d = decodeCbor(bytes);
  if (!d.ok) return fail(d.check, d.detail);
  const v = d.value;
  if (!Array.isArray(v) || v.length !== 3) return fail('structure', 'proof: not a 3-element array');
  const [a, b, path] = v as unknown[];
  const isUint = (x: unknown): x is number =>
    typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!isUint(a) || !isUint(b))
    return fail('structure', 'proof: sizes are unsigned integers < 2^53');
  if (!Array.isArray(path)) return fail('structure', 'proof: path is not an array');
  if (path.length > maxPath) return fail('structure', `proof: path longer than ${maxPath}`);
  for (let i = 0; i < path.length; i++) {
    const h: unknown = path[i];
    if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) {
      return fail('proof-element', `path[${i}]: not a 32-byte bstr`);
    }
  }
  return { ok: true, a, b, path: (path as Uint8Array[]).map((h) => Uint8Array.from(h)) };
}
