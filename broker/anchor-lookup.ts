/**
 * The regional anchor covering one entry, for reading proofs (core/proof-anchor.ts):
 * the first anchor with an upstream receipt whose checkpoint size reaches the entry,
 * and the entry's RFC 9162 inclusion proof in the tree of that size.
 */
import type { ChainStore } from './chain-store.js';

export interface CoveringAnchor {
  readonly height: number;
  readonly upstreamSeq: number;
  /** The anchored checkpoint's size (>= height). */
  readonly size: number;
  /** The anchor block [1, signedHeader, body = the signed checkpoint]. */
  readonly block: Uint8Array;
  /** The upstream notary's receipt for the block. */
  readonly receipt: Uint8Array;
  /** Inclusion path of entry `height` in the tree of `size`. */
  readonly proof: readonly Uint8Array[];
}

export async function anchorCovering(
  store: ChainStore,
  height: number,
): Promise<CoveringAnchor | undefined> {
  const r = await store.db.get<{
    upstream_seq: number;
    size: number;
    block: Buffer;
    receipt: Buffer;
  }>(
    `SELECT upstream_seq, size, block, receipt FROM anchors
     WHERE receipt IS NOT NULL AND size >= ? ORDER BY size, upstream_seq LIMIT 1`,
    [height],
  );
  if (!r) return undefined;
  return {
    height,
    upstreamSeq: r.upstream_seq,
    size: r.size,
    block: new Uint8Array(r.block),
    receipt: new Uint8Array(r.receipt),
    proof: store.inclusionProof(height, r.size),
  };
}
