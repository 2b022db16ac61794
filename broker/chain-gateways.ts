/**
 * Per-gateway state (last seq, h and height): derived from `blocks`, kept in its own
 * freely updated table and mirrored in memory for the registrar's sequence checks.
 */
import type { Queryable } from '../ops/sqlite.js';
import { u8 } from './chain-rows.js';
import type { GatewayState } from './chain-types.js';

export async function loadGateways(db: Queryable): Promise<Map<string, GatewayState>> {
  const rows = await db.all<{
    gateway: string;
    last_seq: number;
    last_hash: Buffer;
    last_height: number;
  }>('SELECT * FROM gateways');
  return new Map(
    rows.map((g) => [
      g.gateway,
      { lastSeq: g.last_seq, lastHash: u8(g.last_hash), lastHeight: g.last_height },
    ]),
  );
}

export async function upsertGateways(
  tx: Queryable,
  states: ReadonlyMap<string, GatewayState>,
): Promise<void> {
  for (const [gw, s] of states) {
    await tx.run(
      `INSERT INTO gateways (gateway, last_seq, last_hash, last_height) VALUES (?, ?, ?, ?)
       ON CONFLICT (gateway) DO UPDATE SET last_seq = excluded.last_seq,
         last_hash = excluded.last_hash, last_height = excluded.last_height`,
      [gw, s.lastSeq, s.lastHash, s.lastHeight],
    );
  }
}
