/**
 * Anchors of this notary's checkpoints in an upstream notary (broker/upstream.ts): the
 * anchor block is stored before it is sent, its receipt set once when it arrives.
 */
import type { Queryable } from '../ops/sqlite.js';
import { u8 } from './chain-rows.js';
import type { Anchor } from './chain-types.js';

interface AnchorRow {
  upstream_seq: number;
  size: number;
  block: Buffer;
  receipt: Buffer | null;
}

const toAnchor = (r: AnchorRow): Anchor => ({
  upstreamSeq: r.upstream_seq,
  size: r.size,
  block: u8(r.block),
  receipt: r.receipt ? u8(r.receipt) : undefined,
});

export async function allAnchors(db: Queryable): Promise<Anchor[]> {
  const rows = await db.all<AnchorRow>('SELECT * FROM anchors ORDER BY upstream_seq');
  return rows.map(toAnchor);
}

export async function lastAnchor(db: Queryable): Promise<Anchor | undefined> {
  const r = await db.get<AnchorRow>('SELECT * FROM anchors ORDER BY upstream_seq DESC LIMIT 1');
  return r ? toAnchor(r) : undefined;
}

/** The checkpoint size of the last anchor with a receipt (0 if none). */
export async function anchoredSize(db: Queryable): Promise<number> {
  const r = await db.get<{ size: number }>(
    'SELECT size FROM anchors WHERE receipt IS NOT NULL ORDER BY upstream_seq DESC LIMIT 1',
  );
  return r?.size ?? 0;
}

export async function putAnchor(
  db: Queryable,
  upstreamSeq: number,
  size: number,
  block: Uint8Array,
  at: number,
): Promise<void> {
  await db.run(
    'INSERT INTO anchors (upstream_seq, size, block, receipt, created_at) VALUES (?, ?, ?, NULL, ?)',
    [upstreamSeq, size, block, at],
  );
}

/** Stores the receipt of a pending anchor; its checkpoint size, or undefined if none was pending. */
export async function setAnchorReceipt(
  db: Queryable,
  upstreamSeq: number,
  receipt: Uint8Array,
): Promise<number | undefined> {
  const r = await db.run(
    'UPDATE anchors SET receipt = ? WHERE upstream_seq = ? AND receipt IS NULL',
    [receipt, upstreamSeq],
  );
  if (r.changes !== 1) return undefined;
  const row = await db.get<{ size: number }>('SELECT size FROM anchors WHERE upstream_seq = ?', [
    upstreamSeq,
  ]);
  return row?.size ?? 0;
}

/** The first receipted anchor whose checkpoint reaches `height` (smallest size first). */
export async function anchorCovering(db: Queryable, height: number): Promise<Anchor | undefined> {
  const r = await db.get<AnchorRow>(
    `SELECT * FROM anchors WHERE receipt IS NOT NULL AND size >= ?
     ORDER BY size, upstream_seq LIMIT 1`,
    [height],
  );
  return r ? toAnchor(r) : undefined;
}

/** The `limit` most recent anchors, newest first (console). */
export async function recentAnchors(db: Queryable, limit: number): Promise<Anchor[]> {
  const rows = await db.all<AnchorRow>('SELECT * FROM anchors ORDER BY upstream_seq DESC LIMIT ?', [
    limit,
  ]);
  return rows.map(toAnchor);
}
