/**
 * Registering blocks as entries size+1..: the entries (H chained, log_root), their
 * blocks, the Merkle nodes they complete and the per-gateway state, all in ONE
 * transaction. prepareAppend() computes everything first from a draft of the Merkle
 * log, so a failed insert changes nothing on disk or in memory.
 */
import { type Entry, encodeEntry, entryHash } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import type { MerkleBuilder } from '../core/merkle-builder.js';
import type { MerkleNode } from '../core/merkle-nodes.js';
import type { SqliteDb } from '../ops/sqlite.js';
import { upsertGateways } from './chain-gateways.js';
import type { GatewayState, Registration, StoredEntry } from './chain-types.js';
import { insertNodes } from './merkle-log.js';

export interface PreparedAppend {
  readonly entries: StoredEntry[];
  readonly nodes: MerkleNode[];
  readonly gateways: Map<string, GatewayState>;
  /** The Merkle log after these entries, adopted once they are committed. */
  readonly log: MerkleBuilder;
}

export function prepareAppend(
  regs: readonly Registration[],
  registeredAt: number,
  head: Uint8Array,
  draft: MerkleBuilder,
): PreparedAppend {
  const entries: StoredEntry[] = [];
  const nodes: MerkleNode[] = [];
  const gateways = new Map<string, GatewayState>();
  let prev = head;
  for (const r of regs) {
    const height = draft.size + 1;
    const entry: Entry = { height, prev, internal: r.internal, submitter: r.gateway, registeredAt };
    const entryBytes = encodeEntry(entry);
    const hash = entryHash(entryBytes);
    nodes.push(...draft.appendNodes(leafHash(hash)));
    entries.push({ height, entry, entryBytes, entryHash: hash, logRoot: draft.root() });
    gateways.set(r.gateway, { lastSeq: r.seq, lastHash: r.internal, lastHeight: height });
    prev = hash;
  }
  return { entries, nodes, gateways, log: draft };
}

/** Writes a prepared append in one transaction; throws (and writes nothing) if any insert fails. */
export async function writeAppend(
  db: SqliteDb,
  regs: readonly Registration[],
  p: PreparedAppend,
  registeredAt: number,
): Promise<void> {
  await db.transaction(async (tx) => {
    for (let i = 0; i < regs.length; i++) {
      const r = regs[i]!;
      const e = p.entries[i]!;
      await tx.run(
        'INSERT INTO entries (height, entry, entry_hash, internal, submitter, registered_at, log_root) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [e.height, e.entryBytes, e.entryHash, r.internal, r.gateway, registeredAt, e.logRoot],
      );
      await tx.run(
        'INSERT INTO blocks (height, gateway, seq, kid, signed_header, body_hash, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [e.height, r.gateway, r.seq, r.kid, r.signedHeader, r.bodyHash, r.body],
      );
    }
    await insertNodes(tx, p.nodes);
    await upsertGateways(tx, p.gateways);
  });
}
