/**
 * Erasure of the gateway's copy of sealed readings (DESIGN §3.8): a block's encrypted
 * body and its salts are dropped and the readings it sealed lose their bytes, in one
 * transaction with a logged reason. The signed header stays, so the block's hash, its
 * receipt and the prev links of the chain still verify. Only receipted blocks: the
 * notary must have had the block first (it keeps its own copy and its own policy).
 *
 * By request (`medchain gateway erase`, one block or everything of one device) or by
 * retention (`spool.bodyRetentionMs` after the receipt).
 */
import { decodeBlock, encodeBlock } from '../core/block.js';
import type { Queryable } from '../ops/sqlite.js';
import { GatewayCode, GatewayError } from './errors.js';
import type { Spool } from './spool.js';

export type EraseTarget = { readonly block: number } | { readonly device: string };

export interface EraseResult {
  /** Blocks whose body was erased by this request, in seq order. */
  readonly blocks: readonly number[];
  /** Spooled readings whose bytes were dropped with them. */
  readonly readings: number;
  /** Target blocks that were already erased (an erasure is idempotent). */
  readonly already: number;
}

const u8 = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const fail = (message: string) => new GatewayError(GatewayCode.Erase, message);

async function eraseOne(tx: Queryable, seq: number, reason: string, at: number): Promise<number> {
  const row = await tx.get<{ bytes: Uint8Array }>('SELECT bytes FROM blocks WHERE seq = ?', [seq]);
  if (!row) throw fail(`no block ${seq}`);
  const d = decodeBlock(u8(row.bytes));
  if (!d.ok) throw fail(`block ${seq} does not decode: ${d.detail}`);
  // The log row first: the trigger lets bytes and salts change only for a logged erasure.
  await tx.run('INSERT INTO erasures (seq, erased_at, reason) VALUES (?, ?, ?)', [seq, at, reason]);
  await tx.run("UPDATE blocks SET bytes = ?, salts = x'' WHERE seq = ?", [
    encodeBlock({ signedHeader: d.value.signedHeader, body: new Uint8Array(0) }),
    seq,
  ]);
  const r = await tx.run("UPDATE readings SET bytes = x'' WHERE block_seq = ?", [seq]);
  return r.changes;
}

/** Carries out one erasure request, all or nothing. */
export async function eraseBlocks(
  spool: Spool,
  target: EraseTarget,
  reason: string,
  at: number,
): Promise<EraseResult> {
  if (reason.trim().length === 0) throw fail('an erasure needs a reason (kept for audit)');
  return spool.db.transaction(async (tx) => {
    let rows: { seq: number; receipted: number; erased: number }[];
    if ('block' in target) {
      rows = await tx.all(
        `SELECT b.seq, b.receipt IS NOT NULL AS receipted, e.seq IS NOT NULL AS erased
         FROM blocks b LEFT JOIN erasures e ON e.seq = b.seq WHERE b.seq = ?`,
        [target.block],
      );
      if (rows.length === 0) throw fail(`no block ${target.block} in this gateway's database`);
    } else {
      const pending = await tx.get<{ n: number }>(
        `SELECT count(*) AS n FROM readings r LEFT JOIN blocks b ON b.seq = r.block_seq
         WHERE r.device_id = ? AND (r.block_seq IS NULL OR b.receipt IS NULL)`,
        [target.device],
      );
      if ((pending?.n ?? 0) > 0) {
        throw fail(
          `${pending?.n} readings of device '${target.device}' have no receipt yet; erase them once their blocks are receipted`,
        );
      }
      rows = await tx.all(
        `SELECT b.seq, b.receipt IS NOT NULL AS receipted, e.seq IS NOT NULL AS erased
         FROM block_devices d JOIN blocks b ON b.seq = d.block_seq
         LEFT JOIN erasures e ON e.seq = b.seq WHERE d.device_id = ? ORDER BY b.seq`,
        [target.device],
      );
    }
    const early = rows.find((r) => r.receipted === 0);
    if (early) {
      throw fail(
        `block ${early.seq} has no receipt yet: the notary must have it before it is erased`,
      );
    }
    const blocks: number[] = [];
    let readings = 0;
    for (const r of rows) {
      if (r.erased === 1) continue;
      readings += await eraseOne(tx, r.seq, reason, at);
      blocks.push(r.seq);
    }
    return { blocks, readings, already: rows.length - blocks.length };
  });
}

/**
 * Retention: erases the bodies of blocks receipted before `receiptBefore`, a page per
 * transaction (a long backlog does not become one huge transaction). Returns how many.
 */
export async function expireBodies(
  spool: Spool,
  receiptBefore: number,
  at: number,
  page = 256,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await spool.db.transaction(async (tx) => {
      const due = await tx.all<{ seq: number }>(
        `SELECT b.seq FROM blocks b LEFT JOIN erasures e ON e.seq = b.seq
         WHERE b.receipt_at IS NOT NULL AND b.receipt_at < ? AND e.seq IS NULL
         ORDER BY b.seq LIMIT ?`,
        [receiptBefore, page],
      );
      for (const d of due) await eraseOne(tx, d.seq, 'retention', at);
      return due.length;
    });
    total += n;
    if (n < page) return total;
  }
}
