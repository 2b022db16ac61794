/**
 * Incremental RFC 9162 tree, for a log that grows one leaf at a time (the
 * notary appends entry n after entry n-1). It keeps one hash per set bit of the
 * size, the roots of the perfect subtrees that tile [0, size) from the left (a
 * "compact range" in transparency-dev/merkle terms): O(log n) memory, O(1)
 * amortised hashing per append, O(log n) to compute the root.
 */
import { abytes, auint, CoreInputError } from './bytes.js';
import { HASH_BYTES } from './hash.js';
import { EMPTY_ROOT, nodeHash } from './merkle.js';
import type { MerkleNode } from './merkle-nodes.js';

/** Persistable state of a MerkleBuilder: `hashes` are the perfect-subtree roots, largest first. */
export interface MerkleBuilderState {
  readonly size: number;
  readonly hashes: readonly Uint8Array[];
}

export class MerkleBuilder {
  #size = 0;
  /** Roots of perfect subtrees, largest (leftmost) first; one per set bit of #size. */
  readonly #stack: Uint8Array[] = [];

  /** Restores a builder from saved state; refuses a state whose hash count does not match its size. */
  static fromState(state: MerkleBuilderState): MerkleBuilder {
    const size = auint('state.size', state.size);
    if (!Array.isArray(state.hashes) || state.hashes.length !== popcount(size)) {
      throw new CoreInputError(
        `state.hashes: a tree of size ${size} has ${popcount(size)} subtree roots, got ${String(state.hashes?.length)}`,
      );
    }
    const b = new MerkleBuilder();
    state.hashes.forEach((h, i) => {
      b.#stack.push(abytes(`state.hashes[${i}]`, h, HASH_BYTES).slice());
    });
    b.#size = size;
    return b;
  }

  /** An independent copy, to extend without touching this one. */
  fork(): MerkleBuilder {
    const b = new MerkleBuilder();
    for (const h of this.#stack) b.#stack.push(h);
    b.#size = this.#size;
    return b;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends one RFC 9162 leaf hash (see leafHash) and returns the new size. */
  append(leafHash: Uint8Array): number {
    this.appendNodes(leafHash);
    return this.#size;
  }

  /**
   * Appends one leaf hash and returns the perfect-subtree nodes it completes (see
   * merkle-nodes.ts), the leaf itself first: what a log stores to prove from nodes.
   */
  appendNodes(leafHash: Uint8Array): MerkleNode[] {
    let h: Uint8Array = abytes('leafHash', leafHash, HASH_BYTES).slice();
    let index = this.#size;
    const out: MerkleNode[] = [{ level: 0, index, hash: h }];
    // Each trailing 1 bit of the old size is a perfect subtree the new leaf completes.
    for (let s = this.#size, level = 1; s % 2 === 1; s = Math.floor(s / 2), level++) {
      h = nodeHash(this.#stack.pop()!, h);
      index = Math.floor(index / 2);
      out.push({ level, index, hash: h });
    }
    this.#stack.push(h);
    this.#size += 1;
    return out;
  }

  /** MTH of the leaves appended so far: the subtree roots folded right to left (§2.1.1 split). */
  root(): Uint8Array {
    const last = this.#stack.length - 1;
    if (last < 0) return EMPTY_ROOT.slice();
    let r = this.#stack[last]!;
    for (let i = last - 1; i >= 0; i--) r = nodeHash(this.#stack[i]!, r);
    return r.slice();
  }

  state(): MerkleBuilderState {
    return { size: this.#size, hashes: this.#stack.map((h) => h.slice()) };
  }
}

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) c += v % 2;
  return c;
}
