import type { SqliteDb } from '../ops/sqlite.js';

/**
 * The gateway database: device registry, reading spool, sealed blocks with their
 * receipts, and one state row holding the last block's seq and hash. One file, WAL,
 * synchronous=FULL (a PUBACK and a block's sequence number depend on it).
 *
 * Version 2 adds erasure (DESIGN §3.8): the erasures log, which devices each block
 * holds (so a device's blocks are found after its readings were pruned), and a
 * trigger that lets a block's body and salts change only by a logged erasure.
 */
export const SCHEMA_VERSION = 2;

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
CREATE TABLE IF NOT EXISTS block_devices (
  device_id TEXT NOT NULL,
  block_seq INTEGER NOT NULL REFERENCES blocks(seq),
  PRIMARY KEY (device_id, block_seq)
) STRICT, WITHOUT ROWID;
-- One row per erased block body; the block's bytes then hold [1, signedHeader, h''].
CREATE TABLE IF NOT EXISTS erasures (
  seq INTEGER PRIMARY KEY REFERENCES blocks(seq),
  erased_at INTEGER NOT NULL,
  reason TEXT NOT NULL CHECK (length(reason) > 0)
) STRICT;
`;

const TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS blocks_immutable BEFORE UPDATE OF seq, prev, hash ON blocks
BEGIN SELECT RAISE(ABORT, 'a sealed block is never rewritten'); END;
CREATE TRIGGER IF NOT EXISTS blocks_erase_only BEFORE UPDATE OF bytes, salts ON blocks
WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE seq = OLD.seq) OR length(NEW.salts) <> 0
BEGIN SELECT RAISE(ABORT, 'a sealed block body changes only by a logged erasure'); END;
CREATE TRIGGER IF NOT EXISTS blocks_keep BEFORE DELETE ON blocks
BEGIN SELECT RAISE(ABORT, 'a sealed block is never deleted'); END;
CREATE TRIGGER IF NOT EXISTS erasures_keep BEFORE DELETE ON erasures
BEGIN SELECT RAISE(ABORT, 'an erasure is never forgotten'); END;
`;

export async function migrate(db: SqliteDb): Promise<void> {
  await db.exec(SCHEMA);
  await db.transaction(async (tx) => {
    await tx.run(
      'INSERT OR IGNORE INTO state (id, schema_version, last_seq, last_hash) VALUES (1, ?, 0, ?)',
      [SCHEMA_VERSION, new Uint8Array(32)],
    );
    const st = await tx.get<{ v: number }>('SELECT schema_version AS v FROM state WHERE id = 1');
    if (st && st.v < 2) {
      // Version 1's trigger forbade any change of bytes and salts; erasure needs its own.
      await db.exec('DROP TRIGGER IF EXISTS blocks_immutable');
      await tx.run(
        `INSERT OR IGNORE INTO block_devices (device_id, block_seq)
         SELECT DISTINCT device_id, block_seq FROM readings WHERE block_seq IS NOT NULL`,
      );
      await tx.run('UPDATE state SET schema_version = ? WHERE id = 1', [SCHEMA_VERSION]);
    }
    await db.exec(TRIGGERS);
  });
}
