/**
 * Incremental verification of the chain feed, one height after the other, before
 * anything is stored: the per-height rules of docs/FORMAT-export.md §4.2, run by the
 * same code as the auditor's `medchain verify` (verify-entry.ts) with the same
 * certificate judge (export-judge.ts): the replica's judge finds certificates in its
 * store or at the notary, and reads the CRL Trent last published. The first failure
 * throws REPLICA_VERIFY naming its height and check.
 */
import type { Role } from '../ca/identity.js';
import { ZERO_HASH } from '../core/block.js';
import type { Entry } from '../core/entry.js';
import type { MerkleBuilder } from '../core/merkle-builder.js';
import type { GatewayState, Registration } from './chain-store.js';
import { Fail } from './export-fail.js';
import { CertJudge, type SignerKey } from './export-judge.js';
import { type ReplicaCheck, type ReplicaError, refused } from './replica-errors.js';
import type { FeedItem } from './replica-source.js';
import type { Trust } from './trust.js';
import { verifyEntry } from './verify-entry.js';

export interface VerifiedItem {
  readonly item: FeedItem;
  readonly entry: Entry;
  readonly entryHash: Uint8Array;
  readonly registration: Registration;
  /** Signing certificates this item relies on (submitter's, notary's), to keep. */
  readonly certificates: readonly Uint8Array[];
}

/** Where verification starts: the local chain's tip (the builder is advanced in place). */
export interface ChainTip {
  size: number;
  head: Uint8Array;
  readonly builder: MerkleBuilder;
  readonly gateway: (id: string) => GatewayState | undefined;
}

export interface ChainVerifierOptions {
  readonly notaryId: string;
  readonly trust: Trust;
  /** The DER of a signing certificate by kid (local copy first, then the notary). */
  readonly certificate: (kid: Uint8Array) => Promise<Uint8Array | undefined>;
  /** Roles whose blocks the notary registers (default gateway and notary, as verify does). */
  readonly submitterRoles?: readonly Role[];
}

const REPLICA_CHECKS: readonly string[] = [
  'entry',
  'internal',
  'certificate',
  'block',
  'erasure',
  'sequence',
  'receipt',
  'checkpoint',
];

/** A Fail of the shared rules as the replica reports it. */
function asRefusal(f: Fail, height: number): ReplicaError {
  const check = (REPLICA_CHECKS.includes(f.check) ? f.check : 'format') as ReplicaCheck;
  return refused(check, f.height ?? height, f.message);
}

export class ChainVerifier {
  readonly #o: ChainVerifierOptions;
  readonly #judge: CertJudge;

  constructor(o: ChainVerifierOptions) {
    this.#o = o;
    this.#judge = new CertJudge(o.trust.root, o.trust.skewMs, {
      certificate: o.certificate,
      crl: () => o.trust.crl,
    });
  }

  /**
   * Verifies `items` as heights tip.size+1, …, advancing `tip`: the verified prefix, and
   * the REPLICA_VERIFY error of the first item that failed. Stops (without error) before
   * the first item that has no receipt yet: it is stored only once signed.
   */
  async verifyRun(
    items: readonly FeedItem[],
    tip: ChainTip,
  ): Promise<{ verified: VerifiedItem[]; error: ReplicaError | undefined }> {
    const verified: VerifiedItem[] = [];
    const seqs = new Map<string, { seq: number; hash: Uint8Array }>();
    for (const item of items) {
      if (!item.receipt) break;
      try {
        const v = await this.#verify(item, tip, seqs);
        tip.size += 1;
        tip.head = v.entryHash;
        verified.push(v);
      } catch (err) {
        if (err instanceof Fail) return { verified, error: asRefusal(err, tip.size + 1) };
        throw err;
      }
    }
    return { verified, error: undefined };
  }

  async #verify(
    item: FeedItem,
    tip: ChainTip,
    seqs: Map<string, { seq: number; hash: Uint8Array }>,
  ): Promise<VerifiedItem> {
    const v = await verifyEntry(
      { ...item, erased: item.erased !== undefined },
      {
        size: tip.size,
        head: tip.head,
        builder: tip.builder,
        last: (id) => seqs.get(id) ?? this.#lastOf(tip, id),
      },
      {
        notaryId: this.#o.notaryId,
        judge: this.#judge,
        submitterRoles: this.#o.submitterRoles ?? ['gateway', 'notary'],
      },
    );
    const e = v.entry;
    seqs.set(e.submitter, { seq: v.header.seq, hash: v.internal });
    return {
      item,
      entry: e,
      entryHash: v.entryHash,
      certificates: v.notary ? [v.submitter.der, v.notary.der] : [v.submitter.der],
      registration: {
        gateway: e.submitter,
        seq: v.header.seq,
        kid: v.submitter.kid,
        signedHeader: item.signedHeader,
        bodyHash: v.header.bodyHash,
        body: item.body,
        internal: v.internal,
      },
    };
  }

  #lastOf(tip: ChainTip, id: string): { seq: number; hash: Uint8Array } {
    const g = tip.gateway(id);
    return g ? { seq: g.lastSeq, hash: g.lastHash } : { seq: 0, hash: ZERO_HASH };
  }

  /**
   * The notary's key for a receipt or checkpoint: the COSE kid's certificate, valid for
   * role notary and this notary's id at `at` (ms). Throws REPLICA_VERIFY naming `what`.
   */
  async notaryKey(
    cose: Uint8Array,
    at: number,
    height: number,
    what: 'receipt' | 'checkpoint',
  ): Promise<SignerKey> {
    try {
      return await this.#judge.signerOf(cose, ['notary'], this.#o.notaryId, at, what, height);
    } catch (err) {
      if (err instanceof Fail) throw refused(what, height, `notary certificate: ${err.message}`);
      throw err;
    }
  }
}
