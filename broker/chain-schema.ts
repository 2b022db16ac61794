/**
 * The notary's SQLite schema (DESIGN §6). Append-only by trigger: entries, receipts,
 * checkpoints, erasures, equivocation evidence and certificates refuse UPDATE and
 * DELETE. `blocks` refuses DELETE and every UPDATE except the one permitted mutation
 * (DESIGN §3.8): emptying `body` of a block whose erasure was logged first in
 * `erasures`, keeping the signed header (and so h(n), the entry and the chain) intact.
 * `gateways` is the only freely updated table: it is derived state (last seq and h
 * per gateway) that `blocks` can rebuild. `merkle_nodes` is derived from `entries` too,
 * but append-only: it is what proofs are served from, and open() checks it.
 */
export const SCHEMA_VERSION = '2';
/** Schema 1 had no `merkle_nodes`: opening such a database builds the table, then says 2. */
export const SCHEMA_WITHOUT_NODES = '1';

const appendOnly = (table: string) => `
CREATE TRIGGER IF NOT EXISTS ${table}_no_update BEFORE UPDATE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS ${table}_no_delete BEFORE DELETE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: DELETE refused'); END;`;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);

-- Chain entry n (core/entry.ts) as signed; entry_hash = H(n); log_root = MTH(H(1..n)).
CREATE TABLE IF NOT EXISTS entries (
  height        INTEGER PRIMARY KEY CHECK (height >= 1),
  entry         BLOB NOT NULL,
  entry_hash    BLOB NOT NULL CHECK (length(entry_hash) = 32),
  internal      BLOB NOT NULL UNIQUE CHECK (length(internal) = 32),
  submitter     TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  log_root      BLOB NOT NULL CHECK (length(log_root) = 32)
);
${appendOnly('entries')}

-- The Merkle log over H(1..n) as complete subtrees (core/merkle-nodes.ts): node
-- (level, idx) is the RFC 9162 root over leaves [idx * 2^level, (idx + 1) * 2^level);
-- level 0 is leafHash(H(idx + 1)). Written with the entry that completes it.
CREATE TABLE IF NOT EXISTS merkle_nodes (
  level INTEGER NOT NULL CHECK (level >= 0 AND level < 63),
  idx   INTEGER NOT NULL CHECK (idx >= 0),
  hash  BLOB NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
${appendOnly('merkle_nodes')}

-- The internal block registered at each height: signed header as received, body
-- (ciphertext) or x'' once erased. kid names the gateway certificate.
CREATE TABLE IF NOT EXISTS blocks (
  height        INTEGER PRIMARY KEY REFERENCES entries(height),
  gateway       TEXT NOT NULL,
  seq           INTEGER NOT NULL CHECK (seq >= 1),
  kid           BLOB NOT NULL,
  signed_header BLOB NOT NULL,
  body_hash     BLOB NOT NULL CHECK (length(body_hash) = 32),
  body          BLOB NOT NULL,
  UNIQUE (gateway, seq)
);
CREATE TRIGGER IF NOT EXISTS blocks_no_delete BEFORE DELETE ON blocks
BEGIN SELECT RAISE(ABORT, 'blocks: DELETE refused (erase the body instead)'); END;
CREATE TRIGGER IF NOT EXISTS blocks_only_erasure BEFORE UPDATE ON blocks
WHEN NOT (NEW.height = OLD.height AND NEW.gateway = OLD.gateway AND NEW.seq = OLD.seq
  AND NEW.kid = OLD.kid AND NEW.signed_header = OLD.signed_header
  AND NEW.body_hash = OLD.body_hash AND length(NEW.body) = 0
  AND EXISTS (SELECT 1 FROM erasures e WHERE e.height = NEW.height))
BEGIN SELECT RAISE(ABORT, 'blocks: only a logged body erasure may change a block'); END;

-- The erasure log (DESIGN §3.8): who asked, when, why. Written before the body is emptied.
CREATE TABLE IF NOT EXISTS erasures (
  height    INTEGER PRIMARY KEY REFERENCES blocks(height),
  erased_at INTEGER NOT NULL,
  reason    TEXT NOT NULL
);
${appendOnly('erasures')}

CREATE TABLE IF NOT EXISTS gateways (
  gateway     TEXT PRIMARY KEY,
  last_seq    INTEGER NOT NULL,
  last_hash   BLOB NOT NULL,
  last_height INTEGER NOT NULL REFERENCES entries(height)
);

CREATE TABLE IF NOT EXISTS receipts (
  height    INTEGER PRIMARY KEY REFERENCES entries(height),
  receipt   BLOB NOT NULL,
  signed_at INTEGER NOT NULL
);
${appendOnly('receipts')}

CREATE TABLE IF NOT EXISTS checkpoints (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  size       INTEGER NOT NULL,
  checkpoint BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
${appendOnly('checkpoints')}

-- Signing certificates seen in registered blocks (and the notary's own), by kid.
CREATE TABLE IF NOT EXISTS certificates (
  kid      BLOB PRIMARY KEY CHECK (length(kid) = 32),
  der      BLOB NOT NULL,
  added_at INTEGER NOT NULL
);
${appendOnly('certificates')}

-- Two different validly signed headers for one (gateway, seq): both kept.
CREATE TABLE IF NOT EXISTS equivocations (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  gateway            TEXT NOT NULL,
  seq                INTEGER NOT NULL,
  registered_height  INTEGER NOT NULL REFERENCES entries(height),
  registered_header  BLOB NOT NULL,
  conflicting_header BLOB NOT NULL,
  detected_at        INTEGER NOT NULL,
  UNIQUE (gateway, seq, conflicting_header)
);
${appendOnly('equivocations')}

-- Anchors of this notary's checkpoints in an upstream (regional) notary.
CREATE TABLE IF NOT EXISTS anchors (
  upstream_seq INTEGER PRIMARY KEY,
  size         INTEGER NOT NULL,
  block        BLOB NOT NULL,
  receipt      BLOB,
  created_at   INTEGER NOT NULL
);
`;
