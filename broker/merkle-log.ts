/**
 * The notary's Merkle log over H(1..n), stored as complete subtree nodes
 * (core/merkle-nodes.ts) in the append-only table `merkle_nodes`. Appending leaf n
 * writes node (0, n-1) and every node it completes, in the same transaction as entry
 * n (chain-append.ts). Memory holds only the running MerkleBuilder (one hash per set
 * bit of the size); a root or an RFC 9162 proof for any size reads O(log n) nodes in
 * one query.
 */
import { EMPTY_ROOT } from '../core/merkle.js';
import type { MerkleBuilder } from '../core/merkle-builder.js';
import {
  completedAt,
  consistencyPlan,
  evalExpr,
  inclusionPlan,
  type MerkleExpr,
  type MerkleNode,
  type MerkleNodeId,
  nodeKey,
  planNodes,
  rootPlan,
} from '../core/merkle-nodes.js';
import type { Queryable } from '../ops/sqlite.js';
import { corrupt, u8 } from './chain-rows.js';

/** Rows per INSERT statement: 3 parameters each stays far below SQLite's limit. */
const INSERT_ROWS = 300;

/** Writes nodes (inside the caller's transaction); an existing (level, idx) is an error. */
export async function insertNodes(tx: Queryable, nodes: readonly MerkleNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i += INSERT_ROWS) {
    const chunk = nodes.slice(i, i + INSERT_ROWS);
    await tx.run(
      `INSERT INTO merkle_nodes (level, idx, hash) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      chunk.flatMap((n) => [n.level, n.index, n.hash]),
    );
  }
}

/**
 * Reads the given nodes in one query. A node that should exist for a size the log has
 * reached but is absent means the table was edited: named by the height that wrote it.
 */
async function fetchNodes(
  db: Queryable,
  ids: readonly MerkleNodeId[],
): Promise<Map<string, Uint8Array>> {
  const rows = await db.all<{ level: number; idx: number; hash: Buffer }>(
    `SELECT n.level, n.idx, n.hash FROM json_each(?) AS j JOIN merkle_nodes AS n
     ON n.level = json_extract(j.value, '$[0]') AND n.idx = json_extract(j.value, '$[1]')`,
    [JSON.stringify(ids.map((id) => [id.level, id.index]))],
  );
  const out = new Map(rows.map((r) => [nodeKey({ level: r.level, index: r.idx }), u8(r.hash)]));
  for (const id of ids) {
    if (!out.has(nodeKey(id))) {
      throw corrupt(completedAt(id), `merkle node (${id.level}, ${id.index}) is missing`);
    }
  }
  return out;
}

export class MerkleLog {
  readonly #db: Queryable;
  #builder: MerkleBuilder;

  constructor(db: Queryable, builder: MerkleBuilder) {
    this.#db = db;
    this.#builder = builder;
  }

  get size(): number {
    return this.#builder.size;
  }

  /** A copy of the running state, to extend for a transaction not yet committed. */
  draft(): MerkleBuilder {
    return this.#builder.fork();
  }

  /** Adopts a draft once its nodes are committed: the log never runs ahead of the disk. */
  commit(next: MerkleBuilder): void {
    this.#builder = next;
  }

  /** MTH(H(1..size)) of the current size, from memory. */
  root(): Uint8Array {
    return this.#builder.root();
  }

  /** MTH over the first `size` leaves (0 <= size <= this.size). */
  async rootAt(size: number): Promise<Uint8Array> {
    if (size === this.size) return this.root();
    const plan = rootPlan(size);
    if (!plan) return EMPTY_ROOT.slice();
    return (await this.#eval([plan]))[0]!;
  }

  /** PATH(index, D[0:size]), leaf-side first (0 <= index < size <= this.size). */
  inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    return this.#eval(inclusionPlan(index, size));
  }

  /** PROOF(size1, D[0:size2]) (0 <= size1 <= size2 <= this.size). */
  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    return this.#eval(consistencyPlan(size1, size2));
  }

  async #eval(exprs: readonly MerkleExpr[]): Promise<Uint8Array[]> {
    if (exprs.length === 0) return [];
    const nodes = await fetchNodes(this.#db, planNodes(exprs));
    return exprs.map((e) => evalExpr(e, nodes));
  }
}
