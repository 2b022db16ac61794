/**
 * The notary's chain store: one narrow interface over SQLite (ops/sqlite.ts, WAL,
 * synchronous FULL). Appending a batch of registrations writes entries, blocks and
 * per-gateway state in ONE transaction; the in-memory Merkle log (leaf hashes of
 * H(1..n) plus a MerkleBuilder for the running root) is advanced only after COMMIT,
 * so it never runs ahead of what is durable. Proofs are computed with core's RFC 9162
 * functions over the leaf hashes (O(n) hashing per proof: fine to millions of entries).
 */
import { equalBytes } from '../core/bytes.js';
import { type Entry, encodeEntry, entryHash } from '../core/entry.js';
import { leafHash, merkleRoot } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { consistencyProof, inclusionProof } from '../core/merkle-proof.js';
import { type Queryable, SqliteDb, type SqliteOptions } from '../ops/sqlite.js';
import {
  type BlockRow,
  corrupt,
  type EntryRow,
  toStoredBlock,
  toStoredEntry,
  u8,
} from './chain-rows.js';
import { SCHEMA, SCHEMA_VERSION } from './chain-schema.js';
import { BrokerCode, BrokerError } from './errors.js';

const ZERO: Uint8Array = new Uint8Array(32);

export interface GatewayState {
  readonly lastSeq: number;
  readonly lastHash: Uint8Array;
  readonly lastHeight: number;
}

/** One verified block to register. */
export interface Registration {
  readonly gateway: string;
  readonly seq: number;
  readonly kid: Uint8Array;
  readonly signedHeader: Uint8Array;
  readonly bodyHash: Uint8Array;
  readonly body: Uint8Array;
  /** h(n) = internalHash(signedHeader). */
  readonly internal: Uint8Array;
}

export interface StoredEntry {
  readonly height: number;
  readonly entry: Entry;
  readonly entryBytes: Uint8Array;
  readonly entryHash: Uint8Array;
  readonly logRoot: Uint8Array;
}

export interface StoredBlock {
  readonly height: number;
  readonly gateway: string;
  readonly seq: number;
  readonly kid: Uint8Array;
  readonly signedHeader: Uint8Array;
  readonly bodyHash: Uint8Array;
  readonly body: Uint8Array;
  readonly erased: { readonly at: number; readonly reason: string } | undefined;
}

export class ChainStore {
  readonly db: SqliteDb;
  /** RFC 9162 leaf hashes of H(1..n): index i holds leafHash(H(i+1)). */
  readonly #leaves: Uint8Array[] = [];
  readonly #heads: Uint8Array[] = [];
  #builder = new MerkleBuilder();
  readonly #gateways = new Map<string, GatewayState>();
  #closed = false;

  private constructor(db: SqliteDb) {
    this.db = db;
  }

  /**
   * Opens (creating if needed) the chain database and rebuilds the Merkle log from the
   * entries, checking each stored log_root and prev link on the way: a database edited
   * by hand fails here with the first bad height.
   */
  static async open(path: string, opts: SqliteOptions = {}): Promise<ChainStore> {
    const db = await SqliteDb.open(path, { synchronous: 'FULL', ...opts });
    const store = new ChainStore(db);
    try {
      await db.exec(SCHEMA);
      const v = await db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'schema'");
      if (!v) await db.run("INSERT INTO meta (k, v) VALUES ('schema', ?)", [SCHEMA_VERSION]);
      else if (v.v !== SCHEMA_VERSION) {
        throw new BrokerError(
          BrokerCode.Store,
          `${path}: schema ${v.v}, this notary reads ${SCHEMA_VERSION}`,
        );
      }
      await store.#load();
    } catch (err) {
      await db.close();
      throw err;
    }
    return store;
  }

  async #load(): Promise<void> {
    const rows = await this.db.all<EntryRow>('SELECT * FROM entries ORDER BY height');
    let prev = ZERO;
    for (const r of rows) {
      const h = r.height;
      if (h !== this.#leaves.length + 1) throw corrupt(h, 'heights are not contiguous');
      const bytes = u8(r.entry);
      const hash = entryHash(bytes);
      if (!equalBytes(hash, u8(r.entry_hash))) throw corrupt(h, 'entry_hash is not H(entry)');
      const expect = encodeEntry({
        height: h,
        prev,
        internal: u8(r.internal),
        submitter: r.submitter,
        registeredAt: r.registered_at,
      });
      if (!equalBytes(expect, bytes)) throw corrupt(h, 'entry bytes disagree with its columns');
      this.#append(hash);
      if (!equalBytes(this.#builder.root(), u8(r.log_root))) {
        throw corrupt(h, 'log_root is not the Merkle root over H(1..n)');
      }
      prev = hash;
    }
    const gws = await this.db.all<{
      gateway: string;
      last_seq: number;
      last_hash: Buffer;
      last_height: number;
    }>('SELECT * FROM gateways');
    for (const g of gws) {
      this.#gateways.set(g.gateway, {
        lastSeq: g.last_seq,
        lastHash: u8(g.last_hash),
        lastHeight: g.last_height,
      });
    }
  }

  #append(hash: Uint8Array): void {
    const leaf = leafHash(hash);
    this.#leaves.push(leaf);
    this.#heads.push(hash);
    this.#builder.append(leaf);
  }

  #check(): void {
    if (this.#closed) throw new BrokerError(BrokerCode.Closed, 'the chain store is closed');
  }

  get size(): number {
    return this.#leaves.length;
  }

  /** H(size), ZERO_HASH for the empty chain. */
  get head(): Uint8Array {
    return this.#heads[this.#heads.length - 1] ?? ZERO;
  }

  root(): Uint8Array {
    return this.#builder.root();
  }

  /** MTH(H(1..size)) for any size up to the current one. */
  rootAt(size: number): Uint8Array {
    this.#assertSize('size', size);
    return size === this.size ? this.root() : merkleRoot(this.#leaves, 0, size);
  }

  headAt(size: number): Uint8Array {
    this.#assertSize('size', size);
    return size === 0 ? ZERO : this.#heads[size - 1]!;
  }

  leafHashAt(height: number): Uint8Array {
    this.#assertSize('height', height, 1);
    return this.#leaves[height - 1]!;
  }

  /** RFC 9162 inclusion proof of entry `height` in the tree of `size` (default: now). */
  inclusionProof(height: number, size = this.size): Uint8Array[] {
    this.#assertSize('size', size, 1);
    if (!Number.isSafeInteger(height) || height < 1 || height > size) {
      throw new BrokerError(BrokerCode.BadRequest, `height: 1..${size}, got ${height}`);
    }
    return inclusionProof(this.#leaves, height - 1, size);
  }

  consistencyProof(from: number, to = this.size): Uint8Array[] {
    this.#assertSize('to', to);
    this.#assertSize('from', from);
    if (from > to) throw new BrokerError(BrokerCode.BadRequest, `from ${from} > to ${to}`);
    return consistencyProof(this.#leaves, from, to);
  }

  #assertSize(name: string, n: number, min = 0): void {
    if (!Number.isSafeInteger(n) || n < min || n > this.size) {
      throw new BrokerError(BrokerCode.BadRequest, `${name}: ${min}..${this.size}, got ${n}`);
    }
  }

  gateway(id: string): GatewayState | undefined {
    return this.#gateways.get(id);
  }

  /**
   * Registers blocks as entries size+1.. in one transaction: entries (H chained,
   * log_root), blocks and gateway state. Throws (and changes nothing) if any insert fails.
   * The caller has verified each block and its place in its gateway's sequence.
   */
  async append(regs: readonly Registration[], registeredAt: number): Promise<StoredEntry[]> {
    this.#check();
    if (regs.length === 0) return [];
    const builder = MerkleBuilder.fromState(this.#builder.state());
    const out: StoredEntry[] = [];
    const gws = new Map<string, GatewayState>();
    let prev = this.head;
    for (const r of regs) {
      const height = this.size + out.length + 1;
      const entry: Entry = {
        height,
        prev,
        internal: r.internal,
        submitter: r.gateway,
        registeredAt,
      };
      const entryBytes = encodeEntry(entry);
      const hash = entryHash(entryBytes);
      builder.append(leafHash(hash));
      out.push({ height, entry, entryBytes, entryHash: hash, logRoot: builder.root() });
      gws.set(r.gateway, { lastSeq: r.seq, lastHash: r.internal, lastHeight: height });
      prev = hash;
    }
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < regs.length; i++) {
        const r = regs[i]!;
        const e = out[i]!;
        await tx.run(
          'INSERT INTO entries (height, entry, entry_hash, internal, submitter, registered_at, log_root) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [e.height, e.entryBytes, e.entryHash, r.internal, r.gateway, registeredAt, e.logRoot],
        );
        await tx.run(
          'INSERT INTO blocks (height, gateway, seq, kid, signed_header, body_hash, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [e.height, r.gateway, r.seq, r.kid, r.signedHeader, r.bodyHash, r.body],
        );
      }
      for (const [gw, s] of gws) {
        await tx.run(
          `INSERT INTO gateways (gateway, last_seq, last_hash, last_height) VALUES (?, ?, ?, ?)
           ON CONFLICT (gateway) DO UPDATE SET last_seq = excluded.last_seq,
             last_hash = excluded.last_hash, last_height = excluded.last_height`,
          [gw, s.lastSeq, s.lastHash, s.lastHeight],
        );
      }
    });
    // Committed: only now does the in-memory log move.
    for (const e of out) {
      this.#leaves.push(leafHash(e.entryHash));
      this.#heads.push(e.entryHash);
    }
    this.#builder = builder;
    for (const [gw, s] of gws) this.#gateways.set(gw, s);
    return out;
  }

  async entry(height: number): Promise<StoredEntry | undefined> {
    const r = await this.db.get<EntryRow>('SELECT * FROM entries WHERE height = ?', [height]);
    return r ? withPrev(toStoredEntry(r), height, this) : undefined;
  }

  async entryByInternal(internal: Uint8Array): Promise<StoredEntry | undefined> {
    const r = await this.db.get<EntryRow>('SELECT * FROM entries WHERE internal = ?', [internal]);
    return r ? withPrev(toStoredEntry(r), r.height, this) : undefined;
  }

  async entries(from: number, to: number): Promise<StoredEntry[]> {
    const rows = await this.db.all<EntryRow>(
      'SELECT * FROM entries WHERE height BETWEEN ? AND ? ORDER BY height',
      [from, to],
    );
    return rows.map((r) => withPrev(toStoredEntry(r), r.height, this));
  }

  async block(height: number): Promise<StoredBlock | undefined> {
    const r = await this.db.get<BlockRow>(
      `SELECT b.*, e.erased_at, e.reason FROM blocks b LEFT JOIN erasures e USING (height)
       WHERE b.height = ?`,
      [height],
    );
    return r ? toStoredBlock(r) : undefined;
  }

  async blockBySeq(gateway: string, seq: number): Promise<StoredBlock | undefined> {
    const r = await this.db.get<BlockRow>(
      `SELECT b.*, e.erased_at, e.reason FROM blocks b LEFT JOIN erasures e USING (height)
       WHERE b.gateway = ? AND b.seq = ?`,
      [gateway, seq],
    );
    return r ? toStoredBlock(r) : undefined;
  }

  async receipt(height: number): Promise<Uint8Array | undefined> {
    const r = await this.db.get<{ receipt: Buffer }>(
      'SELECT receipt FROM receipts WHERE height = ?',
      [height],
    );
    return r ? u8(r.receipt) : undefined;
  }

  /**
   * Stores receipts (one transaction). A height that already has one keeps it: the
   * stored receipt is returned for every height, so every answer names the same bytes.
   */
  async putReceipts(
    items: readonly { height: number; receipt: Uint8Array }[],
    at: number,
  ): Promise<Uint8Array[]> {
    this.#check();
    return this.db.transaction(async (tx) => {
      const out: Uint8Array[] = [];
      for (const it of items) {
        await tx.run(
          'INSERT INTO receipts (height, receipt, signed_at) VALUES (?, ?, ?) ON CONFLICT (height) DO NOTHING',
          [it.height, it.receipt, at],
        );
        const r = await tx.get<{ receipt: Buffer }>(
          'SELECT receipt FROM receipts WHERE height = ?',
          [it.height],
        );
        out.push(u8(r!.receipt));
      }
      return out;
    });
  }

  /** Heights at or above `from` that have no receipt yet (after a crash between commit and sign). */
  async unreceipted(): Promise<number[]> {
    const rows = await this.db.all<{ height: number }>(
      'SELECT e.height FROM entries e LEFT JOIN receipts r USING (height) WHERE r.height IS NULL ORDER BY e.height',
    );
    return rows.map((r) => r.height);
  }

  async putCheckpoint(size: number, checkpoint: Uint8Array, at: number): Promise<void> {
    this.#check();
    await this.db.run('INSERT INTO checkpoints (size, checkpoint, created_at) VALUES (?, ?, ?)', [
      size,
      checkpoint,
      at,
    ]);
  }

  async latestCheckpoint(): Promise<
    { size: number; checkpoint: Uint8Array; at: number } | undefined
  > {
    const r = await this.db.get<{ size: number; checkpoint: Buffer; created_at: number }>(
      'SELECT size, checkpoint, created_at FROM checkpoints ORDER BY id DESC LIMIT 1',
    );
    return r ? { size: r.size, checkpoint: u8(r.checkpoint), at: r.created_at } : undefined;
  }

  async checkpoints(): Promise<{ size: number; checkpoint: Uint8Array }[]> {
    const rows = await this.db.all<{ size: number; checkpoint: Buffer }>(
      'SELECT size, checkpoint FROM checkpoints ORDER BY id',
    );
    return rows.map((r) => ({ size: r.size, checkpoint: u8(r.checkpoint) }));
  }

  /** Records Trent's root (DER) so an export is self-contained; refuses to change it. */
  async setRoot(der: Uint8Array): Promise<void> {
    const hex = Buffer.from(der).toString('hex');
    const r = await this.db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'root'");
    if (!r) await this.db.run("INSERT INTO meta (k, v) VALUES ('root', ?)", [hex]);
    else if (r.v !== hex) {
      throw new BrokerError(
        BrokerCode.Store,
        'this chain was registered under another Trent root; refusing to mix trust anchors',
      );
    }
  }

  /** Records the notary id this chain belongs to; refuses to change it. */
  async setNotaryId(id: string): Promise<void> {
    const r = await this.db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'notary_id'");
    if (!r) await this.db.run("INSERT INTO meta (k, v) VALUES ('notary_id', ?)", [id]);
    else if (r.v !== id) {
      throw new BrokerError(BrokerCode.Store, `this chain belongs to notary '${r.v}', not '${id}'`);
    }
  }

  async notaryId(): Promise<string | undefined> {
    return (await this.db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'notary_id'"))?.v;
  }

  async trustRoot(): Promise<Uint8Array | undefined> {
    const r = await this.db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'root'");
    return r ? new Uint8Array(Buffer.from(r.v, 'hex')) : undefined;
  }

  async putCertificate(kid: Uint8Array, der: Uint8Array, at: number): Promise<void> {
    this.#check();
    await this.db.run(
      'INSERT INTO certificates (kid, der, added_at) VALUES (?, ?, ?) ON CONFLICT (kid) DO NOTHING',
      [kid, der, at],
    );
  }

  async certificates(): Promise<{ kid: Uint8Array; der: Uint8Array }[]> {
    const rows = await this.db.all<{ kid: Buffer; der: Buffer }>(
      'SELECT kid, der FROM certificates ORDER BY added_at, kid',
    );
    return rows.map((r) => ({ kid: u8(r.kid), der: u8(r.der) }));
  }

  /** Keeps two different signed headers for one (gateway, seq) as evidence. */
  async recordEquivocation(
    gateway: string,
    seq: number,
    registered: StoredBlock,
    conflictingHeader: Uint8Array,
    at: number,
  ): Promise<void> {
    this.#check();
    await this.db.run(
      `INSERT INTO equivocations (gateway, seq, registered_height, registered_header, conflicting_header, detected_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [gateway, seq, registered.height, registered.signedHeader, conflictingHeader, at],
    );
  }

  async equivocations(): Promise<
    {
      gateway: string;
      seq: number;
      height: number;
      registered: Uint8Array;
      conflicting: Uint8Array;
    }[]
  > {
    const rows = await this.db.all<{
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

  async anchors(): Promise<
    { upstreamSeq: number; size: number; block: Uint8Array; receipt: Uint8Array | undefined }[]
  > {
    const rows = await this.db.all<{
      upstream_seq: number;
      size: number;
      block: Buffer;
      receipt: Buffer | null;
    }>('SELECT * FROM anchors ORDER BY upstream_seq');
    return rows.map((r) => ({
      upstreamSeq: r.upstream_seq,
      size: r.size,
      block: u8(r.block),
      receipt: r.receipt ? u8(r.receipt) : undefined,
    }));
  }

  /**
   * The one permitted mutation (DESIGN §3.8): logs the erasure, then empties the body.
   * Header, entry, receipts and the chain are untouched and still verify; verification
   * reports the body as erased. Idempotent for an already erased block.
   */
  async eraseBody(height: number, reason: string, at: number): Promise<void> {
    this.#check();
    if (reason.trim().length === 0) {
      throw new BrokerError(BrokerCode.BadRequest, 'an erasure needs a reason (logged for audit)');
    }
    await this.db.transaction(async (tx: Queryable) => {
      const b = await tx.get<{ height: number }>('SELECT height FROM blocks WHERE height = ?', [
        height,
      ]);
      if (!b) throw new BrokerError(BrokerCode.BadRequest, `no block at height ${height}`);
      const done = await tx.get<{ height: number }>(
        'SELECT height FROM erasures WHERE height = ?',
        [height],
      );
      if (done) return;
      await tx.run(
        'INSERT INTO erasures (height, erased_at, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        [height, at, reason],
      );
      await tx.run("UPDATE blocks SET body = x'' WHERE height = ?", [height]);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.db.close();
  }
}

function withPrev(e: StoredEntry, height: number, store: ChainStore): StoredEntry {
  return { ...e, entry: { ...e.entry, prev: store.headAt(height - 1) } };
}
