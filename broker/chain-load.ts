/**
 * Verification of the chain database at open, in pages (memory does not grow with the
 * chain): heights contiguous, entry_hash = H(entry), entry bytes = its columns with
 * prev = H(n-1), log_root = MTH(H(1..n)), and every stored Merkle node equal to the
 * one recomputed from the entries. A database edited by hand fails with the first bad
 * height. When upgrading from schema 1, missing nodes are written as they are computed.
 */
import { equalBytes } from '../core/bytes.js';
import { encodeEntry, entryHash } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { completedAt, type MerkleNode } from '../core/merkle-nodes.js';
import type { Queryable, SqliteDb } from '../ops/sqlite.js';
import { markNodesBuilt } from './chain-migrate.js';
import { corrupt, type EntryRow, u8 } from './chain-rows.js';
import { insertNodes } from './merkle-log.js';

const PAGE = 2048;
const ZERO: Uint8Array = new Uint8Array(32);

/** One level of `merkle_nodes` read in index order, a page at a time. */
class LevelCursor {
  #rows: { idx: number; hash: Buffer }[] = [];
  #pos = 0;
  #from = 0;
  #done = false;

  constructor(
    readonly db: Queryable,
    readonly level: number,
  ) {}

  async next(): Promise<{ index: number; hash: Uint8Array } | undefined> {
    if (this.#pos === this.#rows.length) {
      if (this.#done) return undefined;
      this.#rows = await this.db.all<{ idx: number; hash: Buffer }>(
        'SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx >= ? ORDER BY idx LIMIT ?',
        [this.level, this.#from, PAGE],
      );
      this.#pos = 0;
      this.#done = this.#rows.length < PAGE;
      const last = this.#rows.at(-1);
      if (!last) return undefined;
      this.#from = last.idx + 1;
    }
    const r = this.#rows[this.#pos++]!;
    return { index: r.idx, hash: u8(r.hash) };
  }
}

export interface LoadedChain {
  readonly builder: MerkleBuilder;
  /** H(size), zeros for the empty chain. */
  readonly head: Uint8Array;
}

export async function loadChain(db: SqliteDb, buildNodes: boolean): Promise<LoadedChain> {
  const builder = new MerkleBuilder();
  const levels: LevelCursor[] = [];
  const missing: MerkleNode[] = [];
  let prev = ZERO;
  for (;;) {
    const rows = await db.all<EntryRow>(
      'SELECT * FROM entries WHERE height > ? ORDER BY height LIMIT ?',
      [builder.size, PAGE],
    );
    for (const r of rows) {
      const h = r.height;
      if (h !== builder.size + 1) throw corrupt(h, 'heights are not contiguous');
      const bytes = u8(r.entry);
      const hash = entryHash(bytes);
      if (!equalBytes(hash, u8(r.entry_hash))) throw corrupt(h, 'entry_hash is not H(entry)');
      const expect = encodeEntry({
        height: h,
        prev,
        internal: u8(r.internal),
        submitter: r.submitter,
        registeredAt: r.registered_at,
      });
      if (!equalBytes(expect, bytes)) throw corrupt(h, 'entry bytes disagree with its columns');
      for (const node of builder.appendNodes(leafHash(hash))) {
        levels[node.level] ??= new LevelCursor(db, node.level);
        const stored = await levels[node.level]!.next();
        const name = `merkle node (${node.level}, ${node.index})`;
        if (!stored) {
          if (!buildNodes) throw corrupt(h, `${name} is missing`);
          missing.push(node);
        } else if (stored.index !== node.index) {
          throw corrupt(h, `${name} is missing`);
        } else if (!equalBytes(stored.hash, node.hash)) {
          throw corrupt(h, `${name} is not the hash of its children`);
        }
      }
      if (!equalBytes(builder.root(), u8(r.log_root))) {
        throw corrupt(h, 'log_root is not the Merkle root over H(1..n)');
      }
      prev = hash;
    }
    if (missing.length > 0) {
      await db.transaction((tx) => insertNodes(tx, missing));
      missing.length = 0;
    }
    if (rows.length < PAGE) break;
  }
  await refuseNodesBeyond(db, builder.size);
  if (buildNodes) await markNodesBuilt(db);
  return { builder, head: prev };
}

/** A node that only a longer log would have (an entry row deleted at the tail). */
async function refuseNodesBeyond(db: Queryable, size: number): Promise<void> {
  const r = await db.get<{ level: number; idx: number }>(
    'SELECT level, idx FROM merkle_nodes WHERE (idx + 1) * (1 << level) > ? LIMIT 1',
    [size],
  );
  if (r) {
    const at = completedAt({ level: r.level, index: r.idx });
    throw corrupt(at, `merkle node (${r.level}, ${r.idx}) lies beyond the log of ${size} entries`);
  }
}
