/**
 * What the gateway's database says about a benchmark phase: each reading of the phase's
 * devices with the time its block's receipt was stored. Read on a connection of its own
 * while the gateway runs (WAL readers do not block its writer), in chunks by row id.
 */
import { SqliteDb } from '../ops/sqlite.js';
import type { ReceiptRow } from './latency.js';

const CHUNK = 20_000;

/** Readings of devices whose id starts with `prefix`, with their receipt time or null. */
export async function readReceipts(dbPath: string, prefix: string): Promise<ReceiptRow[]> {
  const db = await SqliteDb.open(dbPath);
  try {
    const rows: ReceiptRow[] = [];
    let after = 0;
    for (;;) {
      const chunk = await db.all<{ id: number; d: string; s: number; t: number | null }>(
        `SELECT r.id AS id, r.device_id AS d, r.seq AS s, b.receipt_at AS t
         FROM readings r LEFT JOIN blocks b ON b.seq = r.block_seq
         WHERE r.id > ? AND substr(r.device_id, 1, ?) = ? ORDER BY r.id LIMIT ?`,
        [after, prefix.length, prefix, CHUNK],
      );
      for (const r of chunk) rows.push({ deviceId: r.d, seq: r.s, receiptAt: r.t });
      const last = chunk.at(-1);
      if (last === undefined || chunk.length < CHUNK) return rows;
      after = last.id;
    }
  } finally {
    await db.close();
  }
}

/** Readings whose receipt was stored within [fromMs, toMs). */
export function receiptedBetween(rows: readonly ReceiptRow[], fromMs: number, toMs: number) {
  return rows.filter((r) => r.receiptAt !== null && r.receiptAt >= fromMs && r.receiptAt < toMs)
    .length;
}
