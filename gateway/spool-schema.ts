import type { SqliteDb } from '../ops/sqlite.js';

/**
 * The gateway database: device registry, reading spool, sealed blocks with their
 * receipts, and one state row holding the last block's seq and hash. One file, WAL,
 * synchronous=FULL (a PUBACK and a block's sequence number depend on it).
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  params TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS readings (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  block_seq INTEGER REFERENCES blocks(seq),
  UNIQUE (device_id, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS readings_unsealed ON readings(id) WHERE block_seq IS NULL;
CREATE INDEX IF NOT EXISTS readings_block ON readings(block_seq);
CREATE TABLE IF NOT EXISTS device_seq (
  device_id TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS blocks (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  prev BLOB NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  bytes BLOB NOT NULL,
  count INTEGER NOT NULL,
  sealed_at INTEGER NOT NULL,
  -- 16-byte salts of the block's readings in leaf order (readings by id): with the
  -- readings they rebuild every Merkle leaf, for reading proofs (medchain prove).
  salts BLOB NOT NULL,
  receipt BLOB,
  receipt_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS blocks_unreceipted ON blocks(seq) WHERE receipt IS NULL;
CREATE TABLE IF NOT EXISTS state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  last_hash BLOB NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS blocks_immutable BEFORE UPDATE OF seq, prev, hash, bytes, salts ON blocks
BEGIN SELECT RAISE(ABORT, 'a sealed block is never rewritten'); END;
CREATE TRIGGER IF NOT EXISTS blocks_keep BEFORE DELETE ON blocks
BEGIN SELECT RAISE(ABORT, 'a sealed block is never deleted'); END;
`;

export async function migrate(db: SqliteDb): Promise<void> {
  await db.exec(SCHEMA);
  await db.run(
    'INSERT OR IGNORE INTO state (id, schema_version, last_seq, last_hash) VALUES (1, ?, 0, ?)',
    [SCHEMA_VERSION, new Uint8Array(32)],
  );
}
