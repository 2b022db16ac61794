/**
 * Proof verification, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency),
 * the iterative algorithms. As in transparency-dev/merkle, computing a root from
 * a proof is separate from comparing it, and a failure names the check and
 * carries the evidence. Nothing here throws, whatever the input: proofs arrive
 * from the network and a verifier must answer "invalid", not crash.
 *
 * Sizes and indices are JS numbers (exact up to 2^53): bit operations would
 * truncate to 32 bits, so LSB and shifts are written as % 2 and / 2.
 */
import { equalBytes } from './bytes.js';
import { HASH_BYTES } from './hash.js';
import { EMPTY_ROOT, nodeHash } from './merkle.js';

export type MerkleCheck =
  /** An argument is not the right type: size/index not a safe integer, hash not 32 bytes. */
  | 'malformed-input'
  /** A proof element is not a 32-byte hash. */
  | 'proof-element'
  /** Inclusion: index >= size. */
  | 'index-out-of-range'
  /** Consistency: size1 > size2. */
  | 'size-order'
  /** The proof has more or fewer elements than the sizes require. */
  | 'proof-length'
  /** Inclusion: the computed root differs from the expected root. */
  | 'root-mismatch'
  /** Consistency: the root computed for the old tree differs from root1. */
  | 'root1-mismatch'
  /** Consistency: the root computed for the new tree differs from root2. */
  | 'root2-mismatch';

export interface MerkleFailure {
  readonly ok: false;
  readonly check: MerkleCheck;
  readonly detail: string;
  readonly expected?: Uint8Array;
  readonly actual?: Uint8Array;
}
export type MerkleVerifyResult = { readonly ok: true } | MerkleFailure;
export type MerkleRootResult = { readonly ok: true; readonly root: Uint8Array } | MerkleFailure;
export type MerkleRootsResult =
  | {
      readonly ok: true;
      readonly root1: Uint8Array;
      /** null only for size1 = 0: every tree extends the empty tree, so no root is implied. */
      readonly root2: Uint8Array | null;
    }
  | MerkleFailure;

const fail = (
  check: MerkleCheck,
  detail: string,
  evidence?: { expected: Uint8Array; actual: Uint8Array },
): MerkleFailure => ({ ok: false, check, detail, ...evidence });

const isSize = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHash = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === HASH_BYTES;

function checkProof(proof: unknown): MerkleFailure | undefined {
  if (!Array.isArray(proof)) return fail('malformed-input', 'proof: not an array');
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) return fail('proof-element', `proof[${i}]: not a 32-byte hash`);
  }
  return undefined;
}

/**
 * The root implied by an inclusion proof for `leafHash` at `index` in a tree
 * of `size` leaves (RFC 9162 §2.1.3.2 steps 1-5, without the final compare).
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): MerkleRootResult {
  if (!isSize(index)) return fail('malformed-input', 'index: not a non-negative safe integer');
  if (!isSize(size)) return fail('malformed-input', 'size: not a non-negative safe integer');
  if (!isHash(leafHash)) return fail('malformed-input', 'leafHash: not a 32-byte hash');
  const bad = checkProof(proof);
  if (bad) return bad;
  if (index >= size) return fail('index-out-of-range', `index ${index} >= size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return fail('proof-length', `proof is longer than a tree of size ${size} needs`);
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // Skip the levels where this node has no right sibling (right edge of the tree).
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail('proof-length', `proof is shorter than a tree of size ${size} needs`);
  return { ok: true, root: r };
}

/** RFC 9162 §2.1.3.2: does `proof` show `leafHash` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): MerkleVerifyResult {
  if (!isHash(root)) return fail('malformed-input', 'root: not a 32-byte hash');
  const got = rootFromInclusionProof(index, size, leafHash, proof);
  if (!got.ok) return got;
  if (!equalBytes(got.root, root)) {
    return fail('root-mismatch', 'the proof leads to a different root', {
      expected: root,
      actual: got.root,
    });
  }
  return { ok: true };
}

/**
 * The old and new roots implied by a consistency proof from size1 to size2,
 * given the old root (RFC 9162 §2.1.4.2 steps 1-6, without the final compares).
 * For size1 = size2 the proof must be empty and both roots are root1; for
 * size1 = 0 it must be empty, root1 is the empty root and root2 is null.
 */
export function rootsFromConsistencyProof(
  size1: number,
  size2: number,
  root1: Uint8Array,
  proof: readonly Uint8Array[],
): MerkleRootsResult {
  if (!isSize(size1)) return fail('malformed-input', 'size1: not a non-negative safe integer');
  if (!isSize(size2)) return fail('malformed-input', 'size2: not a non-negative safe integer');
  if (!isHash(root1)) return fail('malformed-input', 'root1: not a 32-byte hash');
  const bad = checkProof(proof);
  if (bad) return bad;
  if (size1 > size2) return fail('size-order', `size1 ${size1} > size2 ${size2}`);
  if (size1 === 0 || size1 === size2) {
    if (proof.length !== 0)
      return fail('proof-length', 'a trivial consistency proof must be empty');
    return size1 === 0
      ? { ok: true, root1: EMPTY_ROOT.slice(), root2: null }
      : { ok: true, root1, root2: root1 };
  }
  // Step 1: a non-trivial proof is never empty.
  if (proof.length === 0) return fail('proof-length', 'empty proof for size1 < size2');
  // Step 2: when size1 is a power of two the old root is itself the first node.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // Steps 3-4.
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return fail('proof-length', `proof is longer than ${size1}->${size2} needs`);
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7 (first part): every level of the new tree was consumed.
  if (sn !== 0) return fail('proof-length', `proof is shorter than ${size1}->${size2} needs`);
  return { ok: true, root1: fr, root2: sr };
}

/** RFC 9162 §2.1.4.2: is the tree (size1, root1) a prefix of the tree (size2, root2)? */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): MerkleVerifyResult {
  if (!isHash(root2)) return fail('malformed-input', 'root2: not a 32-byte hash');
  const got = rootsFromConsistencyProof(size1, size2, root1, proof);
  if (!got.ok) return got;
  if (!equalBytes(got.root1, root1)) {
    return fail('root1-mismatch', 'the proof does not start from the old root', {
      expected: root1,
      actual: got.root1,
    });
  }
  if (got.root2 !== null && !equalBytes(got.root2, root2)) {
    return fail('root2-mismatch', 'the proof leads to a different new root', {
      expected: root2,
      actual: got.root2,
    });
  }
  return { ok: true };
}

function isPowerOfTwo(n: number): boolean {
  let v = n;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}
