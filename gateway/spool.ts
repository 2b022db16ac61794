/**
 * The gateway's store: one narrow interface shaped by SQLite (STYLE §5). Every write
 * that a PUBACK, a block sequence number or a receipt depends on is one transaction.
 * The life of a reading, transaction by transaction, is in docs/GATEWAY.md.
 */
import { equalBytes } from '../core/bytes.js';
import { type Queryable, SqliteDb } from '../ops/sqlite.js';
import { GatewayCode, GatewayError } from './errors.js';
import { migrate } from './spool-schema.js';

export interface SpoolReading {
  readonly deviceId: string;
  readonly seq: number;
  readonly receivedAt: number;
  /** Canonical reading bytes (DecodedReading.canonical). */
  readonly bytes: Uint8Array;
}

export type InsertOutcome = 'stored' | 'duplicate' | 'conflict';

export interface InsertResult {
  /** duplicate: same (device, seq) and bytes already spooled; conflict: same key, other bytes. */
  readonly outcome: InsertOutcome;
  /** Sequence numbers skipped by this device just before this reading (0: none). */
  readonly gap: number;
  /** Stored with a seq below the device's highest: it fills a hole counted earlier as a gap. */
  readonly late: boolean;
}

export interface PendingReading extends SpoolReading {
  readonly id: number;
}

export interface StoredBlock {
  readonly seq: number;
  readonly prev: Uint8Array;
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly sealedAt: number;
  readonly receipt: Uint8Array | null;
  /** The body and salts were erased (bytes hold the signed header and an empty body). */
  readonly erased: boolean;
}

export interface NewBlock {
  readonly seq: number;
  readonly prev: Uint8Array;
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly sealedAt: number;
  /** The readings sealed: the first `count` unsealed readings, ending at id `lastReadingId`. */
  readonly count: number;
  readonly lastReadingId: number;
  /** The readings' salts in leaf order (= reading id order), 16 bytes each, concatenated. */
  readonly salts: Uint8Array;
}

export interface Head {
  readonly seq: number;
  readonly hash: Uint8Array;
}

export interface Backlog {
  /** Readings spooled whose block has no receipt yet (sealed or not). */
  readonly readings: number;
  readonly bytes: number;
}

export interface DeviceActivity {
  readonly id: string;
  /** Registration time; undefined for a device known only through an external broker. */
  readonly registeredAt: number | undefined;
  readonly lastSeq: number | undefined;
  readonly lastReceivedAt: number | undefined;
  readonly lastBlock: number | undefined;
}

const u8 = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export class Spool {
  readonly db: SqliteDb;
  #backlog: { readings: number; bytes: number };

  private constructor(db: SqliteDb, backlog: Backlog) {
    this.db = db;
    this.#backlog = { ...backlog };
  }

  static async open(path: string): Promise<Spool> {
    const db = await SqliteDb.open(path, { synchronous: 'FULL' });
    try {
      await migrate(db);
      const row = await db.get<{ n: number; b: number | null }>(
        `SELECT count(*) AS n, sum(length(r.bytes)) AS b FROM readings r
         LEFT JOIN blocks k ON k.seq = r.block_seq WHERE k.receipt IS NULL`,
      );
      return new Spool(db, { readings: row?.n ?? 0, bytes: row?.b ?? 0 });
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  backlog(): Backlog {
    return { ...this.#backlog };
  }

  /** Stores readings in ONE transaction; resolves after COMMIT (group commit). */
  async insertBatch(readings: readonly SpoolReading[]): Promise<InsertResult[]> {
    let added = 0;
    let addedBytes = 0;
    const results = await this.db.transaction((tx) => insertAll(tx, readings));
    readings.forEach((r, i) => {
      if (results[i]?.outcome === 'stored') {
        added++;
        addedBytes += r.bytes.length;
      }
    });
    this.#backlog.readings += added;
    this.#backlog.bytes += addedBytes;
    return results;
  }

  /** The oldest unsealed readings, in arrival order, at most `limit` and about `maxBytes`. */
  async unsealed(limit: number, maxBytes: number): Promise<PendingReading[]> {
    const rows = await this.db.all<{
      id: number;
      device_id: string;
      seq: number;
      received_at: number;
      bytes: Uint8Array;
    }>(
      'SELECT id, device_id, seq, received_at, bytes FROM readings WHERE block_seq IS NULL ORDER BY id LIMIT ?',
      [limit],
    );
    const out: PendingReading[] = [];
    let size = 0;
    for (const r of rows) {
      if (out.length > 0 && size + r.bytes.length > maxBytes) break;
      size += r.bytes.length;
      out.push({
        id: r.id,
        deviceId: r.device_id,
        seq: r.seq,
        receivedAt: r.received_at,
        bytes: u8(r.bytes),
      });
    }
    return out;
  }

  async unsealedCount(): Promise<{ readings: number; bytes: number }> {
    const row = await this.db.get<{ n: number; b: number | null }>(
      'SELECT count(*) AS n, sum(length(bytes)) AS b FROM readings WHERE block_seq IS NULL',
    );
    return { readings: row?.n ?? 0, bytes: row?.b ?? 0 };
  }

  /** When the oldest reading still waiting for a block was received; undefined: none. */
  async oldestUnsealedAt(): Promise<number | undefined> {
    const row = await this.db.get<{ t: number | null }>(
      'SELECT min(received_at) AS t FROM readings WHERE block_seq IS NULL',
    );
    return row?.t ?? undefined;
  }

  async head(): Promise<Head> {
    const row = await this.db.get<{ last_seq: number; last_hash: Uint8Array }>(
      'SELECT last_seq, last_hash FROM state WHERE id = 1',
    );
    if (!row) throw new GatewayError(GatewayCode.HeadMoved, 'state row missing');
    return { seq: row.last_seq, hash: u8(row.last_hash) };
  }

  /**
   * Stores a sealed block, marks its readings sealed and moves the head, in one
   * transaction. Refuses (HEAD_MOVED) unless seq = head + 1 and prev = head hash, so
   * two blocks never share a sequence number, also across restarts.
   */
  async storeBlock(b: NewBlock): Promise<void> {
    await this.db.transaction(async (tx) => {
      const st = await tx.get<{ last_seq: number; last_hash: Uint8Array }>(
        'SELECT last_seq, last_hash FROM state WHERE id = 1',
      );
      if (!st || st.last_seq !== b.seq - 1 || !equalBytes(u8(st.last_hash), b.prev)) {
        throw new GatewayError(
          GatewayCode.HeadMoved,
          `block ${b.seq} does not follow the stored head (seq ${st?.last_seq})`,
        );
      }
      await tx.run(
        'INSERT INTO blocks (seq, prev, hash, bytes, count, sealed_at, salts) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [b.seq, b.prev, b.hash, b.bytes, b.count, b.sealedAt, b.salts],
      );
      const marked = await tx.run(
        'UPDATE readings SET block_seq = ? WHERE block_seq IS NULL AND id <= ?',
        [b.seq, b.lastReadingId],
      );
      if (marked.changes !== b.count) {
        throw new GatewayError(
          GatewayCode.HeadMoved,
          `block ${b.seq}: ${marked.changes} unsealed readings up to id ${b.lastReadingId}, expected ${b.count}`,
        );
      }
      // Which devices a block holds outlives the readings (pruned): erasure by device.
      await tx.run(
        'INSERT INTO block_devices (device_id, block_seq) SELECT DISTINCT device_id, ? FROM readings WHERE block_seq = ?',
        [b.seq, b.seq],
      );
      await tx.run('UPDATE state SET last_seq = ?, last_hash = ? WHERE id = 1', [b.seq, b.hash]);
    });
  }

  /** Blocks without a receipt with seq >= fromSeq, in seq order. */
  async unreceipted(fromSeq: number, limit: number): Promise<StoredBlock[]> {
    const rows = await this.db.all<BlockRow>(
      `${SELECT_BLOCK} WHERE b.receipt IS NULL AND b.seq >= ? ORDER BY b.seq LIMIT ?`,
      [fromSeq, limit],
    );
    return rows.map(blockOf);
  }

  /** How many sealed blocks lack a receipt, and when the oldest of them was sealed. */
  async unreceiptedSummary(): Promise<{ blocks: number; oldestSealedAt: number | undefined }> {
    const n = await this.db.get<{ n: number }>(
      'SELECT count(*) AS n FROM blocks WHERE receipt IS NULL',
    );
    const oldest = await this.db.get<{ sealed_at: number }>(
      'SELECT sealed_at FROM blocks WHERE receipt IS NULL ORDER BY seq LIMIT 1',
    );
    return { blocks: n?.n ?? 0, oldestSealedAt: oldest?.sealed_at };
  }

  /**
   * Blocks to (re)submit from `fromSeq` on, in seq order: those without a receipt, and
   * also receipted ones below `resendBelow` (a notary that asked for them again).
   */
  async toSubmit(fromSeq: number, resendBelow: number, limit: number): Promise<StoredBlock[]> {
    const rows = await this.db.all<BlockRow>(
      `${SELECT_BLOCK} WHERE b.seq >= ? AND (b.receipt IS NULL OR b.seq < ?) ORDER BY b.seq LIMIT ?`,
      [fromSeq, resendBelow, limit],
    );
    return rows.map(blockOf);
  }

  async block(seq: number): Promise<StoredBlock | undefined> {
    const row = await this.db.get<BlockRow>(`${SELECT_BLOCK} WHERE b.seq = ?`, [seq]);
    return row ? blockOf(row) : undefined;
  }

  /**
   * Every device the gateway knows (registered, or seen through an external broker):
   * when it was registered, its last sequence number, its last reading still spooled
   * (readings are pruned after their receipt and the retention window) and the last
   * block holding one of its readings. Never a reading's content.
   */
  async deviceActivity(limit: number): Promise<DeviceActivity[]> {
    const rows = await this.db.all<{
      id: string;
      created_at: number | null;
      last_seq: number | null;
      last_received: number | null;
      last_block: number | null;
    }>(
      `WITH ids AS (SELECT id FROM devices UNION SELECT device_id FROM device_seq)
       SELECT ids.id, d.created_at, s.last_seq,
         (SELECT max(received_at) FROM readings r WHERE r.device_id = ids.id) AS last_received,
         (SELECT max(block_seq) FROM block_devices b WHERE b.device_id = ids.id) AS last_block
       FROM ids LEFT JOIN devices d ON d.id = ids.id LEFT JOIN device_seq s ON s.device_id = ids.id
       ORDER BY ids.id LIMIT ?`,
      [limit],
    );
    return rows.map((r) => ({
      id: r.id,
      registeredAt: r.created_at ?? undefined,
      lastSeq: r.last_seq ?? undefined,
      lastReceivedAt: r.last_received ?? undefined,
      lastBlock: r.last_block ?? undefined,
    }));
  }

  /** Stores a verified receipt; false when the block already had one. */
  async storeReceipt(seq: number, receipt: Uint8Array, at: number): Promise<boolean> {
    const res = await this.db.transaction(async (tx) => {
      const r = await tx.run(
        'UPDATE blocks SET receipt = ?, receipt_at = ? WHERE seq = ? AND receipt IS NULL',
        [receipt, at, seq],
      );
      if (r.changes === 0) return undefined;
      return tx.get<{ n: number; b: number | null }>(
        'SELECT count(*) AS n, sum(length(bytes)) AS b FROM readings WHERE block_seq = ?',
        [seq],
      );
    });
    if (!res) return false;
    this.#backlog.readings -= res.n;
    this.#backlog.bytes -= res.b ?? 0;
    return true;
  }

  /** Deletes readings whose block was receipted before `receiptBefore` (ms). */
  async prune(receiptBefore: number): Promise<number> {
    const r = await this.db.run(
      `DELETE FROM readings WHERE block_seq IN
         (SELECT seq FROM blocks WHERE receipt_at IS NOT NULL AND receipt_at < ?)`,
      [receiptBefore],
    );
    return r.changes;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

const SELECT_BLOCK =
  'SELECT b.seq, b.prev, b.hash, b.bytes, b.count, b.sealed_at, b.receipt, e.seq IS NOT NULL AS erased FROM blocks b LEFT JOIN erasures e ON e.seq = b.seq';

interface BlockRow {
  erased: number;
  seq: number;
  prev: Uint8Array;
  hash: Uint8Array;
  bytes: Uint8Array;
  count: number;
  sealed_at: number;
  receipt: Uint8Array | null;
}

function blockOf(r: BlockRow): StoredBlock {
  return {
    seq: r.seq,
    prev: u8(r.prev),
    hash: u8(r.hash),
    bytes: u8(r.bytes),
    count: r.count,
    sealedAt: r.sealed_at,
    receipt: r.receipt ? u8(r.receipt) : null,
    erased: r.erased === 1,
  };
}

/**
 * Rows per multi-row statement: 4 parameters each, far below SQLite's 32766, and few
 * distinct statement texts for the connection's prepared-statement cache.
 */
const ROWS_PER_STATEMENT = 250;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) {
    out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  }
  return out;
}

const keyOf = (deviceId: string, seq: number) => `${seq}\u0000${deviceId}`;

/**
 * A group commit's readings in a few statements, not three per reading: each statement
 * is a trip to libuv's pool, and the connection (which the sealer shares) is held for
 * all of them (the benchmark's bottleneck, docs/GATEWAY.md step 3). Same outcomes as storing
 * the readings one by one in order: INSERT OR IGNORE keeps the first of a (device, seq),
 * RETURNING names the rows it stored, and gaps and late seqs follow each device's seqs
 * in batch order.
 */
async function insertAll(
  tx: Queryable,
  readings: readonly SpoolReading[],
): Promise<InsertResult[]> {
  // By position: the same object may be passed twice (a device that sent twice).
  const stored = new Set<number>();
  for (const [c, chunk] of chunks(readings).entries()) {
    const rows = await tx.all<{ device_id: string; seq: number }>(
      `INSERT OR IGNORE INTO readings (device_id, seq, received_at, bytes) VALUES ${chunk
        .map(() => '(?, ?, ?, ?)')
        .join(', ')} RETURNING device_id, seq`,
      chunk.flatMap((r) => [r.deviceId, r.seq, r.receivedAt, r.bytes]),
    );
    const inserted = new Set(rows.map((x) => keyOf(x.device_id, x.seq)));
    // The first reading of a (device, seq) in the batch is the one stored.
    chunk.forEach((r, j) => {
      if (inserted.delete(keyOf(r.deviceId, r.seq))) stored.add(c * ROWS_PER_STATEMENT + j);
    });
  }
  const last = new Map<string, number>();
  const devices = [...new Set([...stored].map((i) => readings[i]!.deviceId))];
  for (const chunk of chunks(devices)) {
    const rows = await tx.all<{ device_id: string; last_seq: number }>(
      `SELECT device_id, last_seq FROM device_seq WHERE device_id IN (${chunk.map(() => '?').join(', ')})`,
      chunk,
    );
    for (const row of rows) last.set(row.device_id, row.last_seq);
  }
  const moved = new Set<string>();
  const out: InsertResult[] = [];
  for (const [i, r] of readings.entries()) {
    if (!stored.has(i)) {
      const old = await tx.get<{ bytes: Uint8Array }>(
        'SELECT bytes FROM readings WHERE device_id = ? AND seq = ?',
        [r.deviceId, r.seq],
      );
      const same = old !== undefined && equalBytes(u8(old.bytes), r.bytes);
      out.push({ outcome: same ? 'duplicate' : 'conflict', gap: 0, late: false });
      continue;
    }
    const prev = last.get(r.deviceId);
    let gap = 0;
    const late = prev !== undefined && r.seq < prev;
    if (prev === undefined || r.seq > prev) {
      if (prev !== undefined) gap = r.seq - prev - 1;
      last.set(r.deviceId, r.seq);
      moved.add(r.deviceId);
    }
    out.push({ outcome: 'stored', gap, late });
  }
  for (const chunk of chunks([...moved])) {
    await tx.run(
      `INSERT INTO device_seq (device_id, last_seq) VALUES ${chunk.map(() => '(?, ?)').join(', ')}
       ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq`,
      chunk.flatMap((d) => [d, last.get(d) ?? 0]),
    );
  }
  return out;
}
