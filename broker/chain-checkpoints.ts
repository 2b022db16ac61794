/** Signed checkpoints, append-only, in the order they were made. */
import type { Queryable } from '../ops/sqlite.js';
import { u8 } from './chain-rows.js';
import type { StoredCheckpoint } from './chain-types.js';

export async function putCheckpoint(
  db: Queryable,
  size: number,
  checkpoint: Uint8Array,
  at: number,
): Promise<void> {
  await db.run('INSERT INTO checkpoints (size, checkpoint, created_at) VALUES (?, ?, ?)', [
    size,
    checkpoint,
    at,
  ]);
}

export async function latestCheckpoint(db: Queryable): Promise<StoredCheckpoint | undefined> {
  const r = await db.get<{ size: number; checkpoint: Buffer; created_at: number }>(
    'SELECT size, checkpoint, created_at FROM checkpoints ORDER BY id DESC LIMIT 1',
  );
  return r ? { size: r.size, checkpoint: u8(r.checkpoint), at: r.created_at } : undefined;
}

export async function allCheckpoints(
  db: Queryable,
): Promise<{ size: number; checkpoint: Uint8Array }[]> {
  const rows = await db.all<{ size: number; checkpoint: Buffer }>(
    'SELECT size, checkpoint FROM checkpoints ORDER BY id',
  );
  return rows.map((r) => ({ size: r.size, checkpoint: u8(r.checkpoint) }));
}

/** The `limit` most recent checkpoints, newest first, with when each was made. */
export async function recentCheckpoints(db: Queryable, limit: number): Promise<StoredCheckpoint[]> {
  const rows = await db.all<{ size: number; checkpoint: Buffer; created_at: number }>(
    'SELECT size, checkpoint, created_at FROM checkpoints ORDER BY id DESC LIMIT ?',
    [limit],
  );
  return rows.map((r) => ({ size: r.size, checkpoint: u8(r.checkpoint), at: r.created_at }));
}
