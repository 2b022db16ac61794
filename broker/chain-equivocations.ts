/** Equivocation evidence: two validly signed headers for one (gateway, seq), both kept. */
import type { Queryable } from '../ops/sqlite.js';
import { u8 } from './chain-rows.js';
import type { Equivocation, StoredBlock } from './chain-types.js';

export async function recordEquivocation(
  db: Queryable,
  gateway: string,
  seq: number,
  registered: StoredBlock,
  conflictingHeader: Uint8Array,
  at: number,
): Promise<void> {
  await db.run(
    `INSERT INTO equivocations (gateway, seq, registered_height, registered_header, conflicting_header, detected_at)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [gateway, seq, registered.height, registered.signedHeader, conflictingHeader, at],
  );
}

export async function allEquivocations(db: Queryable): Promise<Equivocation[]> {
  const rows = await db.all<{
    gateway: string;
    seq: number;
    registered_height: number;
    registered_header: Buffer;
    conflicting_header: Buffer;
  }>('SELECT * FROM equivocations ORDER BY id');
  return rows.map((r) => ({
    gateway: r.gateway,
    seq: r.seq,
    height: r.registered_height,
    registered: u8(r.registered_header),
    conflicting: u8(r.conflicting_header),
  }));
}
