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
  const r = await store.anchorCovering(height);
  if (r?.receipt === undefined) return undefined;
  return {
    height,
    upstreamSeq: r.upstreamSeq,
    size: r.size,
    block: r.block,
    receipt: r.receipt,
    proof: await store.inclusionProof(height, r.size),
  };
}
