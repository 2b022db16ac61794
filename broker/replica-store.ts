/**
 * The replica's SQLite file: the notary's own chain schema (broker/chain-store.ts, so
 * the copy is exactly what the notary holds and broker/export.ts writes it unchanged)
 * plus `replica_forks`, the append-only fork evidence. synchronous=NORMAL: a commit
 * lost to a power cut is fetched again from the notary, never missing in a way that
 * verifies. A batch spans several of the chain store's transactions (entries, then
 * receipts, then erasures); `incomplete()` finds a batch cut short by a crash and the
 * replica completes it before following on.
 */

import { equalBytes } from '../core/bytes.js';
import { decodeDet, encodeDet } from '../core/det-cbor.js';
import { kidOfCertificate } from '../core/kid.js';
import { ChainStore } from './chain-store.js';
import { BrokerError } from './errors.js';
import { ReplicaCode, ReplicaError, refused } from './replica-errors.js';
import type { ForkEvidence, ForkReason } from './replica-evidence.js';
import type { VerifiedItem } from './replica-verify.js';

const appendOnly = (table: string) => `
CREATE TRIGGER IF NOT EXISTS ${table}_no_update BEFORE UPDATE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS ${table}_no_delete BEFORE DELETE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: DELETE refused'); END;`;

const REPLICA_SCHEMA = `
CREATE TABLE IF NOT EXISTS replica_forks (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  reason      TEXT NOT NULL,
  size        INTEGER NOT NULL,
  first_kind  TEXT NOT NULL CHECK (first_kind IN ('checkpoint', 'receipt')),
  first       BLOB NOT NULL,
  second      BLOB NOT NULL,
  proof       BLOB NOT NULL,
  detail      TEXT NOT NULL,
  detected_at INTEGER NOT NULL
);
${appendOnly('replica_forks')}
`;

export interface StoredFork extends ForkEvidence {
  readonly id: number;
  readonly detectedAt: number;
}

interface ForkRow {
  id: number;
  reason: string;
  size: number;
  first_kind: 'checkpoint' | 'receipt';
  first: Buffer;
  second: Buffer;
  proof: Buffer;
  detail: string;
  detected_at: number;
}

const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export class ReplicaStore {
  readonly chain: ChainStore;

  private constructor(chain: ChainStore) {
    this.chain = chain;
  }

  static async open(path: string): Promise<ReplicaStore> {
    const chain = await ChainStore.open(path, { synchronous: 'NORMAL' });
    try {
      await chain.db.exec(REPLICA_SCHEMA);
    } catch (err) {
      await chain.close();
      throw err;
    }
    return new ReplicaStore(chain);
  }

  /** Pins the notary id and Trent's root this copy follows; a mismatch is REPLICA_CONFIG. */
  async bind(rootDer: Uint8Array, notaryId: string): Promise<void> {
    try {
      await this.chain.setRoot(rootDer);
      await this.chain.setNotaryId(notaryId);
    } catch (err) {
      if (err instanceof BrokerError) throw new ReplicaError(ReplicaCode.Config, err.message);
      throw err;
    }
  }

  /** Stores verified items (they continue the chain at size+1): certificates, entries, receipts, erasures. */
  async append(items: readonly VerifiedItem[], at: number): Promise<void> {
    if (items.length === 0) return;
    const certs = new Map<string, Uint8Array>();
    for (const v of items)
      for (const c of v.certificates) certs.set(Buffer.from(c).toString('hex'), c);
    for (const der of certs.values())
      await this.chain.putCertificate(kidOfCertificate(der), der, at);
    // The chain store stamps one registeredAt per call: runs of equal times go together.
    for (let i = 0; i < items.length; ) {
      const t = items[i]!.entry.registeredAt;
      let j = i;
      while (j < items.length && items[j]!.entry.registeredAt === t) j++;
      const run = items.slice(i, j);
      const stored = await this.chain.append(
        run.map((v) => v.registration),
        t,
      );
      stored.forEach((s, k) => {
        if (!equalBytes(s.entryBytes, run[k]!.item.entry))
          throw refused('entry', s.height, 'the chain store encoded other entry bytes');
      });
      i = j;
    }
    await this.chain.putReceipts(
      items.map((v) => ({ height: v.item.height, receipt: v.item.receipt! })),
      at,
    );
    for (const v of items) {
      if (v.item.erased)
        await this.chain.eraseBody(v.item.height, v.item.erased.reason, v.item.erased.at);
    }
  }

  /** Heights a crash left without their receipt or erasure record (see the file comment). */
  async incomplete(): Promise<number[]> {
    const rows = await this.chain.db.all<{ height: number }>(
      `SELECT e.height FROM entries e
         LEFT JOIN receipts r ON r.height = e.height
         JOIN blocks b ON b.height = e.height
         LEFT JOIN erasures x ON x.height = e.height
       WHERE r.height IS NULL OR (length(b.body) = 0 AND x.height IS NULL)
       ORDER BY e.height`,
    );
    return rows.map((r) => r.height);
  }

  async recordFork(f: ForkEvidence, at: number): Promise<number> {
    const r = await this.chain.db.run(
      `INSERT INTO replica_forks (reason, size, first_kind, first, second, proof, detail, detected_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        f.reason,
        f.size,
        f.first.kind,
        f.first.bytes,
        f.second,
        encodeDet([...f.proof]),
        f.detail,
        at,
      ],
    );
    return r.lastId;
  }

  async forks(): Promise<StoredFork[]> {
    const rows = await this.chain.db.all<ForkRow>('SELECT * FROM replica_forks ORDER BY id');
    return rows.map((r) => ({
      id: r.id,
      reason: r.reason as ForkReason,
      size: r.size,
      first: { kind: r.first_kind, bytes: u8(r.first) },
      second: u8(r.second),
      proof: decodeDet(u8(r.proof), { maxDepth: 2 }) as Uint8Array[],
      detail: r.detail,
      detectedAt: r.detected_at,
    }));
  }

  close(): Promise<void> {
    return this.chain.close();
  }
}
