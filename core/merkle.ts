/**
 * RFC 9162 §2.1 Merkle tree hashing over SHA-256: the readings inside a block
 * and the notary's log of entries H(1..n) are both such trees.
 *
 *   MTH({})      = SHA-256()                      (empty tree, §2.1.1)
 *   MTH({d0})    = SHA-256(0x00 || d0)            (leaf)
 *   MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
 *                  k = the largest power of two smaller than n
 *
 * Everything here takes leaf *hashes* (32 bytes each), not leaf data: callers
 * hash their leaves once with leafHash() and keep the hashes.
 */
import { abytes, auint, CoreInputError } from './bytes.js';
import { HASH_BYTES, sha256, sha256Raw, Tag, taggedHash } from './hash.js';

/** Root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return taggedHash(Tag.MerkleLeaf, abytes('data', data));
}

/** RFC 9162 §2.1.1 interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  abytes('left', left, HASH_BYTES);
  abytes('right', right, HASH_BYTES);
  return taggedHash(Tag.MerkleNode, left, right);
}

/** Largest power of two strictly smaller than n (n >= 2): the split point k of §2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Asserts an array of 32-byte leaf hashes, naming the first bad element. */
export function aleafHashes(name: string, hashes: unknown): readonly Uint8Array[] {
  if (!Array.isArray(hashes)) throw new CoreInputError(`${name}: expected an array of hashes`);
  for (let i = 0; i < hashes.length; i++) abytes(`${name}[${i}]`, hashes[i], HASH_BYTES);
  return hashes as readonly Uint8Array[];
}

/**
 * MTH over leafHashes[start:end] (defaults: the whole array). Computed level by
 * level in one flat buffer with a reused 65-byte scratch input, so 100k leaves
 * cost 100k one-shot SHA-256 calls and no per-node allocation. Pairing adjacent
 * nodes left to right and promoting an odd last node unchanged gives the same
 * tree as the recursive largest-power-of-two split.
 */
export function merkleRoot(leafHashes: readonly Uint8Array[], start = 0, end?: number): Uint8Array {
  aleafHashes('leafHashes', leafHashes);
  const to = end === undefined ? leafHashes.length : auint('end', end);
  auint('start', start);
  if (start > to || to > leafHashes.length) {
    throw new CoreInputError(`range [${start}, ${to}) is outside 0..${leafHashes.length}`);
  }
  let n = to - start;
  if (n === 0) return EMPTY_ROOT.slice();
  const level = new Uint8Array(n * HASH_BYTES);
  for (let i = 0; i < n; i++) level.set(leafHashes[start + i]!, i * HASH_BYTES);
  const scratch = new Uint8Array(1 + 2 * HASH_BYTES);
  scratch[0] = Tag.MerkleNode;
  while (n > 1) {
    const pairs = Math.floor(n / 2);
    for (let i = 0; i < pairs; i++) {
      scratch.set(level.subarray(2 * i * HASH_BYTES, (2 * i + 2) * HASH_BYTES), 1);
      level.set(sha256Raw(scratch), i * HASH_BYTES);
    }
    if (n % 2 === 1) level.copyWithin(pairs * HASH_BYTES, (n - 1) * HASH_BYTES, n * HASH_BYTES);
    n = pairs + (n % 2);
  }
  return level.slice(0, HASH_BYTES);
}
