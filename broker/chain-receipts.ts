/** The notary's signed receipts, one per height; the first stored one is final. */
import type { Queryable, SqliteDb } from '../ops/sqlite.js';
import { u8 } from './chain-rows.js';

export async function receiptAt(db: Queryable, height: number): Promise<Uint8Array | undefined> {
  const r = await db.get<{ receipt: Buffer }>('SELECT receipt FROM receipts WHERE height = ?', [
    height,
  ]);
  return r ? u8(r.receipt) : undefined;
}

/**
 * Stores receipts (one transaction). A height that already has one keeps it: the
 * stored receipt is returned for every height, so every answer names the same bytes.
 */
export function putReceipts(
  db: SqliteDb,
  items: readonly { height: number; receipt: Uint8Array }[],
  at: number,
): Promise<Uint8Array[]> {
  return db.transaction(async (tx) => {
    const out: Uint8Array[] = [];
    for (const it of items) {
      await tx.run(
        'INSERT INTO receipts (height, receipt, signed_at) VALUES (?, ?, ?) ON CONFLICT (height) DO NOTHING',
        [it.height, it.receipt, at],
      );
      out.push((await receiptAt(tx, it.height))!);
    }
    return out;
  });
}

/** Heights that have no receipt yet (after a crash between commit and sign). */
export async function unreceipted(db: Queryable): Promise<number[]> {
  const rows = await db.all<{ height: number }>(
    'SELECT e.height FROM entries e LEFT JOIN receipts r USING (height) WHERE r.height IS NULL ORDER BY e.height',
  );
  return rows.map((r) => r.height);
}
