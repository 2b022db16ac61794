/** Row shapes of the chain database and their mapping to chain-store types. */
import type { StoredBlock, StoredEntry } from './chain-types.js';
import { BrokerCode, BrokerError } from './errors.js';

const ZERO: Uint8Array = new Uint8Array(32);

export interface EntryRow {
  height: number;
  entry: Buffer;
  entry_hash: Buffer;
  internal: Buffer;
  submitter: string;
  registered_at: number;
  log_root: Buffer;
}

/** An entry row joined with H(n-1) (NULL at height 1). */
export interface EntryWithPrevRow extends EntryRow {
  prev_hash: Buffer | null;
}

export interface BlockRow {
  height: number;
  gateway: string;
  seq: number;
  kid: Buffer;
  signed_header: Buffer;
  body_hash: Buffer;
  body: Buffer;
  erased_at: number | null;
  reason: string | null;
}

export const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export function toStoredEntry(r: EntryWithPrevRow): StoredEntry {
  const entryBytes = u8(r.entry);
  return {
    height: r.height,
    entryBytes,
    entryHash: u8(r.entry_hash),
    logRoot: u8(r.log_root),
    entry: {
      height: r.height,
      prev: r.prev_hash ? u8(r.prev_hash) : ZERO,
      internal: u8(r.internal),
      submitter: r.submitter,
      registeredAt: r.registered_at,
    },
  };
}

export function toStoredBlock(r: BlockRow): StoredBlock {
  return {
    height: r.height,
    gateway: r.gateway,
    seq: r.seq,
    kid: u8(r.kid),
    signedHeader: u8(r.signed_header),
    bodyHash: u8(r.body_hash),
    body: u8(r.body),
    erased: r.erased_at === null ? undefined : { at: r.erased_at, reason: r.reason ?? '' },
  };
}

export function corrupt(height: number, why: string): BrokerError {
  return new BrokerError(BrokerCode.Corrupt, `chain database: height ${height}: ${why}`, {
    height,
  });
}
