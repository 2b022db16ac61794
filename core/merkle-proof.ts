/**
 * Proof generation from the full list of leaf hashes, as defined in RFC 9162
 * §2.1.3.1 (PATH, inclusion) and §2.1.4.1 (PROOF/SUBPROOF, consistency).
 * Proof elements are ordered from the leaf (or the old tree) up to the root.
 */
import { auint, CoreInputError } from './bytes.js';
import { aleafHashes, merkleRoot, splitPoint } from './merkle.js';

/**
 * PATH(index, D[0:size]) of RFC 9162 §2.1.3.1. `size` defaults to all leaves;
 * a smaller size proves inclusion in that earlier tree.
 * Precondition: 0 <= index < size <= leafHashes.length.
 */
export function inclusionProof(
  leafHashes: readonly Uint8Array[],
  index: number,
  size: number = leafHashes.length,
): Uint8Array[] {
  aleafHashes('leafHashes', leafHashes);
  auint('index', index);
  auint('size', size);
  if (size > leafHashes.length) {
    throw new CoreInputError(`size: ${size} exceeds the ${leafHashes.length} leaves given`);
  }
  if (index >= size) throw new CoreInputError(`index: ${index} is not below size ${size}`);
  const out: Uint8Array[] = [];
  path(leafHashes, index, 0, size, out);
  return out;
}

/** Appends PATH(m, D[lo:hi]) to out: deeper siblings first, as RFC 9162 concatenates. */
function path(
  d: readonly Uint8Array[],
  m: number,
  lo: number,
  hi: number,
  out: Uint8Array[],
): void {
  const n = hi - lo;
  if (n <= 1) return; // PATH(0, {d0}) = {}
  const k = splitPoint(n);
  if (m < k) {
    path(d, m, lo, lo + k, out);
    out.push(merkleRoot(d, lo + k, hi));
  } else {
    path(d, m - k, lo + k, hi, out);
    out.push(merkleRoot(d, lo, lo + k));
  }
}

/**
 * PROOF(size1, D[0:size2]) of RFC 9162 §2.1.4.1: shows the tree of size1 is a
 * prefix of the tree of size2. Empty when size1 = size2 or size1 = 0 (nothing to prove).
 * Precondition: 0 <= size1 <= size2 <= leafHashes.length.
 */
export function consistencyProof(
  leafHashes: readonly Uint8Array[],
  size1: number,
  size2: number = leafHashes.length,
): Uint8Array[] {
  aleafHashes('leafHashes', leafHashes);
  auint('size1', size1);
  auint('size2', size2);
  if (size2 > leafHashes.length) {
    throw new CoreInputError(`size2: ${size2} exceeds the ${leafHashes.length} leaves given`);
  }
  if (size1 > size2) throw new CoreInputError(`size1: ${size1} is larger than size2 ${size2}`);
  const out: Uint8Array[] = [];
  if (size1 > 0) subproof(leafHashes, size1, 0, size2, true, out);
  return out;
}

/** Appends SUBPROOF(m, D[lo:hi], b). `b` says whether D[lo:lo+m] is the old tree itself. */
function subproof(
  d: readonly Uint8Array[],
  m: number,
  lo: number,
  hi: number,
  b: boolean,
  out: Uint8Array[],
): void {
  const n = hi - lo;
  if (m === n) {
    if (!b) out.push(merkleRoot(d, lo, hi));
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    subproof(d, m, lo, lo + k, b, out);
    out.push(merkleRoot(d, lo + k, hi));
  } else {
    subproof(d, m - k, lo + k, hi, false, out);
    out.push(merkleRoot(d, lo, lo + k));
  }
}
