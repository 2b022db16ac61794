/**
 * RFC 9162 trees addressed by stored nodes. Node (level, index) is the root of the
 * perfect subtree over leaves [index·2^level, (index+1)·2^level); level 0 holds the
 * leaf hashes. A log that stores every such node once it is complete can compute any
 * root MTH(D[0:size]) and any PATH / PROOF of §2.1.3.1 and §2.1.4.1 from O(log n)
 * nodes: the functions here turn a request into the node ids it needs (a plan) and
 * fold fetched nodes into hashes, with no I/O of their own.
 *
 * Sizes and indices are JS numbers (exact to 2^53), so powers of two are computed
 * with multiplication and Math.floor, never with 32-bit shifts.
 */
import { auint, CoreInputError } from './bytes.js';
import { nodeHash, splitPoint } from './merkle.js';

export interface MerkleNodeId {
  readonly level: number;
  readonly index: number;
}

export interface MerkleNode extends MerkleNodeId {
  readonly hash: Uint8Array;
}

/** A hash to compute: one stored node, or the RFC 9162 interior node over two others. */
export type MerkleExpr =
  | { readonly node: MerkleNodeId }
  | { readonly left: MerkleExpr; readonly right: MerkleExpr };

/** Height (1-based leaf count) whose append completes node (level, index). */
export function completedAt(id: MerkleNodeId): number {
  return (id.index + 1) * 2 ** id.level;
}

/** MTH(D[lo:hi]) as an expression over stored nodes, following §2.1.1's split (hi > lo). */
export function rangeExpr(lo: number, hi: number): MerkleExpr {
  const n = hi - lo;
  if (!Number.isSafeInteger(lo) || lo < 0 || !Number.isSafeInteger(n) || n < 1) {
    throw new CoreInputError(`range [${lo}, ${hi}) is not a non-empty range of leaves`);
  }
  if (n === 1) return { node: { level: 0, index: lo } };
  if (isPowerOfTwo(n) && lo % n === 0) return { node: { level: log2(n), index: lo / n } };
  const k = splitPoint(n);
  return { left: rangeExpr(lo, lo + k), right: rangeExpr(lo + k, hi) };
}

function isPowerOfTwo(n: number): boolean {
  let v = n;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}

function log2(n: number): number {
  let l = 0;
  for (let v = n; v > 1; v /= 2) l++;
  return l;
}

/** MTH(D[0:size]); undefined for the empty tree (its root is merkle.ts EMPTY_ROOT, no node). */
export function rootPlan(size: number): MerkleExpr | undefined {
  auint('size', size);
  return size === 0 ? undefined : rangeExpr(0, size);
}

/** PATH(index, D[0:size]) of §2.1.3.1 as expressions, leaf-side first. */
export function inclusionPlan(index: number, size: number): MerkleExpr[] {
  auint('index', index);
  auint('size', size);
  if (index >= size) throw new CoreInputError(`index: ${index} is not below size ${size}`);
  const out: MerkleExpr[] = [];
  const path = (m: number, lo: number, hi: number): void => {
    const n = hi - lo;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, lo, lo + k);
      out.push(rangeExpr(lo + k, hi));
    } else {
      path(m - k, lo + k, hi);
      out.push(rangeExpr(lo, lo + k));
    }
  };
  path(index, 0, size);
  return out;
}

/** PROOF(size1, D[0:size2]) of §2.1.4.1 as expressions; empty when size1 is 0 or size2. */
export function consistencyPlan(size1: number, size2: number): MerkleExpr[] {
  auint('size1', size1);
  auint('size2', size2);
  if (size1 > size2) throw new CoreInputError(`size1: ${size1} is larger than size2 ${size2}`);
  const out: MerkleExpr[] = [];
  const sub = (m: number, lo: number, hi: number, b: boolean): void => {
    const n = hi - lo;
    if (m === n) {
      if (!b) out.push(rangeExpr(lo, hi));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, lo, lo + k, b);
      out.push(rangeExpr(lo + k, hi));
    } else {
      sub(m - k, lo + k, hi, false);
      out.push(rangeExpr(lo, lo + k));
    }
  };
  if (size1 > 0) sub(size1, 0, size2, true);
  return out;
}

/** The distinct stored nodes the expressions read. */
export function planNodes(exprs: readonly MerkleExpr[]): MerkleNodeId[] {
  const seen = new Map<string, MerkleNodeId>();
  const walk = (e: MerkleExpr): void => {
    if ('node' in e) seen.set(nodeKey(e.node), e.node);
    else {
      walk(e.left);
      walk(e.right);
    }
  };
  for (const e of exprs) walk(e);
  return [...seen.values()];
}

export const nodeKey = (id: MerkleNodeId): string => `${id.level}/${id.index}`;

/** Folds an expression over fetched nodes; a node missing from `nodes` is an error. */
export function evalExpr(expr: MerkleExpr, nodes: ReadonlyMap<string, Uint8Array>): Uint8Array {
  if ('node' in expr) {
    const h = nodes.get(nodeKey(expr.node));
    if (!h) {
      throw new CoreInputError(`merkle node ${nodeKey(expr.node)} was not supplied`);
    }
    return h;
  }
  return nodeHash(evalExpr(expr.left, nodes), evalExpr(expr.right, nodes));
}
