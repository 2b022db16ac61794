/** Reads of registered entries and their blocks (written by chain-append.ts). */
import type { Queryable } from '../ops/sqlite.js';
import {
  type BlockRow,
  type EntryWithPrevRow,
  toStoredBlock,
  toStoredEntry,
  u8,
} from './chain-rows.js';
import type { StoredBlock, StoredEntry } from './chain-types.js';

// prev (H(n-1)) comes from the previous row, which open() checked is what entry n signs.
const ENTRY = `SELECT e.*, p.entry_hash AS prev_hash FROM entries e
  LEFT JOIN entries p ON p.height = e.height - 1`;
const BLOCK = `SELECT b.*, x.erased_at, x.reason FROM blocks b
  LEFT JOIN erasures x USING (height)`;

export async function entryAt(db: Queryable, height: number): Promise<StoredEntry | undefined> {
  const r = await db.get<EntryWithPrevRow>(`${ENTRY} WHERE e.height = ?`, [height]);
  return r ? toStoredEntry(r) : undefined;
}

export async function entryByInternal(
  db: Queryable,
  internal: Uint8Array,
): Promise<StoredEntry | undefined> {
  const r = await db.get<EntryWithPrevRow>(`${ENTRY} WHERE e.internal = ?`, [internal]);
  return r ? toStoredEntry(r) : undefined;
}

export async function entryRange(db: Queryable, from: number, to: number): Promise<StoredEntry[]> {
  const rows = await db.all<EntryWithPrevRow>(
    `${ENTRY} WHERE e.height BETWEEN ? AND ? ORDER BY e.height`,
    [from, to],
  );
  return rows.map(toStoredEntry);
}

/** H(height) and MTH(H(1..height)) as stored with entry `height`. */
export async function entryHashes(
  db: Queryable,
  height: number,
): Promise<{ entryHash: Uint8Array; logRoot: Uint8Array } | undefined> {
  const r = await db.get<{ entry_hash: Buffer; log_root: Buffer }>(
    'SELECT entry_hash, log_root FROM entries WHERE height = ?',
    [height],
  );
  return r ? { entryHash: u8(r.entry_hash), logRoot: u8(r.log_root) } : undefined;
}

export async function blockAt(db: Queryable, height: number): Promise<StoredBlock | undefined> {
  const r = await db.get<BlockRow>(`${BLOCK} WHERE b.height = ?`, [height]);
  return r ? toStoredBlock(r) : undefined;
}

export async function blockBySeq(
  db: Queryable,
  gateway: string,
  seq: number,
): Promise<StoredBlock | undefined> {
  const r = await db.get<BlockRow>(`${BLOCK} WHERE b.gateway = ? AND b.seq = ?`, [gateway, seq]);
  return r ? toStoredBlock(r) : undefined;
}

/** A gateway's blocks from its sequence number `fromSeq` on, in seq order (console). */
export async function gatewayBlocks(
  db: Queryable,
  gateway: string,
  fromSeq: number,
  limit: number,
): Promise<{ height: number; seq: number; registeredAt: number }[]> {
  const rows = await db.all<{ height: number; seq: number; registered_at: number }>(
    `SELECT b.height, b.seq, e.registered_at FROM blocks b JOIN entries e USING (height)
     WHERE b.gateway = ? AND b.seq >= ? ORDER BY b.seq LIMIT ?`,
    [gateway, fromSeq, limit],
  );
  return rows.map((r) => ({ height: r.height, seq: r.seq, registeredAt: r.registered_at }));
}

/** The first height registered at or after `at` (ms), if any (console: browse by time). */
export async function firstHeightAt(db: Queryable, at: number): Promise<number | undefined> {
  const r = await db.get<{ h: number | null }>(
    'SELECT min(height) AS h FROM entries WHERE registered_at >= ?',
    [at],
  );
  return r?.h ?? undefined;
}
