/**
 * The one permitted mutation (DESIGN §3.8): logs the erasure, then empties the body.
 * Header, entry, receipts and the chain are untouched and still verify; verification
 * reports the body as erased. Idempotent for an already erased block.
 */
import type { SqliteDb } from '../ops/sqlite.js';
import { BrokerCode, BrokerError } from './errors.js';

export async function eraseBody(
  db: SqliteDb,
  height: number,
  reason: string,
  at: number,
): Promise<void> {
  if (reason.trim().length === 0) {
    throw new BrokerError(BrokerCode.BadRequest, 'an erasure needs a reason (logged for audit)');
  }
  await db.transaction(async (tx) => {
    const b = await tx.get<{ height: number }>('SELECT height FROM blocks WHERE height = ?', [
      height,
    ]);
    if (!b) throw new BrokerError(BrokerCode.BadRequest, `no block at height ${height}`);
    const done = await tx.get<{ height: number }>('SELECT height FROM erasures WHERE height = ?', [
      height,
    ]);
    if (done) return;
    await tx.run(
      'INSERT INTO erasures (height, erased_at, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      [height, at, reason],
    );
    await tx.run("UPDATE blocks SET body = x'' WHERE height = ?", [height]);
  });
}
