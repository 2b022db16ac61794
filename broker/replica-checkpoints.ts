/**
 * Judging the notary's signed checkpoints (DESIGN §3.5: a notary must not show two
 * heads unnoticed). Each checkpoint is verified under the notary's certificate, then:
 *
 *   - same size as an accepted one but another head or root      → fork (same-size);
 *   - size within the local copy: it must name the copy's H(size) and MTH(H(1..size)),
 *     which every receipt already attested; otherwise → fork, against the smallest larger
 *     accepted checkpoint (not-prefix, with the consistency proof from the copy) or the
 *     receipt at that size (receipt);
 *   - size beyond the copy: the notary must prove it consistent with the last accepted
 *     checkpoint (RFC 9162 consistency proof, /proof/consistency); a proof that does not
 *     verify → fork (inconsistent); one that does → "ahead", judged again against the
 *     copy once the entries are in.
 */
import { equalBytes } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { verifyConsistency } from '../core/merkle-verify.js';
import { decodeCheckpointPayload, verifyCheckpoint } from '../core/receipt.js';
import { refused } from './replica-errors.js';
import type { ForkEvidence } from './replica-evidence.js';
import type { ChainVerifier } from './replica-verify.js';

export interface AcceptedCheckpoint {
  readonly size: number;
  readonly head: Uint8Array;
  readonly logRoot: Uint8Array;
  readonly time: number;
  readonly bytes: Uint8Array;
}

export type CheckpointVerdict =
  | { readonly kind: 'accepted'; readonly checkpoint: AcceptedCheckpoint }
  | { readonly kind: 'known' }
  | { readonly kind: 'ahead'; readonly checkpoint: AcceptedCheckpoint }
  | { readonly kind: 'fork'; readonly evidence: ForkEvidence };

/** The replica's verified copy, as far as checkpoints need it. */
export interface LocalLog {
  readonly size: number;
  headAt(size: number): Promise<Uint8Array>;
  rootAt(size: number): Promise<Uint8Array>;
  consistencyProof(from: number, to: number): Promise<Uint8Array[]>;
  receipt(height: number): Promise<Uint8Array | undefined>;
}

export interface CheckpointJudgeOptions {
  readonly notaryId: string;
  readonly verifier: ChainVerifier;
  /** The notary's consistency proof between two sizes (throws REPLICA_SOURCE if unreachable). */
  readonly consistency: (from: number, to: number) => Promise<Uint8Array[]>;
}

export class CheckpointJudge {
  readonly #o: CheckpointJudgeOptions;
  /**
   * The latest accepted checkpoint per size: all accepted ones of a size name the same tree
   * (the copy's), so one stands for them; memory grows with sizes, not with re-signings.
   */
  readonly #bySize = new Map<number, AcceptedCheckpoint>();
  #last: AcceptedCheckpoint | undefined;

  constructor(o: CheckpointJudgeOptions) {
    this.#o = o;
  }

  /** The last accepted checkpoint (largest size; latest among equals). */
  get last(): AcceptedCheckpoint | undefined {
    return this.#last;
  }

  /** Registers a checkpoint accepted earlier (read back from the database; verified then). */
  remember(bytes: Uint8Array): void {
    const m = decodeSign1(bytes);
    const p = m.ok ? decodeCheckpointPayload(m.msg.payload) : undefined;
    if (p?.ok) this.#add({ ...p.value, bytes });
  }

  #add(c: AcceptedCheckpoint): void {
    this.#bySize.set(c.size, c);
    if (!this.#last || c.size >= this.#last.size) this.#last = c;
  }

  async judge(bytes: Uint8Array, log: LocalLog): Promise<CheckpointVerdict> {
    const c = await this.#verify(bytes);
    const other = this.#bySize.get(c.size);
    if (other && equalBytes(other.bytes, bytes)) return { kind: 'known' };
    if (other && (!equalBytes(other.head, c.head) || !equalBytes(other.logRoot, c.logRoot))) {
      return this.#fork(
        'same-size',
        c,
        { kind: 'checkpoint', bytes: other.bytes },
        [],
        'two checkpoints of one size',
      );
    }
    if (c.size <= log.size) {
      const [head, root] = await Promise.all([log.headAt(c.size), log.rootAt(c.size)]);
      if (equalBytes(head, c.head) && equalBytes(root, c.logRoot)) {
        this.#add(c);
        return { kind: 'accepted', checkpoint: c };
      }
      const larger = this.#smallestAbove(c.size);
      if (larger) {
        return this.#fork(
          'not-prefix',
          c,
          { kind: 'checkpoint', bytes: larger.bytes },
          [root, ...(await log.consistencyProof(c.size, larger.size))],
          `the tree of size ${larger.size} has another root at size ${c.size}`,
        );
      }
      const receipt = c.size > 0 ? await log.receipt(c.size) : undefined;
      if (!receipt) throw refused('checkpoint', c.size, 'names another tree than the copy');
      return this.#fork(
        'receipt',
        c,
        { kind: 'receipt', bytes: receipt },
        [],
        'the receipt at this size names another head or root',
      );
    }
    const last = this.#last;
    if (last && last.size > 0) {
      const proof = await this.#o.consistency(last.size, c.size);
      const v = verifyConsistency(last.size, c.size, last.logRoot, c.logRoot, proof);
      if (!v.ok) {
        return this.#fork(
          'inconsistent',
          c,
          { kind: 'checkpoint', bytes: last.bytes },
          proof,
          `${v.check}: ${v.detail}`,
        );
      }
    }
    return { kind: 'ahead', checkpoint: c };
  }

  #smallestAbove(size: number): AcceptedCheckpoint | undefined {
    let best: AcceptedCheckpoint | undefined;
    for (const [s, c] of this.#bySize) {
      if (s > size && (!best || s < best.size)) best = c;
    }
    return best;
  }

  #fork(
    reason: ForkEvidence['reason'],
    c: AcceptedCheckpoint,
    first: ForkEvidence['first'],
    proof: readonly Uint8Array[],
    detail: string,
  ): CheckpointVerdict {
    return {
      kind: 'fork',
      evidence: { reason, size: c.size, first, second: c.bytes, proof, detail },
    };
  }

  async #verify(bytes: Uint8Array): Promise<AcceptedCheckpoint> {
    const m = decodeSign1(bytes);
    const p = m.ok ? decodeCheckpointPayload(m.msg.payload) : undefined;
    if (!p?.ok) throw refused('checkpoint', 0, `unreadable: ${p ? p.detail : 'not COSE_Sign1'}`);
    const { size, time } = p.value;
    const key = await this.#o.verifier.notaryKey(bytes, time, size, 'checkpoint');
    const v = verifyCheckpoint(bytes, key.key, key.kid);
    if (!v.ok) throw refused('checkpoint', size, `${v.check}: ${v.detail}`);
    if (v.value.notaryId !== this.#o.notaryId)
      throw refused('checkpoint', size, `signed for notary '${v.value.notaryId}'`);
    return { ...v.value, bytes };
  }
}
