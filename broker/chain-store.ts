/**
 * The notary's chain store: one narrow interface over SQLite (ops/sqlite.ts, WAL,
 * synchronous FULL), assembled from modules with one job each:
 *   chain-migrate  schema and versions        chain-load      verification at open
 *   chain-append   entries + Merkle nodes      chain-entries   entry and block reads
 *   merkle-log     node table, roots, proofs   chain-gateways  per-gateway state
 *   chain-receipts / chain-checkpoints / chain-anchors / chain-equivocations /
 *   chain-meta (notary id, Trent root, certificates) / chain-erasure.
 * Memory holds the chain's size, head, the running Merkle state (O(log n)) and the
 * gateway states; everything else is read on demand. Roots and proofs served for an
 * earlier size come from stored nodes and are checked against the entries' signed
 * log_root before they leave: an edited node yields an error, never a wrong proof.
 */
import { equalBytes } from '../core/bytes.js';
import { EMPTY_ROOT, leafHash } from '../core/merkle.js';
import type { MerkleBuilder } from '../core/merkle-builder.js';
import { verifyConsistency, verifyInclusion } from '../core/merkle-verify.js';
import type { SqliteDb, SqliteOptions } from '../ops/sqlite.js';
import * as anchors from './chain-anchors.js';
import { prepareAppend, writeAppend } from './chain-append.js';
import * as checkpoints from './chain-checkpoints.js';
import * as entries from './chain-entries.js';
import * as equivocations from './chain-equivocations.js';
import { eraseBody } from './chain-erasure.js';
import { loadGateways } from './chain-gateways.js';
import { loadChain } from './chain-load.js';
import * as meta from './chain-meta.js';
import { openChainDb } from './chain-migrate.js';
import * as receipts from './chain-receipts.js';
import { corrupt } from './chain-rows.js';
import type {
  Anchor,
  Equivocation,
  GatewayState,
  Registration,
  StoredBlock,
  StoredCheckpoint,
  StoredEntry,
} from './chain-types.js';
import { BrokerCode, BrokerError } from './errors.js';
import { MerkleLog } from './merkle-log.js';

export type {
  Anchor,
  Equivocation,
  GatewayState,
  Registration,
  StoredBlock,
  StoredCheckpoint,
  StoredEntry,
} from './chain-types.js';

const ZERO: Uint8Array = new Uint8Array(32);

export class ChainStore {
  readonly db: SqliteDb;
  readonly #log: MerkleLog;
  #head: Uint8Array;
  readonly #gateways: Map<string, GatewayState>;
  #closed = false;

  private constructor(
    db: SqliteDb,
    log: MerkleLog,
    head: Uint8Array,
    gateways: Map<string, GatewayState>,
  ) {
    this.db = db;
    this.#log = log;
    this.#head = head;
    this.#gateways = gateways;
  }

  /**
   * Opens (creating if needed) the chain database and verifies it (chain-load.ts): a
   * database edited by hand fails here with the first bad height. A schema 1 database
   * gets its Merkle node table built on the way.
   */
  static async open(path: string, opts: SqliteOptions = {}): Promise<ChainStore> {
    const { db, buildNodes } = await openChainDb(path, opts);
    try {
      const { builder, head } = await loadChain(db, buildNodes);
      return new ChainStore(db, new MerkleLog(db, builder), head, await loadGateways(db));
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  #check(): void {
    if (this.#closed) throw new BrokerError(BrokerCode.Closed, 'the chain store is closed');
  }

  get size(): number {
    return this.#log.size;
  }

  /** H(size), ZERO_HASH for the empty chain. */
  get head(): Uint8Array {
    return this.#head;
  }

  root(): Uint8Array {
    return this.#log.root();
  }

  /** Size, head and root of the committed chain, read together. */
  snapshot(): { size: number; head: Uint8Array; root: Uint8Array } {
    return { size: this.size, head: this.#head, root: this.root() };
  }

  /** The log's frontier at the committed size, a copy a follower can extend (replica). */
  logBuilder(): MerkleBuilder {
    return this.#log.draft();
  }

  /** MTH(H(1..size)) for any size up to the current one. */
  async rootAt(size: number): Promise<Uint8Array> {
    this.#assertSize('size', size);
    if (size === 0) return EMPTY_ROOT.slice();
    if (size === this.size) return this.root();
    const [computed, stored] = await Promise.all([
      this.#log.rootAt(size),
      entries.entryHashes(this.db, size),
    ]);
    if (!stored) throw corrupt(size, 'entry is missing');
    if (!equalBytes(computed, stored.logRoot)) {
      throw corrupt(size, 'merkle nodes disagree with log_root');
    }
    return computed;
  }

  /** H(size), ZERO_HASH for size 0. */
  async headAt(size: number): Promise<Uint8Array> {
    this.#assertSize('size', size);
    if (size === 0) return ZERO;
    if (size === this.size) return this.#head;
    const e = await entries.entryHashes(this.db, size);
    if (!e) throw corrupt(size, 'entry is missing');
    return e.entryHash;
  }

  /** The Merkle leaf of entry `height`: leafHash(H(height)). */
  async leafHashAt(height: number): Promise<Uint8Array> {
    this.#assertSize('height', height, 1);
    return leafHash(await this.headAt(height));
  }

  /** RFC 9162 inclusion proof of entry `height` in the tree of `size` (default: now). */
  async inclusionProof(height: number, size = this.size): Promise<Uint8Array[]> {
    this.#assertSize('size', size, 1);
    if (!Number.isSafeInteger(height) || height < 1 || height > size) {
      throw new BrokerError(BrokerCode.BadRequest, `height: 1..${size}, got ${height}`);
    }
    const [proof, leaf, root] = await Promise.all([
      this.#log.inclusionProof(height - 1, size),
      this.leafHashAt(height),
      this.rootAt(size),
    ]);
    if (!verifyInclusion(height - 1, size, leaf, proof, root).ok) {
      throw corrupt(size, `merkle nodes give a wrong inclusion proof for height ${height}`);
    }
    return proof;
  }

  async consistencyProof(from: number, to = this.size): Promise<Uint8Array[]> {
    this.#assertSize('to', to);
    this.#assertSize('from', from);
    if (from > to) throw new BrokerError(BrokerCode.BadRequest, `from ${from} > to ${to}`);
    const [proof, root1, root2] = await Promise.all([
      this.#log.consistencyProof(from, to),
      this.rootAt(from),
      this.rootAt(to),
    ]);
    if (!verifyConsistency(from, to, root1, root2, proof).ok) {
      throw corrupt(to, `merkle nodes give a wrong consistency proof from size ${from}`);
    }
    return proof;
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
   * log_root), blocks, Merkle nodes and gateway state. Throws (and changes nothing) if
   * any insert fails. The caller has verified each block and its place in its
   * gateway's sequence.
   */
  async append(regs: readonly Registration[], registeredAt: number): Promise<StoredEntry[]> {
    this.#check();
    if (regs.length === 0) return [];
    const p = prepareAppend(regs, registeredAt, this.#head, this.#log.draft());
    await writeAppend(this.db, regs, p, registeredAt);
    // Committed: only now does the in-memory state move.
    this.#log.commit(p.log);
    this.#head = p.entries.at(-1)!.entryHash;
    for (const [gw, s] of p.gateways) this.#gateways.set(gw, s);
    return p.entries;
  }

  entry(height: number): Promise<StoredEntry | undefined> {
    return entries.entryAt(this.db, height);
  }

  entryByInternal(internal: Uint8Array): Promise<StoredEntry | undefined> {
    return entries.entryByInternal(this.db, internal);
  }

  entries(from: number, to: number): Promise<StoredEntry[]> {
    return entries.entryRange(this.db, from, to);
  }

  block(height: number): Promise<StoredBlock | undefined> {
    return entries.blockAt(this.db, height);
  }

  blockBySeq(gateway: string, seq: number): Promise<StoredBlock | undefined> {
    return entries.blockBySeq(this.db, gateway, seq);
  }

  /** A gateway's registered blocks from seq `fromSeq` on (at most `limit`), in seq order. */
  gatewayBlocks(
    gateway: string,
    fromSeq: number,
    limit: number,
  ): Promise<{ height: number; seq: number; registeredAt: number }[]> {
    return entries.gatewayBlocks(this.db, gateway, fromSeq, limit);
  }

  /** The first height registered at or after `at` (ms since epoch). */
  firstHeightAt(at: number): Promise<number | undefined> {
    return entries.firstHeightAt(this.db, at);
  }

  /** Every gateway that has registered a block, with its last seq, h and height. */
  gatewayStates(): [string, GatewayState][] {
    return [...this.#gateways].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  receipt(height: number): Promise<Uint8Array | undefined> {
    return receipts.receiptAt(this.db, height);
  }

  /** Stores receipts; the first stored receipt of a height wins and is what is returned. */
  putReceipts(
    items: readonly { height: number; receipt: Uint8Array }[],
    at: number,
  ): Promise<Uint8Array[]> {
    this.#check();
    return receipts.putReceipts(this.db, items, at);
  }

  /** Heights without a receipt yet (after a crash between commit and sign). */
  unreceipted(): Promise<number[]> {
    return receipts.unreceipted(this.db);
  }

  putCheckpoint(size: number, checkpoint: Uint8Array, at: number): Promise<void> {
    this.#check();
    return checkpoints.putCheckpoint(this.db, size, checkpoint, at);
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return checkpoints.latestCheckpoint(this.db);
  }

  checkpoints(): Promise<{ size: number; checkpoint: Uint8Array }[]> {
    return checkpoints.allCheckpoints(this.db);
  }

  /** The `limit` most recent checkpoints, newest first. */
  recentCheckpoints(limit: number): Promise<StoredCheckpoint[]> {
    return checkpoints.recentCheckpoints(this.db, limit);
  }

  /** Records Trent's root (DER) so an export is self-contained; refuses to change it. */
  setRoot(der: Uint8Array): Promise<void> {
    return meta.setRoot(this.db, der);
  }

  /** Records the notary id this chain belongs to; refuses to change it. */
  setNotaryId(id: string): Promise<void> {
    return meta.setNotaryId(this.db, id);
  }

  notaryId(): Promise<string | undefined> {
    return meta.notaryId(this.db);
  }

  trustRoot(): Promise<Uint8Array | undefined> {
    return meta.trustRoot(this.db);
  }

  putCertificate(kid: Uint8Array, der: Uint8Array, at: number): Promise<void> {
    this.#check();
    return meta.putCertificate(this.db, kid, der, at);
  }

  certificates(): Promise<{ kid: Uint8Array; der: Uint8Array }[]> {
    return meta.allCertificates(this.db);
  }

  /** Keeps two different signed headers for one (gateway, seq) as evidence. */
  recordEquivocation(
    gateway: string,
    seq: number,
    registered: StoredBlock,
    conflictingHeader: Uint8Array,
    at: number,
  ): Promise<void> {
    this.#check();
    return equivocations.recordEquivocation(
      this.db,
      gateway,
      seq,
      registered,
      conflictingHeader,
      at,
    );
  }

  equivocations(): Promise<Equivocation[]> {
    return equivocations.allEquivocations(this.db);
  }

  anchors(): Promise<Anchor[]> {
    return anchors.allAnchors(this.db);
  }

  /** The `limit` most recent anchors, newest first. */
  recentAnchors(limit: number): Promise<Anchor[]> {
    return anchors.recentAnchors(this.db, limit);
  }

  lastAnchor(): Promise<Anchor | undefined> {
    return anchors.lastAnchor(this.db);
  }

  /** The first receipted anchor whose checkpoint covers `height`, for reading proofs. */
  anchorCovering(height: number): Promise<Anchor | undefined> {
    return anchors.anchorCovering(this.db, height);
  }

  /** The checkpoint size of the last anchor with a receipt (0 if none). */
  anchoredSize(): Promise<number> {
    return anchors.anchoredSize(this.db);
  }

  /** Stores an anchor block before it is sent upstream. */
  putAnchor(upstreamSeq: number, size: number, block: Uint8Array, at: number): Promise<void> {
    this.#check();
    return anchors.putAnchor(this.db, upstreamSeq, size, block, at);
  }

  /** Stores a pending anchor's receipt; its checkpoint size, or undefined if none was pending. */
  setAnchorReceipt(upstreamSeq: number, receipt: Uint8Array): Promise<number | undefined> {
    this.#check();
    return anchors.setAnchorReceipt(this.db, upstreamSeq, receipt);
  }

  /** Empties a block's body after logging why (DESIGN §3.8); see chain-erasure.ts. */
  eraseBody(height: number, reason: string, at: number): Promise<void> {
    this.#check();
    return eraseBody(this.db, height, reason, at);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.db.close();
  }
}
